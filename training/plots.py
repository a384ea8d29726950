"""Figures logged with every run: per-label F1, precision-recall curves, confusion, training curves.

Example:
    >>> import numpy as np
    >>> fig = pr_curves(np.array([[0.9], [0.1]]), np.array([[1], [0]]), ("aid",))
    >>> len(fig.axes) >= 1
    True
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import multilabel_confusion_matrix, precision_recall_curve  # noqa: E402

from inference.taxonomy import REQUESTED_LABELS  # noqa: E402
from training.evaluate import Report  # noqa: E402


def _grid(count: int) -> tuple[Figure, list]:
    cols = min(3, count)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.3 * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[count:]:
        ax.axis("off")
    return fig, flat[:count]


def f1_bars(report: Report, title: str) -> Figure:
    """Horizontal bars of sentence and document F1 per label; the requested types in a darker colour."""
    labels = list(report.per_label)
    y = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(labels) + 1.5))
    sentence = [report.per_label[label]["f1"] for label in labels]
    document = [report.doc_per_label_f1[label] for label in labels]
    colours = ["#1f4e79" if label in REQUESTED_LABELS else "#6fa8dc" for label in labels]
    ax.barh(y - 0.2, sentence, height=0.4, color=colours, label="sentence F1")
    ax.barh(y + 0.2, document, height=0.4, color="#f6b26b", label="document F1")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title(f"{title}: macro-F1 {report.macro_f1:.3f}, document macro-F1 {report.doc_macro_f1:.3f}")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def pr_curves(scores: np.ndarray, gold: np.ndarray, labels: tuple[str, ...]) -> Figure:
    """One precision-recall curve per label (labels without positives say so)."""
    fig, axes = _grid(len(labels))
    for j, (ax, label) in enumerate(zip(axes, labels)):
        if gold[:, j].sum() == 0:
            ax.text(0.5, 0.5, "no positives", ha="center")
        else:
            precision, recall, _ = precision_recall_curve(gold[:, j], scores[:, j])
            ax.plot(recall, precision)
        ax.set(title=label, xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    fig.tight_layout()
    return fig


def confusion_grid(gold: np.ndarray, predicted: np.ndarray, labels: tuple[str, ...]) -> Figure:
    """A 2x2 confusion matrix (gold rows, predicted columns) per label."""
    matrices = multilabel_confusion_matrix(gold, predicted)
    fig, axes = _grid(len(labels))
    for ax, label, matrix in zip(axes, labels, matrices):
        ax.imshow(matrix, cmap="Blues")
        for (i, k), value in np.ndenumerate(matrix):
            ax.text(k, i, str(value), ha="center", va="center", color="black")
        ax.set(title=label, xticks=[0, 1], yticks=[0, 1], xticklabels=["no", "yes"], yticklabels=["no", "yes"])
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
    fig.tight_layout()
    return fig


def training_curves(history: list[dict[str, float]]) -> Figure:
    """Training loss and dev macro-F1 per epoch."""
    epochs = [row["epoch"] for row in history]
    fig, left = plt.subplots(figsize=(6, 3.5))
    left.plot(epochs, [row["train_loss"] for row in history], "o-", color="#cc0000", label="train loss")
    left.set(xlabel="epoch", ylabel="train loss")
    right = left.twinx()
    right.plot(epochs, [row["dev_macro_f1"] for row in history], "s-", color="#1f4e79", label="dev macro-F1")
    right.set(ylabel="dev macro-F1", ylim=(0, 1))
    fig.legend(loc="lower center", ncol=2, fontsize=8)
    fig.tight_layout()
    return fig
