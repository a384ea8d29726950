"""Stand-off annotation: labels that point into the source texts by document id and offsets.

One JSON Lines file per source, ``data/annotation/standoff/<source>.jsonl``, one line per
sentence: ``id``, ``doc_id``, ``field`` (``title`` or ``text``), ``start`` and ``end``
(character offsets into that field), ``sha1`` (first 12 hex digits of the sentence's
SHA-1, so a changed source is caught), ``labels`` (the first annotation pass) and ``note``.
The sentences are exactly the serving splitter's output; the title counts as a sentence
where it was labelled.

Example:
    >>> digest("Kim met Putin.")
    'd6445565b270'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from inference.text import split_sentences
from training.corpus.records import CorpusError, read_jsonl
from training.corpus.sources import SourceDoc, doc_key, documents

STANDOFF = Path("data/annotation/standoff")


def digest(text: str) -> str:
    """The short SHA-1 that ties a stand-off line to its text."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Standoff:
    """One annotated sentence, by reference."""

    id: str
    doc_id: str
    field: str
    start: int
    end: int
    sha1: str
    labels: tuple[str, ...]
    note: str = ""

    def to_json(self) -> str:
        data = asdict(self)
        data["labels"] = list(self.labels)
        return json.dumps(data, ensure_ascii=False)


def sentence_spans(doc: SourceDoc, doc_id: str, with_title: bool) -> list[tuple[str, str, int, int, str]]:
    """``(sentence id, field, start, end, text)`` for every sentence of ``doc``, title first.

    Sentence ids are ``<doc_id>-t`` for the title and ``<doc_id>-NNN`` for the body.
    """
    spans = []
    if with_title and doc.title.strip():
        title = split_sentences(doc.title)
        start, end = title[0].start, title[-1].end
        spans.append((f"{doc_id}-t", "title", start, end, doc.title[start:end]))
    for position, span in enumerate(split_sentences(doc.text)):
        spans.append((f"{doc_id}-{position:03d}", "text", span.start, span.end, span.text))
    return spans


def read_standoff(path: Path) -> list[Standoff]:
    """The stand-off lines of one source file."""
    return [Standoff(row["id"], row["doc_id"], row["field"], row["start"], row["end"], row["sha1"],
                     tuple(row["labels"]), row.get("note", "")) for row in read_jsonl(path)]


def resolve(row: Standoff, source: str, where: Path) -> tuple[str, SourceDoc]:
    """The sentence's text from the source, checked against its digest.

    Raises:
        CorpusError: the document is missing, or its text at the offsets changed.
    """
    doc = documents(source).get(doc_key(source, row.doc_id))
    if doc is None:
        raise CorpusError(f"{where}: sentence {row.id}: document {row.doc_id!r} is not in the {source} source file")
    text = doc.field(row.field)[row.start : row.end]
    if digest(text) != row.sha1:
        raise CorpusError(f"{where}: sentence {row.id}: the text of document {row.doc_id!r} at "
                          f"{row.field}[{row.start}:{row.end}] has changed in the {source} source file")
    return text, doc


def annotate(source: str, doc_ids: list[str], labels: dict[str, tuple[list[str], str]],
             with_title: bool) -> list[Standoff]:
    """Stand-off lines for whole documents from ``{sentence id: (labels, note)}``.

    Raises:
        CorpusError: a sentence of one of the documents has no labels.
    """
    rows = []
    for doc_id in doc_ids:
        doc = documents(source)[doc_key(source, doc_id)]
        for sentence_id, field, start, end, text in sentence_spans(doc, doc_id, with_title):
            if sentence_id not in labels:
                raise CorpusError(f"{source}:0: sentence {sentence_id} of document {doc_id} has no labels")
            chosen, note = labels[sentence_id]
            rows.append(Standoff(sentence_id, doc_id, field, start, end, digest(text), tuple(chosen), note))
    return rows


def write_standoff(path: Path, rows: list[Standoff]) -> None:
    """Write stand-off lines, one per sentence, in document order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(row.to_json() + "\n" for row in rows), encoding="utf-8")
