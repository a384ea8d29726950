"""A cheap first stage that rules out sentences which cannot report an event, before the transformer.

Most real news sentences report no event. A linear model over hashed word uni- and bigrams
gives each label a probability in microseconds; a sentence whose highest first-stage
probability is below the cut-off (tuned on dev, see ``training/cascade.py``) never reaches
the transformer, and its scores are the first stage's own probabilities, all below the
cut-off, which is never above a decision threshold: such a sentence gets no labels.

The features are computed here, with the standard library and numpy only, and training
fits on exactly these features, so what is trained is what is served.

Example:
    >>> features = hashed_features(["Putin arrived in Hanoi.", ""], buckets=64)
    >>> features.shape, features[1].nnz
    ((2, 64), 0)
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BUCKETS = 2**18
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SparseRows:
    """Hashed n-gram counts as CSR arrays (``scipy.sparse.csr_matrix((data, indices, indptr))``)."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple[int, int]

    def __getitem__(self, row: int) -> SparseRows:
        start, end = self.indptr[row], self.indptr[row + 1]
        return SparseRows(self.data[start:end], self.indices[start:end], np.array([0, end - start]),
                          (1, self.shape[1]))

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def dot(self, weights: np.ndarray) -> np.ndarray:
        """``rows @ weights`` for a dense ``(buckets, k)`` matrix, without scipy."""
        products = self.data[:, None] * weights[self.indices]
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        columns = [np.bincount(rows, weights=products[:, k], minlength=self.shape[0]) for k in range(weights.shape[1])]
        return np.stack(columns, axis=1) if columns else np.zeros((self.shape[0], 0))


def ngrams(text: str) -> list[str]:
    """Lower-cased words and adjacent word pairs.

    Example:
        >>> ngrams("EU sanctions Minsk")
        ['eu', 'sanctions', 'minsk', 'eu sanctions', 'sanctions minsk']
    """
    words = _WORD.findall(text.lower())
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


def hashed_features(texts: Sequence[str], buckets: int = BUCKETS) -> SparseRows:
    """Counts of each text's n-grams in ``buckets`` hashed columns (crc32: stable across runs and machines)."""
    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for text in texts:
        counts: dict[int, int] = {}
        for gram in ngrams(text):
            column = zlib.crc32(gram.encode("utf-8")) % buckets
            counts[column] = counts.get(column, 0) + 1
        indices.extend(counts)
        data.extend(counts.values())
        indptr.append(len(indices))
    return SparseRows(np.array(data, dtype=np.float32), np.array(indices, dtype=np.int64),
                      np.array(indptr, dtype=np.int64), (len(texts), buckets))


class Cascade:
    """Per-label logistic regression over hashed n-grams, and the cut-off below which a sentence is ruled out.

    Example:
        >>> weights = np.zeros((64, 2), dtype=np.float32); weights[zlib.crc32(b"sanctions") % 64] = 4.0
        >>> gate = Cascade(weights, np.array([-3.0, -3.0]), cutoff=0.2)
        >>> gate.keep(gate.probabilities(["New sanctions.", "The weather was fine."])).tolist()
        [True, False]
    """

    def __init__(self, weights: np.ndarray, bias: np.ndarray, cutoff: float) -> None:
        if weights.ndim != 2 or bias.shape != (weights.shape[1],):
            raise ValueError(f"cascade weights {weights.shape} and bias {bias.shape} do not fit together")
        self.weights = weights
        self.bias = bias
        self.cutoff = float(cutoff)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """First-stage probabilities, shape ``(len(texts), labels)``."""
        logits = hashed_features(texts, self.weights.shape[0]).dot(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-logits))

    def keep(self, probabilities: np.ndarray) -> np.ndarray:
        """A boolean mask over sentences: True where the first stage cannot rule the sentence out."""
        return probabilities.max(axis=1, initial=0.0) >= self.cutoff
