"""The classifier users call: sentences in, labelled predictions out; articles in, events out.

Example:
    >>> from inference import load_classifier
    >>> clf = load_classifier(model_dir)    # e.g. "artifacts/default"
    >>> prediction = clf.predict(["Putin arrived in Pyongyang on Tuesday."])[0]
    >>> prediction.labels == tuple(l for l in clf.meta.labels if prediction.scores[l] >= clf.meta.thresholds[l])
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inference.artifact import ArtifactMeta
from inference.backends import Backend, Encoder, OnnxBackend, TorchBackend
from inference.cascade import Cascade
from inference.context import document_contexts
from inference.taxonomy import TAXONOMY
from inference.text import normalize, split_sentences


@dataclass(frozen=True)
class Prediction:
    """One sentence's labels (those above their thresholds) and a score for every label."""

    labels: tuple[str, ...]
    scores: dict[str, float]


@dataclass(frozen=True)
class SentencePrediction(Prediction):
    """A sentence of a document: its prediction plus its text and offsets into the document."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Evidence:
    """A sentence that supports an event, with offsets into the document."""

    text: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Event:
    """One event type found in a document; its score is the highest over its sentences."""

    label: str
    name: str
    score: float
    cameo: tuple[str, ...]
    plover: str
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Document:
    """A classified article: its events (highest score first) and every sentence's prediction."""

    events: tuple[Event, ...]
    sentences: tuple[SentencePrediction, ...]

    def to_html(self, title: str = "Article", text: str | None = None) -> str:
        """This document as a self-contained HTML page (see :mod:`inference.html`).

        Pass the article's ``text`` to keep its line breaks and paragraphs between sentences.

        Example:
            >>> page = clf.classify_document(article).to_html("seed article", article)
            >>> page.startswith("<!DOCTYPE html>") and "<script" not in page
            True
        """
        from inference.html import Article, render_page  # lazy: html.py imports this module's types

        return render_page([Article(title, self, text)])


def labels_from_scores(scores: dict[str, float], thresholds: dict[str, float]) -> tuple[str, ...]:
    """The labels whose score reaches its threshold, in the model's label order.

    Every label a prediction reports goes through this function, so labels and scores agree.

    Example:
        >>> labels_from_scores({"aid": 0.7, "arms_deal": 0.2}, {"aid": 0.5, "arms_deal": 0.5})
        ('aid',)
    """
    return tuple(label for label, score in scores.items() if score >= thresholds[label])


# A generous bound on the characters one word piece covers (long numbers, URLs, white space).
CHARS_PER_TOKEN = 64


def unencodable(text: str) -> str | None:
    """Why ``text`` cannot reach the tokenizer (a lone surrogate such as ``"\\udcff"``), or ``None``.

    Example:
        >>> unencodable("ok"), unencodable("bad \\udcff")
        (None, 'holds a lone surrogate (U+DCFF) at character 4, which is not valid Unicode text')
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"holds a lone surrogate (U+{ord(text[exc.start]):04X}) at character {exc.start}, " \
               "which is not valid Unicode text"
    return None


def check_texts(texts: Any) -> list[str]:
    """Validate a list of texts: a bare ``str`` is a TypeError; a non-string or invalid item a ValueError.

    Example:
        >>> check_texts(("a", "b"))
        ['a', 'b']
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError("expected a list of strings, got a single string; wrap it in a list")
    if not isinstance(texts, Iterable):
        raise TypeError(f"expected a list of strings, got {type(texts).__name__}")
    items = list(texts)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise ValueError(f"item {index} is {type(item).__name__}, not a string")
        problem = unencodable(item)
        if problem:
            raise ValueError(f"item {index} {problem}")
    return items


class Classifier:
    """A loaded model with its thresholds. Safe to share between threads.

    Build one with :func:`inference.load_classifier`. ``model`` is a transformers model (run
    in PyTorch) or a ready :mod:`inference.backends` backend; ``tokenizer`` a transformers
    tokenizer or an :class:`~inference.backends.Encoder`. With a ``cascade``, sentences its
    first stage rules out skip the transformer.
    """

    def __init__(self, model: Any, tokenizer: Any, meta: ArtifactMeta, cascade: Cascade | None = None) -> None:
        self.backend: Backend = model if isinstance(model, (TorchBackend, OnnxBackend)) else TorchBackend(model)
        self.tokenizer = tokenizer if isinstance(tokenizer, Encoder) else Encoder.from_transformers(tokenizer,
                                                                                                  meta.max_length)
        self.meta = meta
        self.labels = meta.labels
        self.cascade = cascade

    @property
    def model(self) -> Any:
        """The transformers model when the backend is PyTorch; ``None`` for an ONNX backend."""
        return getattr(self.backend, "model", None)

    def score(self, texts: Sequence[str], batch_size: int = 32,
              contexts: Sequence[str] | None = None) -> np.ndarray:
        """Probabilities, shape ``(len(texts), len(self.labels))``; blank texts score 0.

        Texts are normalised, sorted by length and batched with dynamic padding, so each
        forward pass holds at most ``batch_size x max_length`` tokens. Texts the cascade
        rules out keep its first-stage probabilities (all below every threshold).
        ``contexts`` (one per text, see :mod:`inference.context`) are read only by a model
        trained with context; without them such a model reads each text with an empty context.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if contexts is not None and len(contexts) != len(texts):
            raise ValueError(f"got {len(contexts)} contexts for {len(texts)} texts; give one per text")
        # Only the first max_length word pieces are ever read, so a text is cut long before
        # the tokenizer sees it: one 20 MB line must not cost gigabytes of token ids.
        limit = self.meta.max_length * CHARS_PER_TOKEN
        normalised = [normalize(text[:limit]) for text in texts]
        paired = None
        if self.meta.context != "none":
            paired = [normalize(context[:limit]) for context in contexts] if contexts is not None else [""] * len(texts)
        result = np.zeros((len(normalised), len(self.labels)), dtype=np.float32)
        todo = [i for i, text in enumerate(normalised) if text]
        if self.cascade is not None and todo:
            first_stage = self.cascade.probabilities([normalised[i] for i in todo])
            result[todo] = first_stage
            todo = [i for i, keep in zip(todo, self.cascade.keep(first_stage)) if keep]
        todo.sort(key=lambda i: len(normalised[i]) + (len(paired[i]) if paired else 0))
        for first in range(0, len(todo), batch_size):
            rows = todo[first : first + batch_size]
            result[rows] = self._forward([normalised[i] for i in rows], [paired[i] for i in rows] if paired else None)
        return result

    def _forward(self, batch: list[str], contexts: list[str] | None = None) -> np.ndarray:
        encoded = self.tokenizer(batch) if contexts is None else self.tokenizer(batch, contexts)
        logits = self.backend.logits(encoded)
        scores = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
        if not np.isfinite(scores).all():
            raise ValueError("the model produced non-finite scores (NaN): its weights are broken; "
                             "retrain it or load another model directory")
        return scores

    def predict(self, sentences: Sequence[str], batch_size: int = 32,
                contexts: Sequence[str] | None = None) -> list[Prediction]:
        """Label each sentence; the list out matches the list in, item for item.

        ``contexts`` optionally gives each sentence's context (:mod:`inference.context`) for
        a model trained with it; :meth:`classify_document` supplies it itself.

        Raises:
            TypeError: ``sentences`` is a bare string or not iterable.
            ValueError: an item is not a string (the message names its index), or ``contexts``
                is not one string per sentence.

        Example:
            >>> [len(p.scores) for p in clf.predict(["The EU extended sanctions on Minsk.", ""])]
            [9, 9]
            >>> clf.predict([""])[0].labels    # blank text gets no labels
            ()
        """
        texts = check_texts(sentences)
        context_texts = None if contexts is None else check_texts(contexts)
        return [self._prediction(row) for row in self.score(texts, batch_size, context_texts)]

    def _prediction(self, row: np.ndarray) -> Prediction:
        scores = {label: float(value) for label, value in zip(self.labels, row)}
        return Prediction(labels=labels_from_scores(scores, self.meta.thresholds), scores=scores)

    def classify_document(self, text: str, batch_size: int = 32) -> Document:
        """Split an article into sentences, label each, and gather the events it reports.

        Example:
            >>> doc = clf.classify_document(article)
            >>> all(article[s.start : s.end] == s.text for s in doc.sentences)
            True
            >>> all(e.evidence and e.score == max(ev.score for ev in e.evidence) for e in doc.events)
            True
        """
        if not isinstance(text, str):
            raise TypeError(f"expected the article as a string, got {type(text).__name__}")
        problem = unencodable(text)
        if problem:
            raise ValueError(f"the article {problem}")
        spans = split_sentences(text)
        texts = [span.text for span in spans]
        predictions = self.predict(texts, batch_size, document_contexts(texts, self.meta.context))
        sentences = tuple(
            SentencePrediction(labels=pred.labels, scores=pred.scores, text=span.text, start=span.start, end=span.end)
            for span, pred in zip(spans, predictions)
        )
        return Document(events=self._events(sentences), sentences=sentences)

    def _events(self, sentences: tuple[SentencePrediction, ...]) -> tuple[Event, ...]:
        events = []
        for label_id in self.labels:
            support = [s for s in sentences if label_id in s.labels]
            if not support:
                continue
            label = TAXONOMY.label(label_id)
            evidence = tuple(Evidence(s.text, s.start, s.end, s.scores[label_id]) for s in support)
            events.append(
                Event(
                    label=label_id,
                    name=label.name,
                    score=max(e.score for e in evidence),
                    cameo=label.cameo,
                    plover=label.plover,
                    evidence=evidence,
                )
            )
        return tuple(sorted(events, key=lambda event: -event.score))
