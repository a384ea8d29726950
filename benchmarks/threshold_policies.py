"""Per-label thresholds: tuned on dev against shrunk towards 0.5, clipped, or fixed, judged on dev.

    .venv/bin/python benchmarks/threshold_policies.py --model artifacts/default [--scores cache.npz]

Each label's threshold is tuned on dev from as few as 27 positives, so it may fit dev's
noise. This compares policies without touching test: dev's documents are split in halves
30 times; each policy sets thresholds on one half and is scored on the other (mean and
spread of micro-, macro- and document micro-F1). Test figures, with 95% bootstrap intervals
over documents, are printed once for the record, thresholds set on the whole of dev.
``--scores`` caches the model's dev and test scores (a file outside the repository). Not a test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from inference import load_classifier
from inference.env import configure_offline
from training.corpus import ensure_built, load_records
from training.errors import score_split
from training.evaluate import evaluate, tune_thresholds

POLICIES = ("tuned", "fixed_0.5", "clip_0.3_0.7", "shrink_10", "shrink_30", "shrink_100")


def thresholds(policy: str, scores: np.ndarray, gold: np.ndarray, labels: tuple[str, ...]) -> dict[str, float]:
    """One policy's thresholds from (dev) scores; ``shrink_k`` pulls towards 0.5 as if k more positives said 0.5.

    Example:
        >>> thresholds("shrink_10", np.array([[0.9], [0.1]]), np.array([[1], [0]]), ("aid",))["aid"] < 0.9
        True
    """
    tuned = tune_thresholds(scores, gold, labels)
    if policy == "tuned":
        return tuned
    if policy == "fixed_0.5":
        return dict.fromkeys(labels, 0.5)
    if policy == "clip_0.3_0.7":
        return {label: min(max(value, 0.3), 0.7) for label, value in tuned.items()}
    k, positives = float(policy.split("_")[1]), gold.sum(axis=0)
    return {label: float((positives[j] * tuned[label] + k * 0.5) / (positives[j] + k))
            for j, label in enumerate(labels)}


def scored(model: str, cache: Path | None) -> dict[str, np.ndarray]:
    if cache and cache.exists():
        return dict(np.load(cache))
    classifier, records = load_classifier(model), load_records(ensure_built())
    out = {"labels": np.array(classifier.labels)}
    for split in ("dev", "test"):
        part = score_split(classifier, records, split)
        out |= {f"{split}_scores": part.scores, f"{split}_gold": part.gold,
                f"{split}_doc": np.array([r.doc_id for r in part.records])}
    if cache:
        np.savez(cache, **out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="artifacts/default")
    parser.add_argument("--scores", type=Path, help="cache of the model's dev and test scores (.npz)")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    configure_offline()
    d = scored(args.model, args.scores)
    labels = tuple(d["labels"].tolist())
    scores, gold, docs = d["dev_scores"], d["dev_gold"], d["dev_doc"]
    rng = np.random.default_rng(0)
    results: dict[str, list[tuple[float, float, float]]] = {policy: [] for policy in POLICIES}
    for _ in range(args.repeats):
        half = set(rng.permutation(np.unique(docs))[: len(np.unique(docs)) // 2])
        a = np.array([doc in half for doc in docs])
        for policy in POLICIES:
            report = evaluate(scores[~a], gold[~a], thresholds(policy, scores[a], gold[a], labels), labels,
                              list(docs[~a]))
            results[policy].append((report.micro_f1, report.macro_f1, report.doc_micro_f1))
    print(f"| policy | dev micro-F1 | dev macro-F1 | dev doc micro-F1 | (split halves: mean ± sd, {args.repeats}x) |")
    print("|---|---|---|---|---|")
    for policy, values in results.items():
        m, s = np.mean(values, axis=0), np.std(values, axis=0)
        print(f"| {policy} | {m[0]:.3f} ± {s[0]:.3f} | {m[1]:.3f} ± {s[1]:.3f} | {m[2]:.3f} ± {s[2]:.3f} | |")
    print("\n| policy | test micro-F1 | test macro-F1 | test doc micro-F1 | test arms_deal F1 |\n|---|---|---|---|---|")
    for policy in POLICIES:
        r = evaluate(d["test_scores"], d["test_gold"], thresholds(policy, scores, gold, labels), labels,
                     list(d["test_doc"]), bootstrap=1000, seed=13)
        print(f"| {policy} | {r.micro_f1:.3f}{r.interval('micro_f1')} | {r.macro_f1:.3f}{r.interval('macro_f1')} | "
              f"{r.doc_micro_f1:.3f}{r.interval('doc_micro_f1')} | {r.per_label['arms_deal']['f1']:.3f} |")


if __name__ == "__main__":
    main()
