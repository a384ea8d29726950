"""Throughput and peak memory of ``python -m inference.batch`` on a large JSON Lines input.

    .venv/bin/python benchmarks/batch_job.py [--model DIR] [--backend NAME] [--threads N] [--size-mb 100]
                                             [--limit-mb N] [--chunk-size 1000]

Writes a ``--size-mb`` input into a temporary folder by repeating the real sentences of
the built corpus (``../shared/data`` through ``build/corpus.jsonl``; the file is removed
afterwards, never committed), then scores it (or only its first ``--limit-mb``, cut at a
line) with the batch job in a child process, sampling the child's resident memory every
``--sample-seconds`` from ``/proc`` to show that it stays flat. Without ``--model`` the model is
the tests' tiny random BERT, so the figure is the job's own cost (reading, chunks, writing)
plus a small forward pass, not MiniLM's. Checks that the output has one line per input
line, and prints one JSON object; docs/SCALING.md records results. Not a test: timings
depend on the machine and what else runs on it (the load averages before and after are in
the result).
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
from datetime import UTC, datetime
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


def rss_mb(pid: int) -> float | None:
    """Resident memory of a running process in MB (``VmRSS``), or ``None`` once it has gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def run_sampled(command: list[str], every: float) -> tuple[subprocess.CompletedProcess, list[tuple[float, float]]]:
    """Run ``command`` and sample its RSS every ``every`` seconds; returns (result, [(seconds, MB), ...])."""
    samples: list[tuple[float, float]] = []
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:  # a file, not a pipe: a full pipe would stall the job
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                   stdout=subprocess.DEVNULL, stderr=err, text=True)
        while process.poll() is None:
            current = rss_mb(process.pid)
            if current is not None:
                samples.append((time.perf_counter() - started, current))
            time.sleep(every)
        err.seek(0)
        return subprocess.CompletedProcess(command, process.returncode, "", err.read()), samples


def memory_profile(samples: list[tuple[float, float]], points: int = 10) -> list[list[float]]:
    """The highest RSS in each tenth of the run, as ``[end second, MB]``: flat when memory is bounded.

    Example:
        >>> memory_profile([(0.5, 100.0), (1.0, 300.0), (1.5, 310.0), (2.0, 305.0)], points=2)
        [[1.0, 300.0], [2.0, 310.0]]
    """
    if not samples:
        return []
    end = samples[-1][0]
    profile = []
    for index in range(1, points + 1):
        low, high = end * (index - 1) / points, end * index / points
        window = [mb for seconds, mb in samples if low < seconds <= high]
        if window:
            profile.append([round(high, 1), round(max(window), 1)])
    return profile


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model directory or MLflow URI (default: the tiny random test model)")
    parser.add_argument("--backend", help="torch, onnx or onnx-fp32 (default: the model directory's)")
    parser.add_argument("--threads", type=int, help="the job's --threads (default: every available CPU)")
    parser.add_argument("--corpus", type=Path, default=ROOT / "build/corpus.jsonl")
    parser.add_argument("--size-mb", type=float, default=100)
    parser.add_argument("--limit-mb", type=float, help="score only the input's first MB (whole lines)")
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sample-seconds", type=float, default=1.0, help="how often the job's RSS is read")
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
        output = folder / "output.jsonl"
        command = [sys.executable, "-m", "inference.batch", "--model", model, "--input", str(scored),
                   "--output", str(output), "--chunk-size", str(args.chunk_size),
                   "--batch-size", str(args.batch_size)]
        command += ["--backend", args.backend] if args.backend else []
        command += ["--threads", str(args.threads)] if args.threads else []
        load_before = os.getloadavg()
        started = time.perf_counter()
        done, samples = run_sampled(command, args.sample_seconds)
        seconds = time.perf_counter() - started
        load_after = os.getloadavg()
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        output_lines = count_lines(output)
        if output_lines != scored_lines:  # every generated line is valid, so none may be missing
            raise SystemExit(f"the output has {output_lines} lines for {scored_lines} input lines")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the job is the only child
        print(json.dumps({
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{cpu_name()} ({platform.machine()}), {os.cpu_count()} CPUs",
            "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in load_after],
            "model": args.model or "tiny random BERT (tests)", "backend": args.backend or "model default",
            "threads": args.threads or "all", "command": " ".join(command[1:]),
            "input_mb": round(generated.stat().st_size / 1e6, 1), "input_lines": lines,
            "scored_mb": round(scored.stat().st_size / 1e6, 2), "scored_lines": scored_lines,
            "output_lines": output_lines, "output_mb": round(output.stat().st_size / 1e6, 1),
            "chunk_size": args.chunk_size, "batch_size": args.batch_size, "seconds": round(seconds, 1),
            "lines_per_second": round(scored_lines / seconds, 1),
            "mb_per_second": round(scored.stat().st_size / 1e6 / seconds, 3),
            "peak_rss_mb": round(peak_mb, 1),
            "rss_mb_by_tenth": memory_profile(samples),
        }))


if __name__ == "__main__":
    main()
