"""The corpus as tables for charts (``notebooks/01_corpus.ipynb``): counts, co-occurrence, lengths, examples.

Every function takes the corpus records (``training.corpus.load_records``) and returns a
pandas frame whose rows are labels in taxonomy order (plus ``none`` for sentences without
one) where that makes sense, so a notebook only has to plot it.

Example:
    >>> from training.corpus import ensure_built, load_records
    >>> records = load_records(ensure_built())
    >>> counts = label_counts(records, by="split")
    >>> list(counts.columns), int(counts.to_numpy().sum()) >= len(records)
    (['train real', 'train written', 'dev real', 'test real'], True)
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd

from inference.taxonomy import TAXONOMY
from training.corpus.records import SOURCES, SPLITS, Record
from training.corpus.stats import label_counts as counts_by_split_and_kind

NONE = "none"  # the row for sentences that carry no label


def kind(record: Record) -> str:
    """``real`` for published text (news, statements, the seed), ``written`` for the project's own passages."""
    return "real" if record.is_real else "written"


def label_counts(records: list[Record], by: str = "split") -> pd.DataFrame:
    """Sentences per label (rows, ``none`` last) and split with kind of text, or per source.

    ``by="split"`` gives columns like ``train real`` and ``train written`` (dev and test are
    real text only); ``by="source"`` one column per source present. A sentence with two
    labels counts in both rows.
    """
    rows = [*TAXONOMY.ids, NONE]
    if by == "split":
        counts = counts_by_split_and_kind(records)
        columns = [f"{split} {k}" for split in SPLITS for k in ("real", "written")
                   if any(key[1:] == (split, k) for key in counts)]
        data = {column: [counts[(label, *column.split(" "))] for label in rows] for column in columns}
        return pd.DataFrame(data, index=rows)
    if by == "source":
        frame = pd.DataFrame(0, index=rows, columns=[s for s in SOURCES if any(r.source == s for r in records)])
        for record in records:
            for label in record.labels or (NONE,):
                frame.loc[label, record.source] += 1
        return frame
    raise ValueError(f"by must be 'split' or 'source', got {by!r}")


def cooccurrence(records: list[Record]) -> pd.DataFrame:
    """Sentences carrying both the row's and the column's label; the diagonal counts each label alone.

    Example:
        >>> pairs = cooccurrence([Record("a-0", "a", 0, "...", ("aid", "agreement"), "written", "train")])
        >>> int(pairs.loc["aid", "agreement"]), int(pairs.loc["aid", "aid"]), int(pairs.loc["aid", "arms_deal"])
        (1, 1, 0)
    """
    ids = list(TAXONOMY.ids)
    position = {label: i for i, label in enumerate(ids)}
    matrix = np.zeros((len(ids), len(ids)), dtype=int)
    for record in records:
        present = [position[label] for label in record.labels]
        matrix[np.ix_(present, present)] += 1
    return pd.DataFrame(matrix, index=ids, columns=ids)


def sentence_lengths(records: list[Record]) -> pd.DataFrame:
    """One row per sentence: its kind of text (``real`` or ``written``) and its length in words."""
    return pd.DataFrame({"kind": [kind(r) for r in records], "words": [len(r.text.split()) for r in records]})


def examples(records: list[Record], per_label: int = 2, seed: int = 0) -> pd.DataFrame:
    """A few sentences of each label, drawn with a fixed seed: label, kind of text, source, split, text.

    Example:
        >>> from training.corpus import ensure_built, load_records
        >>> picked = examples(load_records(ensure_built()), per_label=1)
        >>> list(picked["label"]) == list(TAXONOMY.ids)
        True
    """
    rng = random.Random(seed)
    rows = []
    for label in TAXONOMY.ids:
        carrying = [r for r in records if label in r.labels]
        for record in rng.sample(carrying, min(per_label, len(carrying))):
            rows.append({"label": label, "kind": kind(record), "source": record.source, "split": record.split,
                         "text": record.text})
    return pd.DataFrame(rows, columns=["label", "kind", "source", "split", "text"])
