"""What a context model reads beside each sentence: the headline and the previous sentence.

A sentence alone often cannot say what it reports ("The two leaders also discussed it.",
"Welcome to Moscow."). A model trained with ``context`` reads a second segment beside the
sentence; the labels still belong to the sentence. The headline is the document's first
sentence (its title, when the article has one). Training (from the corpus's documents) and
:meth:`inference.Classifier.classify_document` (from the article's sentences) both build the
segment here, so a model sees the same kind of context in both.

Example:
    >>> document_contexts(["Putin visits Hanoi", "He arrived on Wednesday.", "Talks began."], "headline_previous")
    ['', 'Putin visits Hanoi', 'Putin visits Hanoi | He arrived on Wednesday.']
    >>> document_contexts(["A.", "B."], "none")
    ['', '']
"""

from __future__ import annotations

from collections.abc import Sequence

# "none": the sentence alone; "previous": the sentence before; "headline_previous": the
# document's first sentence and the sentence before (once, when they are the same).
CONTEXT_MODES = ("none", "previous", "headline_previous")
SEPARATOR = " | "
# A part longer than this is cut at a word boundary: context is a hint, and every word piece
# of it costs compute in each forward pass.
PART_CHARS = 200


def check_mode(mode: str) -> str:
    """``mode`` when it is one of :data:`CONTEXT_MODES`; a ``ValueError`` naming them otherwise."""
    if mode not in CONTEXT_MODES:
        raise ValueError(f"unknown context mode {mode!r}; expected one of {', '.join(CONTEXT_MODES)}")
    return mode


def cut(text: str, limit: int = PART_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters, at the last space before the limit.

    Example:
        >>> cut("one two three", 9)
        'one two'
    """
    if len(text) <= limit:
        return text
    head = text[:limit]
    return head[: head.rfind(" ")] if " " in head else head


def document_contexts(sentences: Sequence[str], mode: str) -> list[str]:
    """The context segment of each sentence of one document, in the document's order.

    The first sentence has none; the second's is the first (it is both headline and previous).
    """
    check_mode(mode)
    contexts = []
    for index in range(len(sentences)):
        if mode == "none" or index == 0:
            contexts.append("")
            continue
        parts = [sentences[0]] if mode == "headline_previous" and index > 1 else []
        contexts.append(SEPARATOR.join(cut(part) for part in [*parts, sentences[index - 1]]))
    return contexts
