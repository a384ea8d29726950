"""Where a PyTorch backend's time goes at small batches: latency, and torch's profiler summed by operator.

    .venv/bin/python benchmarks/torch_profile.py --model MODEL_DIR [--backend torch-bf16] [--bf16-weights]
        [--sentences 250] [--batch-size 1] [--threads 2]

Times each call of ``Classifier.score`` on real test sentences (p50 and p95, after a warm-up)
and then profiles some of those calls with ``torch.profiler``, printing the share of operator
time per aten op as one JSON object, plus the time outside operators (tokenisation, Python).
It explains the single-sentence latency of ``torch`` and ``torch-bf16``: under autocast,
``aten::copy_`` and ``aten::_to_copy`` are the casts of weights and activations to bfloat16.
``--bf16-weights`` stores the Linear layers' weights in bfloat16 first (scores unchanged: autocast
rounds them the same way), to measure what casting them on every call costs. Not a test:
figures depend on the machine, the batch size and the thread count.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.inference_speed import cpu_name  # noqa: E402
from benchmarks.onnx_profile import shares  # noqa: E402
from inference.artifact import read_meta  # noqa: E402
from inference.load import load_classifier  # noqa: E402
from training.corpus import ensure_built  # noqa: E402
from training.fast_path import corpus_splits  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--backend", default="torch-bf16", choices=("torch", "torch-bf16"))
    parser.add_argument("--bf16-weights", action="store_true", help="store the Linear weights in bfloat16 first")
    parser.add_argument("--corpus", type=Path, default=ROOT / "build" / "corpus.jsonl")
    parser.add_argument("--sentences", type=int, default=250, help="timed calls (after 50 warm-up calls)")
    parser.add_argument("--profiled", type=int, default=50, help="calls profiled after the timed ones")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.bf16_weights and args.backend != "torch-bf16":
        parser.error("--bf16-weights needs --backend torch-bf16 (fp32 would run its products in bfloat16)")
    import torch
    from torch.profiler import ProfilerActivity, profile

    meta = read_meta(args.model)
    texts = corpus_splits(ensure_built(args.corpus), meta.labels)["test"].texts
    clf = load_classifier(args.model, backend=args.backend, cascade=False, threads=args.threads)
    if args.bf16_weights:
        for module in clf.backend.model.modules():
            if isinstance(module, torch.nn.Linear):
                module.to(torch.bfloat16)
    size = args.batch_size
    calls = [texts[i:i + size] for i in range(0, len(texts), size)]
    warm, timed = calls[:50], calls[50:50 + args.sentences]
    profiled = calls[50 + args.sentences:50 + args.sentences + args.profiled]
    if len(profiled) < args.profiled:
        parser.error(f"the test split has {len(calls)} calls of {size}; ask for fewer --sentences or --profiled")
    for batch in warm:
        clf.score(batch, size)
    seconds = []
    for batch in timed:
        start = time.perf_counter()
        clf.score(batch, size)
        seconds.append(time.perf_counter() - start)
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for batch in profiled:
            clf.score(batch, size)
    wall_us = (time.perf_counter() - start) * 1e6
    ops = {event.key: event.self_cpu_time_total for event in prof.key_averages()}
    print(json.dumps({
        "date": date.today().isoformat(),
        "machine": f"{cpu_name()}, {args.threads} threads",
        "model": str(args.model), "backend": args.backend, "bf16_weights": args.bf16_weights,
        "batch_size": size, "timed_calls": len(seconds),
        "p50_ms": round(1000 * float(np.median(seconds)), 2),
        "p95_ms": round(1000 * float(np.quantile(seconds, 0.95)), 2),
        # Profiling adds overhead, so these are per profiled call, not the latency above.
        "profiled_ms_per_call": round(wall_us / 1000 / len(profiled), 2),
        "outside_operators_ms_per_call": round((wall_us - sum(ops.values())) / 1000 / len(profiled), 2),
        "aten_ops": dict(list(shares(ops).items())[:12]),
    }, indent=2))


if __name__ == "__main__":
    main()
