"""The promotion gate: is a candidate model not worse than the champion, with 95% confidence?

Both models label the same real split (dev by default: models are chosen on dev, test stays
for reporting) through the serving code. The paired bootstrap over documents gives the
difference candidate minus champion on sentence micro-F1 and document micro-F1, with its
95% interval. The candidate passes when, on both, the interval's lower end is above
``-margin``: a drop larger than the margin is ruled out at 95% confidence. With
``margin=0`` only a candidate that is better with 95% confidence passes.

Example:
    >>> gold = np.array([[1, 0], [0, 1], [1, 0], [0, 0]])
    >>> verdict = compare(gold, gold, gold, ["a", "a", "b", "c"], margin=0.01, resamples=200)
    >>> verdict.passed, verdict.evidence.splitlines()[0]
    (True, 'paired bootstrap over 3 documents (4 sentences), 200 resamples, margin 0.010:')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.evaluate import paired_bootstrap

METRICS = {"micro_f1": "sentence micro-F1", "doc_micro_f1": "document micro-F1"}
DEFAULT_MARGIN = 0.01


@dataclass(frozen=True)
class Verdict:
    """Whether the candidate passed, and the evidence in words (printed either way)."""

    passed: bool
    evidence: str


def compare(gold: np.ndarray, candidate: np.ndarray, champion: np.ndarray, doc_ids: list[str],
            margin: float = DEFAULT_MARGIN, resamples: int = 1000, seed: int = 0) -> Verdict:
    """Judge two systems' 0/1 decisions on the same sentences (rows) and labels (columns)."""
    if candidate.shape != champion.shape or candidate.shape != gold.shape:
        raise ValueError(f"decisions {candidate.shape} and {champion.shape} do not match gold {gold.shape}")
    deltas = paired_bootstrap(gold, candidate, champion, doc_ids, resamples, seed)
    lines = [f"paired bootstrap over {len(set(doc_ids))} documents ({len(doc_ids)} sentences), "
             f"{resamples} resamples, margin {margin:.3f}:"]
    passed = True
    for key, name in METRICS.items():
        delta, lo, hi = deltas[key]
        ok = lo > -margin or np.isclose(lo, -margin)
        passed &= bool(ok)
        lines.append(f"  {name}: candidate - champion = {delta:+.4f} [{lo:+.4f}, {hi:+.4f}] "
                     f"{'ok' if ok else 'WORSE beyond the margin'}")
    return Verdict(passed, "\n".join(lines))


def decisions(model_source: str, texts: list[str], labels: tuple[str, ...]) -> np.ndarray:
    """A model's 0/1 decisions on ``texts`` for ``labels``, through the serving code."""
    from inference import load_classifier

    classifier = load_classifier(model_source)
    if tuple(classifier.meta.labels) != tuple(labels):
        raise ValueError(f"{model_source} predicts {list(classifier.meta.labels)}, not the split's {list(labels)}")
    predictions = classifier.predict(texts)
    return np.array([[label in p.labels for label in labels] for p in predictions], dtype=int)


def judge_versions(name: str, candidate: str, champion: str, corpus: Path, split: str = "dev",
                   margin: float = DEFAULT_MARGIN, resamples: int = 1000) -> Verdict:
    """Label ``split`` with two registered versions of ``name`` and compare them."""
    from inference import load_classifier
    from training.corpus import ensure_built, load_dataset_dict

    labels = tuple(load_classifier(f"models:/{name}/{champion}").meta.labels)
    part = load_dataset_dict(ensure_built(corpus), labels)[split]
    real = [i for i, source in enumerate(part["source"]) if source != "written"]
    texts, doc_ids = [part["text"][i] for i in real], [part["doc_id"][i] for i in real]
    gold = np.array([part["target"][i] for i in real], dtype=int).reshape(len(real), len(labels))
    ours = decisions(f"models:/{name}/{candidate}", texts, labels)
    theirs = decisions(f"models:/{name}/{champion}", texts, labels)
    verdict = compare(gold, ours, theirs, doc_ids, margin, resamples)
    head = f"version {candidate} against champion version {champion} on real {split} ({corpus}):"
    return Verdict(verdict.passed, head + "\n" + verdict.evidence)
