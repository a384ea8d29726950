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
            margin: float = DEFAULT_MARGIN, resamples: int = 1000, seed: int = 0,
            labels: tuple[str, ...] = ()) -> Verdict:
    """Judge two systems' 0/1 decisions on the same sentences (rows) and labels (columns).

    With ``labels`` (the columns' names) the evidence also gives each label's paired F1
    difference: a data round aimed at a few labels shows there first. It is reported, not
    judged: the verdict stays on the two micro-F1 figures.
    """
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
    if labels:
        lines.append("  per label, sentence F1 (reported, not judged):")
    for column, label in enumerate(labels):
        # One column's micro-F1 is that label's F1, so the same paired bootstrap serves.
        delta, lo, hi = paired_bootstrap(gold[:, [column]], candidate[:, [column]], champion[:, [column]],
                                         doc_ids, resamples, seed)["micro_f1"]
        reading = "better" if lo > 0 else "worse" if hi < 0 else "inside the interval"
        lines.append(f"    {label}: {delta:+.4f} [{lo:+.4f}, {hi:+.4f}] {reading}")
    return Verdict(passed, "\n".join(lines))


def judge_models(candidate: str, champion: str, corpus: Path, split: str = "dev", margin: float = DEFAULT_MARGIN,
                 resamples: int = 1000) -> Verdict:
    """Label the real sentences of ``split`` with two models (any ``load_classifier`` source) and compare them.

    Each model reads its sentences as it would serve them: a context model with its document's context.
    """
    from inference import load_classifier
    from training.corpus import ensure_built, load_records
    from training.errors import score_split

    records = load_records(ensure_built(corpus))
    ours, theirs = (score_split(load_classifier(source), records, split) for source in (candidate, champion))
    if ours.labels != theirs.labels:
        raise ValueError(f"{candidate} predicts {list(ours.labels)}, {champion} {list(theirs.labels)}")
    return compare(ours.gold, ours.predicted, theirs.predicted, [r.doc_id for r in ours.records], margin, resamples,
                   labels=ours.labels)


def judge_versions(name: str, candidate: str, champion: str, corpus: Path, split: str = "dev",
                   margin: float = DEFAULT_MARGIN, resamples: int = 1000) -> Verdict:
    """Label the real sentences of ``split`` with two registered versions of ``name`` and compare them."""
    verdict = judge_models(f"models:/{name}/{candidate}", f"models:/{name}/{champion}", corpus, split, margin,
                           resamples)
    head = f"version {candidate} against champion version {champion} on real {split} ({corpus}):"
    return Verdict(verdict.passed, head + "\n" + verdict.evidence)


def main(argv: list[str] | None = None) -> int:
    """``python -m training.gate --candidate A --champion B``: the gate's evidence for any two models, no promotion.

    For experiments: A and B are model directories or MLflow URIs (another registered name, a run).
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m training.gate", description=main.__doc__.splitlines()[0])
    parser.add_argument("--candidate", required=True, help="model directory or MLflow URI")
    parser.add_argument("--champion", required=True, help="model directory or MLflow URI")
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--corpus", type=Path, default=Path("build/corpus.jsonl"))
    args = parser.parse_args(argv)
    verdict = judge_models(args.candidate, args.champion, args.corpus, args.split, args.margin, args.resamples)
    print(f"{args.candidate} against {args.champion} on real {args.split}:\n{verdict.evidence}")
    print("not worse beyond the margin" if verdict.passed else "WORSE beyond the margin")
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
