"""Quality of a trained model against the TF-IDF baseline, per kind of real text, with bootstrap intervals.

    .venv/bin/python benchmarks/quality_by_source.py --model artifacts/default [--split test]

The judged text is news like the seed, while most of the real test split is official prose
(press releases, Kremlin items, resolutions, history essays). This prints, for the whole
split, for its news part (VOA, Wikinews, the seed), for the part that was corpus v1's
whole split (its VOA stories and the seed) and for its official part, sentence
micro- and macro-F1, requested-types macro-F1 and document micro-F1, each with a 95%
bootstrap interval over documents, for the model and for TF-IDF + logistic regression fitted
here exactly as ``configs/tfidf-logreg.yaml`` does (thresholds tuned on dev). Not a test.
"""

from __future__ import annotations

import argparse
from datetime import date

import numpy as np

from inference import load_classifier
from inference.env import configure_offline
from training.baselines import TfidfLogReg
from training.config import load_config
from training.corpus import ensure_built, load_records, multi_hot
from training.evaluate import evaluate, tune_thresholds

NEWS = ("voa", "wikinews", "seed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="artifacts/default")
    parser.add_argument("--split", default="test", choices=("dev", "test"))
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    configure_offline()
    classifier = load_classifier(args.model)
    labels = classifier.meta.labels
    records = load_records(ensure_built())
    by_split = {s: [r for r in records if r.split == s] for s in ("train", "dev", args.split)}

    def gold(rows):
        return np.array([multi_hot(r.labels, labels) for r in rows], dtype=int)

    cfg = load_config("configs/tfidf-logreg.yaml")
    tfidf = TfidfLogReg(labels, cfg.baseline, cfg.seed)
    tfidf.fit([r.text for r in by_split["train"]], gold(by_split["train"]))
    tfidf_thresholds = tune_thresholds(tfidf.score([r.text for r in by_split["dev"]]), gold(by_split["dev"]), labels)
    rows = by_split[args.split]
    texts = [r.text for r in rows]
    scorers = {args.model: (classifier.score(texts, 64), classifier.meta.thresholds),
               "tfidf-logreg": (tfidf.score(texts), tfidf_thresholds)}
    parts = {"all": list(range(len(rows))),
             "news (VOA, Wikinews, seed)": [i for i, r in enumerate(rows) if r.source in NEWS],
             "corpus v1's split (VOA, seed)": [i for i, r in enumerate(rows) if r.source in ("voa", "seed")],
             "official (statements, Kremlin, resolutions, essays)":
                 [i for i, r in enumerate(rows) if r.source not in NEWS]}
    print(f"{args.split} split, {date.today()}, {args.resamples} bootstrap resamples over documents\n")
    print("| part | sentences / documents | model | micro-F1 | macro-F1 | requested macro-F1 | document micro-F1 |")
    print("|---|---|---|---|---|---|---|")
    for part, index in parts.items():
        members = [rows[i] for i in index]
        for name, (scores, thresholds) in scorers.items():
            report = evaluate(scores[index], gold(members), thresholds, labels, [r.doc_id for r in members],
                              bootstrap=args.resamples)
            print(f"| {part} | {report.sentences} / {report.documents} | `{name}` | "
                  f"{report.micro_f1:.3f}{report.interval('micro_f1')} | {report.macro_f1:.3f}"
                  f"{report.interval('macro_f1')} | {report.requested_macro_f1:.3f}"
                  f"{report.interval('requested_macro_f1')} | {report.doc_micro_f1:.3f}"
                  f"{report.interval('doc_micro_f1')} |")


if __name__ == "__main__":
    main()
