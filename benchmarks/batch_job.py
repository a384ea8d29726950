"""Throughput and peak memory of ``python -m inference.batch`` on a large JSON Lines input.

    .venv/bin/python benchmarks/batch_job.py [--model DIR] [--size-mb 100] [--limit-mb N] [--chunk-size 1000]

Writes a ``--size-mb`` input into a temporary folder by repeating the real sentences of
the built corpus (``../shared/data`` through ``build/corpus.jsonl``; the file is removed
afterwards, never committed), then scores it (or only its first ``--limit-mb``, cut at a
line) with the batch job in a child process. Without ``--model`` the model is the tests'
tiny random BERT, so the figure is the job's own cost (reading, chunks, writing) plus a
small forward pass, not MiniLM's. Prints one JSON object; docs/SCALING.md records results.
Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.inference_speed import cpu_name  # noqa: E402


def write_input(path: Path, size_mb: float, corpus: Path) -> int:
    """Repeat the corpus's sentences as ``{"id", "text"}`` lines until ``path`` holds ``size_mb`` MB."""
    with open(corpus, encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle]
    target, written, count = int(size_mb * 1_000_000), 0, 0
    with open(path, "w", encoding="utf-8") as out:
        while written < target:
            line = json.dumps({"id": str(count), "text": texts[count % len(texts)]}, ensure_ascii=False) + "\n"
            out.write(line)
            written += len(line.encode("utf-8"))
            count += 1
    return count


def head(source: Path, path: Path, limit_mb: float) -> int:
    """The first ``limit_mb`` MB of ``source`` (whole lines) in ``path``; returns the line count."""
    target, written, count = int(limit_mb * 1_000_000), 0, 0
    with open(source, "rb") as handle, open(path, "wb") as out:
        for line in handle:
            if written >= target:
                break
            out.write(line)
            written, count = written + len(line), count + 1
    return count


def tiny_model(folder: Path) -> Path:
    """The tests' tiny random BERT with all nine labels (no pretrained weights needed)."""
    from tests.conftest import make_model_dir

    return make_model_dir(folder / "tiny-model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model directory or MLflow URI (default: the tiny random test model)")
    parser.add_argument("--corpus", type=Path, default=ROOT / "build/corpus.jsonl")
    parser.add_argument("--size-mb", type=float, default=100)
    parser.add_argument("--limit-mb", type=float, help="score only the input's first MB (whole lines)")
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    from training.corpus import ensure_built

    ensure_built(args.corpus)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        generated = folder / "input.jsonl"
        lines = write_input(generated, args.size_mb, args.corpus)
        scored, scored_lines = generated, lines
        if args.limit_mb:
            scored = folder / "head.jsonl"
            scored_lines = head(generated, scored, args.limit_mb)
        model = args.model or str(tiny_model(folder))
        command = [sys.executable, "-m", "inference.batch", "--model", model, "--input", str(scored),
                   "--output", str(folder / "output.jsonl"), "--chunk-size", str(args.chunk_size),
                   "--batch-size", str(args.batch_size)]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the job is the only child
        print(json.dumps({
            "date": date.today().isoformat(),
            "machine": f"{cpu_name()} ({platform.machine()}), {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
            "model": args.model or "tiny random BERT (tests)",
            "input_mb": round(generated.stat().st_size / 1e6, 1), "input_lines": lines,
            "scored_mb": round(scored.stat().st_size / 1e6, 2), "scored_lines": scored_lines,
            "output_mb": round((folder / "output.jsonl").stat().st_size / 1e6, 1),
            "chunk_size": args.chunk_size, "seconds": round(seconds, 1),
            "lines_per_second": round(scored_lines / seconds, 1),
            "mb_per_second": round(scored.stat().st_size / 1e6 / seconds, 3),
            "peak_rss_mb": round(peak_mb, 1),
        }))


if __name__ == "__main__":
    main()
