"""Sentences per second by backend, thread count and thread waiting (spinning or sleeping).

    .venv/bin/python benchmarks/thread_waits.py [--model DIR] [--sentences 1000] [--rounds 2]

Why it exists: on a machine whose cores another process holds (a training run), threads
that spin-wait between operations can cost most of the throughput. PyTorch's OpenMP reads
``OMP_WAIT_POLICY`` once, when torch is imported, so each round runs one child process with
``ACTIVE`` (spinning, OpenMP's behaviour by default) and one with ``PASSIVE`` (sleeping,
what ``python -m inference.batch`` sets), in turn. Each child scores the first
``--sentences`` real sentences of the built corpus at batch 32: PyTorch at every available
CPU and at one thread; and, in the ``PASSIVE`` child, every ONNX backend the model
directory has, spinning and not (ONNX Runtime has its own thread pool, set per session).
It also reports whether the scores at one thread equal those at all of them (the batch
job's resume check assumes so). Without ``--model`` the model is the tests' tiny random
BERT, exported to ONNX as training does. Prints one JSON object a line. Not a test:
timings depend on the machine and its load, which every line records.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

POLICIES = ("ACTIVE", "PASSIVE")


def real_sentences(corpus: Path, count: int) -> list[str]:
    with open(corpus, encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line, _ in zip(handle, range(count))]


def measure(clf, texts: list[str]) -> tuple[float, object]:
    """Sentences per second of ``clf.score`` at batch 32, after a one-batch warm-up, and the scores."""
    clf.score(texts[:32], 32)
    started = time.perf_counter()
    scores = clf.score(texts, 32)
    return len(texts) / (time.perf_counter() - started), scores


def child(model: str, texts: list[str]) -> None:
    """One process's measurements (its OMP_WAIT_POLICY came from the parent), one JSON line each."""
    import numpy as np

    from inference import load_classifier
    from inference.artifact import ArtifactError, onnx_files
    from inference.backends import available_cpus

    policy, cpus = os.environ["OMP_WAIT_POLICY"], available_cpus()

    def report(backend: str, threads: int, waiting: str, rate: float) -> None:
        print(json.dumps({"backend": backend, "threads": threads, "waiting": waiting,
                          "sentences_per_second": round(rate, 1), "load": round(os.getloadavg()[0], 2)}), flush=True)

    waiting = "spin (OMP_WAIT_POLICY=ACTIVE)" if policy == "ACTIVE" else "sleep (OMP_WAIT_POLICY=PASSIVE)"
    scores = {}
    for threads in (cpus, 1):
        rate, scores[threads] = measure(load_classifier(model, backend="torch", threads=threads), texts)
        report("torch", threads, waiting, rate)
    same = {"torch": bool(np.array_equal(scores[cpus], scores[1]))}
    if policy == "PASSIVE":
        for backend in ("onnx-fp32", "onnx"):
            try:
                onnx_files(Path(model), backend)
            except ArtifactError:  # the directory has no such export: nothing to measure
                continue
            runs = {}
            for threads, spinning in ((cpus, True), (cpus, False), (1, False)):
                clf = load_classifier(model, backend=backend, threads=threads, spinning=spinning)
                rate, runs[threads, spinning] = measure(clf, texts)
                report(backend, threads, "spin" if spinning else "sleep", rate)
            same[backend] = bool(np.array_equal(runs[cpus, True], runs[1, False]))
    print(json.dumps({"policy": policy, "scores_equal_at_1_and_all_threads": same}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model directory (default: the tiny random test model)")
    parser.add_argument("--corpus", type=Path, default=ROOT / "build/corpus.jsonl")
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from training.corpus import ensure_built

    ensure_built(args.corpus)
    texts = real_sentences(args.corpus, args.sentences)
    if args.child:
        child(args.model, texts)
        return
    with tempfile.TemporaryDirectory() as folder:
        if args.model is None:
            from benchmarks.batch_job import tiny_model
            from inference.export import export_onnx
            from training.fast_path import QUANTIZATION

            args.model = str(tiny_model(Path(folder)))
            export_onnx(Path(args.model), QUANTIZATION)  # as training's fast path does
        for round_ in range(1, args.rounds + 1):
            for policy in POLICIES:
                command = [sys.executable, __file__, "--child", "--model", args.model, "--corpus", str(args.corpus),
                           "--sentences", str(args.sentences)]
                done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False,
                                      env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": policy})
                if done.returncode != 0:
                    raise SystemExit(done.stderr[-3000:])
                for line in done.stdout.splitlines():
                    print(json.dumps({"round": round_, **json.loads(line)}), flush=True)


if __name__ == "__main__":
    main()
