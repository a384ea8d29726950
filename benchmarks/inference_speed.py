"""Measure serving speed and memory: sentences per second and peak memory on a 1 MB article.

    .venv/bin/python benchmarks/inference_speed.py --model artifacts/default [--threads 2]

Prints one JSON object; docs/RESULTS.md records the numbers with the machine and date.
Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from datetime import date

import torch

from inference import load_classifier
from training.corpus import ensure_built, load_records


def cpu_name() -> str:
    """The processor's model name, from /proc/cpuinfo where there is one."""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="artifacts/default")
    parser.add_argument("--corpus", default="build/corpus.jsonl")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clf = load_classifier(args.model)
    texts = [r.text for r in load_records(ensure_built(args.corpus)) if r.split == "test"]
    clf.score(texts[:64])  # warm-up
    started = time.perf_counter()
    clf.score(texts, batch_size=args.batch_size)
    seconds = time.perf_counter() - started

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    article = " ".join(texts)
    article = (article + " ") * (1_000_000 // len(article) + 1)
    started = time.perf_counter()
    doc = clf.classify_document(article[:1_000_000], batch_size=args.batch_size)
    article_seconds = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "date": date.today().isoformat(),
        "machine": f"{cpu_name()} ({platform.machine()}), {torch.get_num_threads()} torch threads",
        "model": args.model,
        "sentences": len(texts),
        "sentences_per_second": round(len(texts) / seconds, 1),
        "article_chars": 1_000_000,
        "article_sentences": len(doc.sentences),
        "article_seconds": round(article_seconds, 1),
        "peak_rss_mb_before_article": round(rss_before / 1024),
        "peak_rss_mb_after_article": round(rss_after / 1024),
    }, indent=2))


if __name__ == "__main__":
    main()
