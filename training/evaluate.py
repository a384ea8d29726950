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
from dataclasses import asdict, dataclass

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

    def to_metrics(self, prefix: str) -> dict[str, float]:
        metrics = {f"{prefix}_{name}": getattr(self, name)
                   for name in ("micro_f1", "macro_f1", "requested_macro_f1", "doc_micro_f1", "doc_macro_f1")}
        for label, values in self.per_label.items():
            for name in ("precision", "recall", "f1"):
                metrics[f"{prefix}_{name}_{label}"] = values[name]
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
            lines.append(f"| `{label}`{mark} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | "
                         f"{int(v['support'])} | {self.doc_per_label_f1[label]:.3f} |")
        lines += [
            "",
            f"- sentences: {self.sentences}, documents: {self.documents}",
            f"- sentence micro-F1 {self.micro_f1:.3f}, macro-F1 {self.macro_f1:.3f}",
            f"- requested types (* state_visit, arms_deal, sanctions_appeal) macro-F1 {self.requested_macro_f1:.3f}",
            f"- document-level micro-F1 {self.doc_micro_f1:.3f}, macro-F1 {self.doc_macro_f1:.3f}",
        ]
        return "\n".join(lines) + "\n"


def evaluate(scores: np.ndarray, gold: np.ndarray, thresholds: dict[str, float], labels: tuple[str, ...],
             doc_ids: list[str]) -> Report:
    """Score predictions against gold labels, per sentence and per document (union of sentences)."""
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
    )


def _by_document(matrix: np.ndarray, doc_ids: list[str]) -> np.ndarray:
    """Rows OR-ed together per document: a document has a label if any sentence has it."""
    rows: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(matrix.shape[1], dtype=int))
    for doc_id, row in zip(doc_ids, matrix):
        rows[doc_id] = rows[doc_id] | row
    return np.array([rows[doc] for doc in sorted(rows)])
