"""Text normalisation and sentence splitting shared by the corpus, training and serving.

The corpus was split with exactly this code, so a model sees at serving time the same
sentence boundaries it was trained on. Bump ``NORMALIZATION_VERSION`` whenever the output
of :func:`normalize` or :func:`split_sentences` can change for some input.

Example:
    >>> [s.text for s in split_sentences("Kim met Putin. They talked.")]
    ['Kim met Putin.', 'They talked.']
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import sentencex

NORMALIZATION_VERSION = "2"

# sentencex is rule based; it needs only a language code. English is the corpus language,
# and its rules still segment other scripts sensibly (no error, just coarser sentences).
_LANGUAGE = "en"
_SPACE = re.compile(r"\s+")
# A sentence longer than this is cut into pieces before splitting: pathological input
# (a megabyte with no full stop) must not cost quadratic time or unbounded memory.
MAX_SENTENCE_CHARS = 2000


@dataclass(frozen=True)
class Span:
    """A sentence and its character offsets into the original text (``text[start:end]``)."""

    text: str
    start: int
    end: int


def normalize(text: str) -> str:
    """Return ``text`` in Unicode NFC with runs of white space folded to one space.

    Example:
        >>> normalize("  Kim\\u00a0 met\\nPutin ")
        'Kim met Putin'
    """
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def split_sentences(text: str) -> list[Span]:
    """Split ``text`` into sentences, with offsets into ``text`` itself.

    White space around each sentence is left out of its span; empty pieces are dropped.
    Over-long stretches are cut at ``MAX_SENTENCE_CHARS`` so any input is split in
    linear time.

    Example:
        >>> split_sentences("Talks began.  Both sides met.")[1]
        Span(text='Both sides met.', start=14, end=29)
    """
    spans: list[Span] = []
    # Every line break ends a sentence: official texts, resolutions and pasted articles put
    # one clause or paragraph a line, often with no full stop ("Whereas ...;"), and
    # sentencex alone only breaks at blank lines.
    for line in _LINE.finditer(text):
        offset, line_end = line.start(), line.end()
        while offset < line_end:
            chunk_end = _chunk_end(text, offset, line_end)
            chunk = text[offset:chunk_end]
            for boundary in sentencex.get_sentence_boundaries(_LANGUAGE, chunk):
                spans.extend(_trimmed_pieces(text, offset + boundary["start_index"], offset + boundary["end_index"]))
            offset = chunk_end
    return spans


_LINE = re.compile(r"[^\n\r\u2028\u2029\x85]+")


# Long documents are handed to the splitter in chunks, so its memory stays bounded
# whatever the input's size. Chunks end at a line end, else after a full stop, else at a
# space, so a cut rarely falls inside a sentence.
_CHUNK_CHARS = 50_000


def _chunk_end(text: str, offset: int, end: int) -> int:
    """Where the chunk that starts at ``offset`` (in a line ending at ``end``) should end."""
    limit = offset + _CHUNK_CHARS
    if limit >= end:
        return end
    for separator in (". ", " "):
        cut = text.rfind(separator, offset + _CHUNK_CHARS // 2, limit)
        if cut != -1:
            return cut + len(separator)
    return limit


def _trimmed_pieces(text: str, start: int, end: int) -> list[Span]:
    """Strip white space off ``text[start:end]`` and cut it into pieces of bounded length."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    pieces = []
    for piece_start in range(start, end, MAX_SENTENCE_CHARS):
        piece_end = min(piece_start + MAX_SENTENCE_CHARS, end)
        pieces.append(Span(text[piece_start:piece_end], piece_start, piece_end))
    return pieces
