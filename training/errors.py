"""Where a model goes wrong on a split: which labels it confuses, and its most confident mistakes.

    python -m training.errors [--model models:/diplomatic-events@champion] [--split test] [--top 20] [--no-text]

prints the most confused label pairs and the ``--top`` most confident errors as Markdown.
The texts stay in ``../shared``: ``--no-text`` gives record ids only, for notes that are
committed.

The model scores the split's sentences exactly as it serves them (``Classifier.score``) and
its own thresholds decide the labels (``training.evaluate.decide``), so what shows here is
what users get.

Example:
    >>> from training.corpus import ensure_built, load_records
    >>> scored = score_split(clf, load_records(ensure_built()), "test", limit=40)
    >>> confusion = label_confusion(scored)
    >>> int(confusion.to_numpy().sum()) >= len(scored.records)
    True
    >>> shares = confusion.div(gold_totals(scored).replace(0, 1), axis=0)  # share of each row's sentences
    >>> worst_errors(scored, count=3).columns.tolist()
    ['record', 'error', 'label', 'score', 'threshold', 'gold', 'predicted', 'source', 'text']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from inference.classifier import Classifier
from training.corpus.records import Record, record_contexts
from training.evaluate import decide

NONE = "(none)"  # the row and column for sentences with no gold or no predicted label


@dataclass(frozen=True)
class ScoredSplit:
    """A split's real sentences with their gold labels, the model's scores and its decisions (0/1)."""

    records: list[Record]
    labels: tuple[str, ...]
    thresholds: dict[str, float]
    scores: np.ndarray
    gold: np.ndarray
    predicted: np.ndarray


def score_split(classifier: Classifier, records: list[Record], split: str = "test",
                limit: int | None = None) -> ScoredSplit:
    """Score the real sentences of ``split`` (the first ``limit`` of them, if given) with ``classifier``."""
    chosen = [r for r in records if r.split == split and r.is_real][:limit]
    if not chosen:
        raise ValueError(f"the corpus has no real sentences in split {split!r}")
    labels, thresholds = classifier.labels, classifier.meta.thresholds
    # Each sentence with its document's context, as classify_document would read it (a model
    # without context ignores it).
    contexts = record_contexts(records, classifier.meta.context)
    scores = classifier.score([r.text for r in chosen], contexts=[contexts[r.id] for r in chosen])
    gold = np.array([[label in r.labels for label in labels] for r in chosen], dtype=int)
    return ScoredSplit(chosen, labels, thresholds, scores, gold, decide(scores, thresholds, labels))


def label_confusion(scored: ScoredSplit) -> pd.DataFrame:
    """Sentences with the row's gold label that the model gave the column's label.

    Rows and columns are the labels plus ``(none)``: a sentence without gold labels counts in
    the ``(none)`` row, one the model left unlabelled in the ``(none)`` column. A sentence
    with two gold and two predicted labels adds to four cells, so the diagonal holds each
    label's hits and the rest shows which labels are taken for which.
    """
    names = [*scored.labels, NONE]
    matrix = np.zeros((len(names), len(names)), dtype=int)
    for gold, predicted in zip(scored.gold, scored.predicted):
        rows = np.flatnonzero(gold).tolist() or [len(names) - 1]
        columns = np.flatnonzero(predicted).tolist() or [len(names) - 1]
        matrix[np.ix_(rows, columns)] += 1
    return pd.DataFrame(matrix, index=pd.Index(names, name="gold"), columns=pd.Index(names, name="predicted"))


def gold_totals(scored: ScoredSplit) -> pd.Series:
    """Sentences per row of :func:`label_confusion`: with each gold label, and with none.

    Example:
        >>> from training.corpus import ensure_built, load_records
        >>> scored = score_split(clf, load_records(ensure_built()), "test", limit=40)
        >>> int(gold_totals(scored)[NONE]) == sum(not r.labels for r in scored.records)
        True
    """
    counts = [*scored.gold.sum(axis=0).tolist(), int((scored.gold.sum(axis=1) == 0).sum())]
    return pd.Series(counts, index=pd.Index([*scored.labels, NONE], name="gold"))


def worst_errors(scored: ScoredSplit, count: int = 10) -> pd.DataFrame:
    """The ``count`` most confident mistakes: a label given far above its threshold, or missed far below it.

    One row per (sentence, label) error, sorted by how far the score lies on the wrong side
    of the threshold: ``error`` (``false alarm`` or ``missed``), the label, its score and
    threshold, the sentence's gold and predicted labels, its source and its text.
    """
    thresholds = np.array([scored.thresholds[label] for label in scored.labels])
    wrong = scored.gold != scored.predicted
    distance = np.abs(scored.scores - thresholds)
    rows, columns = np.nonzero(wrong)
    order = np.argsort(-distance[rows, columns], kind="stable")[:count]
    out = []
    for i, j in zip(rows[order], columns[order]):
        record = scored.records[i]
        out.append({"record": record.id, "error": "false alarm" if scored.predicted[i, j] else "missed",
                    "label": scored.labels[j],
                    "score": round(float(scored.scores[i, j]), 3), "threshold": float(thresholds[j]),
                    "gold": ", ".join(record.labels) or NONE,
                    "predicted": ", ".join(np.asarray(scored.labels)[scored.predicted[i] == 1]) or NONE,
                    "source": record.source, "text": record.text})
    return pd.DataFrame(out, columns=["record", "error", "label", "score", "threshold", "gold", "predicted", "source",
                                      "text"])


def confused_pairs(confusion: pd.DataFrame, count: int = 10) -> pd.DataFrame:
    """The off-diagonal cells of :func:`label_confusion`, largest first (``(none)`` included).

    Example:
        >>> frame = pd.DataFrame([[5, 2], [1, 9]], index=["aid", NONE], columns=["aid", NONE])
        >>> confused_pairs(frame).values.tolist()
        [['aid', '(none)', 2], ['(none)', 'aid', 1]]
    """
    cells = confusion.stack()
    cells = cells[[gold != predicted for gold, predicted in cells.index]]
    cells = cells[cells > 0].sort_values(ascending=False, kind="stable")[:count]
    return pd.DataFrame([(gold, predicted, int(n)) for (gold, predicted), n in cells.items()],
                        columns=["gold", "predicted", "sentences"])


def main(argv: list[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    from inference import load_classifier
    from training.corpus import ensure_built, load_records

    parser = argparse.ArgumentParser(prog="python -m training.errors", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models:/diplomatic-events@champion", help="model directory or URI")
    parser.add_argument("--split", choices=("dev", "test"), default="test")
    parser.add_argument("--top", type=int, default=20, help="how many of the most confident errors (default 20)")
    parser.add_argument("--corpus", type=Path, default=Path("build/corpus.jsonl"))
    parser.add_argument("--no-text", action="store_true", help="record ids only, no sentence text")
    args = parser.parse_args(argv)
    scored = score_split(load_classifier(args.model), load_records(ensure_built(args.corpus)), args.split)
    print(f"## {args.model} on the real {args.split} split ({len(scored.records)} sentences)\n")
    print(markdown(confused_pairs(label_confusion(scored))) + "\n")
    worst = worst_errors(scored, args.top)
    print(markdown(worst.drop(columns="text") if args.no_text else worst))
    return 0


def markdown(frame: pd.DataFrame) -> str:
    """A frame as a Markdown table (pandas' own needs the extra ``tabulate`` package).

    Example:
        >>> print(markdown(pd.DataFrame({"label": ["aid"], "sentences": [3]})))
        | label | sentences |
        | --- | --- |
        | aid | 3 |
    """
    rows = [list(frame.columns), ["---"] * len(frame.columns), *frame.astype(str).values.tolist()]
    return "\n".join("| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows)


if __name__ == "__main__":
    raise SystemExit(main())
