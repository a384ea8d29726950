"""Metrics: per-label precision/recall/F1, micro and macro F1, document-level F1, thresholds.

Scores come from whatever scores sentences (the ``inference`` classifier for the
transformer, a scikit-learn pipeline for a baseline); turning them into labels always goes
through ``inference.labels_from_scores``, the function that serves predictions.

Example:
    >>> import numpy as np
    >>> report = evaluate(np.array([[0.9], [0.2]]), np.array([[1], [0]]), {"aid": 0.5}, ("aid",), ["d1", "d2"])
    >>> report.macro_f1
    1.0
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support

from inference.classifier import labels_from_scores
from inference.taxonomy import REQUESTED_LABELS

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)


def decide(scores: np.ndarray, thresholds: dict[str, float], labels: tuple[str, ...]) -> np.ndarray:
    """0/1 predictions, row by row, through the serving code's ``labels_from_scores``."""
    decided = np.zeros_like(scores, dtype=int)
    for row, values in enumerate(scores):
        chosen = labels_from_scores(dict(zip(labels, map(float, values))), thresholds)
        decided[row] = [label in chosen for label in labels]
    return decided


def tune_thresholds(scores: np.ndarray, gold: np.ndarray, labels: tuple[str, ...]) -> dict[str, float]:
    """Per label, the threshold on the grid with the best F1 (ties: nearest 0.5); 0.5 without positives.

    Example:
        >>> tune_thresholds(np.array([[0.3], [0.1]]), np.array([[1], [0]]), ("aid",))
        {'aid': 0.3}
    """
    thresholds = {}
    for j, label in enumerate(labels):
        if gold[:, j].sum() == 0:
            thresholds[label] = 0.5
            continue
        candidates = [(f1_score(gold[:, j], scores[:, j] >= t, zero_division=0), -abs(t - 0.5), t)
                      for t in THRESHOLD_GRID]
        thresholds[label] = float(max(candidates)[2])
    return thresholds


@dataclass(frozen=True)
class Report:
    """Quality on one split; ``to_metrics`` flattens it for MLflow.

    Macro averages run over the labels that have gold positives in the split: a label the
    split never mentions has no defined F1 and would only drag the mean to zero.
    """

    per_label: dict[str, dict[str, float]]
    micro_f1: float
    macro_f1: float
    requested_macro_f1: float
    doc_micro_f1: float
    doc_macro_f1: float
    doc_per_label_f1: dict[str, float]
    sentences: int
    documents: int
    # 95% bootstrap intervals over documents: "f1_<label>", "micro_f1", "macro_f1", ...
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def interval(self, name: str) -> str:
        """`` [lo, hi]`` for a metric, or ``""`` when no interval was computed."""
        lo_hi = self.intervals.get(name)
        return f" [{lo_hi[0]:.3f}, {lo_hi[1]:.3f}]" if lo_hi else ""

    def to_metrics(self, prefix: str) -> dict[str, float]:
        metrics = {f"{prefix}_{name}": getattr(self, name)
                   for name in ("micro_f1", "macro_f1", "requested_macro_f1", "doc_micro_f1", "doc_macro_f1")}
        for label, values in self.per_label.items():
            for name in ("precision", "recall", "f1"):
                metrics[f"{prefix}_{name}_{label}"] = values[name]
        for name, (lo, hi) in self.intervals.items():
            metrics[f"{prefix}_{name}_ci_lo"], metrics[f"{prefix}_{name}_ci_hi"] = lo, hi
        return metrics

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def to_markdown(self, title: str) -> str:
        """The report as Markdown: a per-label table, then the summary lines."""
        lines = [f"## {title}", "", "| label | precision | recall | F1 | support | document F1 |",
                 "|---|---|---|---|---|---|"]
        for label, v in self.per_label.items():
            mark = " *" if label in REQUESTED_LABELS else ""
            if v["support"] == 0:
                lines.append(f"| `{label}`{mark} | n/a | n/a | n/a | 0 | n/a |")
                continue
            lines.append(f"| `{label}`{mark} | {v['precision']:.3f} | {v['recall']:.3f} | "
                         f"{v['f1']:.3f}{self.interval('f1_' + label)} | "
                         f"{int(v['support'])} | {self.doc_per_label_f1[label]:.3f} |")
        lines += [
            "",
            f"- sentences: {self.sentences}, documents: {self.documents}"
            + (" (intervals: 95% bootstrap over documents)" if self.intervals else ""),
            f"- sentence micro-F1 {self.micro_f1:.3f}{self.interval('micro_f1')}, "
            f"macro-F1 {self.macro_f1:.3f}{self.interval('macro_f1')}",
            f"- requested types (* state_visit, arms_deal, sanctions_appeal) macro-F1 "
            f"{self.requested_macro_f1:.3f}{self.interval('requested_macro_f1')}",
            f"- document-level micro-F1 {self.doc_micro_f1:.3f}{self.interval('doc_micro_f1')}, "
            f"macro-F1 {self.doc_macro_f1:.3f}",
        ]
        return "\n".join(lines) + "\n"


def evaluate(scores: np.ndarray, gold: np.ndarray, thresholds: dict[str, float], labels: tuple[str, ...],
             doc_ids: list[str], bootstrap: int = 0, seed: int = 0) -> Report:
    """Score predictions against gold labels, per sentence and per document (union of sentences).

    With ``bootstrap`` > 0, the report carries 95% intervals from that many resamples of the
    documents (sentences of one document stay together: they are not independent).
    """
    predicted = decide(scores, thresholds, labels)
    gold = gold.astype(int)
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted, zero_division=0)
    per_label = {label: {"precision": float(precision[j]), "recall": float(recall[j]), "f1": float(f1[j]),
                         "support": float(support[j])} for j, label in enumerate(labels)}
    present = support > 0
    requested = [per_label[label]["f1"] for j, label in enumerate(labels) if label in REQUESTED_LABELS and present[j]]
    doc_gold, doc_pred = _by_document(gold, doc_ids), _by_document(predicted, doc_ids)
    doc_f1 = f1_score(doc_gold, doc_pred, average=None, zero_division=0)
    return Report(
        per_label=per_label,
        micro_f1=float(f1_score(gold, predicted, average="micro", zero_division=0)),
        macro_f1=float(np.mean(f1[present])) if present.any() else float("nan"),
        requested_macro_f1=float(np.mean(requested)) if requested else float("nan"),
        doc_micro_f1=float(f1_score(doc_gold, doc_pred, average="micro", zero_division=0)),
        doc_macro_f1=float(np.mean(doc_f1[present])) if present.any() else float("nan"),
        doc_per_label_f1={label: float(doc_f1[j]) for j, label in enumerate(labels)},
        sentences=len(gold),
        documents=len(doc_gold),
        intervals=bootstrap_intervals(gold, predicted, labels, doc_ids, bootstrap, seed) if bootstrap else {},
    )


def bootstrap_intervals(gold: np.ndarray, predicted: np.ndarray, labels: tuple[str, ...], doc_ids: list[str],
                        resamples: int = 1000, seed: int = 0) -> dict[str, tuple[float, float]]:
    """95% percentile intervals of per-label F1, micro, macro, requested-types and document micro-F1.

    Documents are drawn with replacement; each draw sums the documents' true positives,
    false positives and false negatives, so a resample costs one small matrix product.

    Example:
        >>> gold = np.array([[1], [0], [1], [1]]); pred = np.array([[1], [1], [1], [0]])
        >>> sorted(bootstrap_intervals(gold, pred, ("aid",), ["a", "a", "b", "c"], 200))[:2]
        ['doc_micro_f1', 'f1_aid']
    """
    counts, doc_counts = _document_counts(gold, predicted, doc_ids)
    docs = counts.shape[1]
    requested = [j for j, label in enumerate(labels) if label in REQUESTED_LABELS]
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(resamples):
        weights = np.bincount(rng.integers(0, docs, docs), minlength=docs)
        tp, fp, fn = np.tensordot(counts, weights, axes=([1], [0]))             # per label
        present = (tp + fn) > 0
        f1 = np.where(present, 2 * tp / np.maximum(2 * tp + fp + fn, 1), np.nan)
        for j, label in enumerate(labels):
            samples[f"f1_{label}"].append(f1[j])
        samples["micro_f1"].append(2 * tp.sum() / max(2 * tp.sum() + fp.sum() + fn.sum(), 1))
        samples["macro_f1"].append(np.nanmean(f1) if present.any() else np.nan)
        if requested and present[requested].any():
            samples["requested_macro_f1"].append(np.nanmean(f1[requested]))
        dtp, dfp, dfn = np.tensordot(doc_counts, weights, axes=([1], [0])).sum(axis=1)
        samples["doc_micro_f1"].append(2 * dtp / max(2 * dtp + dfp + dfn, 1))
    intervals = {}
    for name, values in samples.items():
        values = np.array(values, dtype=float)
        values = values[~np.isnan(values)]
        if len(values):
            intervals[name] = (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))
    return intervals


def paired_bootstrap(gold: np.ndarray, candidate: np.ndarray, champion: np.ndarray, doc_ids: list[str],
                     resamples: int = 1000, seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """Candidate minus champion on the same sentences: the difference and its 95% interval.

    Both systems' decisions are resampled with the same documents in every draw, so the
    interval is of the paired difference (much narrower than two separate intervals).
    Returns ``{"micro_f1": (delta, lo, hi), "doc_micro_f1": (delta, lo, hi)}``.

    Example:
        >>> gold = np.array([[1], [0], [1], [1]])
        >>> better, worse = np.array([[1], [0], [1], [1]]), np.array([[1], [1], [0], [0]])
        >>> delta, lo, hi = paired_bootstrap(gold, better, worse, ["a", "a", "b", "c"], 200)["micro_f1"]
        >>> round(delta, 3), lo <= delta <= hi
        (0.6, True)
    """
    gold = gold.astype(int)
    systems = [_document_counts(gold, predicted.astype(int), doc_ids) for predicted in (candidate, champion)]
    docs = systems[0][0].shape[1]

    def micro(weights: np.ndarray) -> np.ndarray:
        # Per system: sentence micro-F1 and document micro-F1 under these document weights.
        values = []
        for counts, doc_counts in systems:
            tp, fp, fn = np.tensordot(counts, weights, axes=([1], [0])).sum(axis=1)
            dtp, dfp, dfn = np.tensordot(doc_counts, weights, axes=([1], [0])).sum(axis=1)
            values.append([2 * tp / max(2 * tp + fp + fn, 1), 2 * dtp / max(2 * dtp + dfp + dfn, 1)])
        return np.array(values[0]) - np.array(values[1])

    observed = micro(np.ones(docs))
    rng = np.random.default_rng(seed)
    draws = np.array([micro(np.bincount(rng.integers(0, docs, docs), minlength=docs)) for _ in range(resamples)])
    lo, hi = np.percentile(draws, 2.5, axis=0), np.percentile(draws, 97.5, axis=0)
    return {name: (float(observed[k]), float(lo[k]), float(hi[k]))
            for k, name in enumerate(("micro_f1", "doc_micro_f1"))}


def _document_counts(gold: np.ndarray, predicted: np.ndarray, doc_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per document and label: sentence (tp, fp, fn) counts and document-level (tp, fp, fn) flags.

    Both arrays have shape (3, documents, labels), documents in sorted id order, so a
    bootstrap draw is a weight per document and a tensordot.
    """
    docs = sorted(set(doc_ids))
    index = {doc: i for i, doc in enumerate(docs)}
    member = np.zeros((len(docs), len(doc_ids)))
    member[[index[d] for d in doc_ids], np.arange(len(doc_ids))] = 1
    counts = np.stack([member @ (gold & predicted), member @ ((1 - gold) & predicted),
                       member @ (gold & (1 - predicted))])
    doc_gold, doc_pred = _by_document(gold, doc_ids), _by_document(predicted, doc_ids)
    doc_counts = np.stack([doc_gold & doc_pred, (1 - doc_gold) & doc_pred, doc_gold & (1 - doc_pred)])
    return counts, doc_counts


def _by_document(matrix: np.ndarray, doc_ids: list[str]) -> np.ndarray:
    """Rows OR-ed together per document: a document has a label if any sentence has it."""
    rows: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(matrix.shape[1], dtype=int))
    for doc_id, row in zip(doc_ids, matrix):
        rows[doc_id] = rows[doc_id] | row
    return np.array([rows[doc] for doc in sorted(rows)])
