"""Backends side by side: PyTorch fp32 and bf16, ONNX int8 and fp32, with and without the cascade, against a pipeline.

    .venv/bin/python benchmarks/backends.py --model MODEL_DIR [--quick] [--threads 2] [--rounds 3]

MODEL_DIR needs the fast-path files (``python -m training.fast_path MODEL_DIR``). On the real
test sentences, in one run: sentences/s at batch 1, 8, 32 and 128; single-sentence p50/p95
latency; parity against PyTorch fp32; and, each in a fresh subprocess, cold start (import
plus load plus one sentence), a 1 MB article end to end, and peak resident memory (the
child's ``VmHWM``). The pipeline runs on the same weights with its defaults and at batch 32.
Rates are timed in interleaved rounds (every path once per round, the pipeline included),
so a slow spell of a noisy machine hits all paths alike; each rate is the median over the
rounds and each ratio the median of the per-round ratios against the pipeline's default.
Prints one JSON object. Not a test: timings depend on the machine (and on whatever else it
runs). Where the time of the int8 model goes: ``benchmarks/onnx_profile.py``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

from inference import load_classifier
from inference.artifact import read_meta
from inference.backends import native_bf16
from training.corpus import ensure_built
from training.fast_path import corpus_splits, parity

BATCHES = (1, 8, 32, 128)


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB, from ``VmHWM`` in /proc/self/status (Linux).

    Not ``ru_maxrss``: for a child started with fork and exec it can report the parent's peak.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # the kernel reports kB
    raise OSError("no VmHWM in /proc/self/status")


# One subprocess per backend: cold start, then the 1 MB article, then its peak memory.
# The memory reader is pasted in, not imported: importing this module would load numpy and
# training in the child and inflate both its cold start and its memory.
CHILD = inspect.getsource(peak_rss_mb) + """
import json, sys, time
started = time.perf_counter()
from inference import load_classifier
clf = load_classifier(sys.argv[1], backend=sys.argv[2], cascade=sys.argv[3] == "on")
clf.predict(["Talks began in Geneva."])
cold = time.perf_counter() - started
article = open(sys.argv[4], encoding="utf-8").read()
# The split alone, timed apart: it tells the document path's own cost from the model's.
from inference.text import split_sentences
started = time.perf_counter()
split_sentences(article)
split = time.perf_counter() - started
started = time.perf_counter()
doc = clf.classify_document(article)
print(json.dumps({"cold_start_s": round(cold, 2), "article_s": round(time.perf_counter() - started, 2),
                  "article_split_s": round(split, 4), "article_sentences": len(doc.sentences),
                  "peak_rss_mb": round(peak_rss_mb())}))
"""


def throughput(score, texts: list[str], batch_size: int) -> float:
    started = time.perf_counter()
    score(texts, batch_size)
    return round(len(texts) / (time.perf_counter() - started), 1)


def latency_ms(score, texts: list[str]) -> dict[str, float]:
    times = []
    for text in texts:
        started = time.perf_counter()
        score([text], 1)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(float(np.percentile(times, 50)), 2), "p95_ms": round(float(np.percentile(times, 95)), 2)}


def pipeline_scorer(model_dir: Path, batch_size: int | None, max_length: int):
    """transformers' text-classification pipeline on the same weights, sigmoid over all labels, same truncation."""
    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir), top_k=None,
                    function_to_apply="sigmoid", device="cpu")
    kwargs = {} if batch_size is None else {"batch_size": batch_size}
    return lambda texts, _batch: pipe(texts, truncation=True, max_length=max_length, **kwargs)


PIPELINE_DEFAULT = "pipeline (defaults)"


def interleaved_rates(scorers: dict, texts: list[str], rounds: int) -> dict[str, dict[str, float]]:
    """Sentences/s of every scorer ({name: (score, batch sizes)}) over ``rounds`` interleaved rounds.

    Returns, per name, the median rate at each batch size (``batch_B``) and the median of the
    per-round ratios of its batch-32 rate (or its only rate) to the pipeline's default rate.
    """
    measured: dict[str, dict[str, list[float]]] = {name: {} for name in scorers}
    for _ in range(rounds):
        for name, (score, batches) in scorers.items():
            for batch in batches:
                measured[name].setdefault(f"batch_{batch}", []).append(throughput(score, texts, batch))
    base = measured[PIPELINE_DEFAULT]["batch_1"]
    result = {}
    for name, rates in measured.items():
        headline = rates.get("batch_32", next(iter(rates.values())))
        result[name] = {key: round(float(np.median(values)), 1) for key, values in rates.items()}
        result[name]["batch_32_vs_pipeline_default"] = round(float(np.median(np.divide(headline, base))), 2)
        result[name]["rounds"] = rounds
    return result


def in_subprocess(model_dir: Path, backend: str, cascade: str, article: Path, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(model_dir), backend, cascade, str(article)],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, default=Path("build/corpus.jsonl"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="512 sentences, 100 single-sentence calls")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (the median is reported)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    meta = read_meta(args.model)
    test = corpus_splits(ensure_built(args.corpus), meta.labels)["test"]
    sample = test.texts[:: max(1, len(test.texts) // 512)] if args.quick else test.texts
    gold = test.gold[:: max(1, len(test.texts) // 512)] if args.quick else test.gold
    singles = sample[: 100 if args.quick else 300]
    article = Path(args.model).parent / f".{Path(args.model).name}.article.txt"
    text = " ".join(test.texts)
    article.write_text(((text + " ") * (1_000_000 // len(text) + 1))[:1_000_000], encoding="utf-8")

    reference = load_classifier(args.model, backend="torch", cascade=False).score(sample)
    # PyTorch bf16 is benchmarked only where it is native, as the fast path measures it.
    backends = ("torch", *(["torch-bf16"] if native_bf16() else []), "onnx-fp32", "onnx")
    paths = [(b, c) for b in backends for c in ("off", "on") if c == "off" or meta.cascade_cutoff is not None]
    scorers, rows = {}, {}
    for backend, cascade in paths:
        clf = load_classifier(args.model, backend=backend, cascade=cascade == "on")
        name = f"{backend}{' + cascade' if cascade == 'on' else ''}"
        clf.score(sample[:64])  # warm-up
        scorers[name] = (clf.score, BATCHES)
        rows[name] = latency_ms(clf.score, singles)
        rows[name]["parity"] = parity(reference, clf.score(sample), gold, meta.thresholds, meta.labels).__dict__
        rows[name].update(in_subprocess(args.model, backend, cascade, article, args.threads))
        print(name, rows[name], file=sys.stderr, flush=True)
    for name, batch in ((PIPELINE_DEFAULT, None), ("pipeline batch_size=32", 32)):
        score = pipeline_scorer(args.model, batch, meta.max_length)
        score(sample[:16], None)
        scorers[name] = (score, (batch or 1,))
        rows[name] = {}
    for name, rates in interleaved_rates(scorers, sample, args.rounds).items():
        rows[name].update(rates)
        print(name, rows[name], file=sys.stderr, flush=True)
    article.unlink()
    print(json.dumps({
        "date": date.today().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {args.threads} threads",
        "load_average_at_end": os.getloadavg(),
        "model": str(args.model),
        "sentences": len(sample),
        "paths": rows,
    }, indent=2))


if __name__ == "__main__":
    main()
