"""Where an ONNX model's time goes: onnxruntime's profiler, summed by operator type.

    .venv/bin/python benchmarks/onnx_profile.py --model MODEL_DIR [--backend onnx] [--sentences 512]
        [--batch-size 32] [--threads 2]

Scores real test sentences at one batch size with profiling on (``SessionOptions.enable_profiling``)
and prints the share of operator time per op type (MatMulInteger, DynamicQuantizeLinear,
LayerNormalization, Gelu, Where, Transpose, ...) as one JSON object, so a missed speed target
can be explained: time in quantise/dequantise and fp32 element-wise ops is what int8 does not
speed up. Not a test: shares depend on the machine, the batch size and the thread count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from collections import defaultdict
from datetime import date
from pathlib import Path

from inference.artifact import onnx_files, read_meta
from inference.backends import Encoder, OnnxBackend
from inference.classifier import Classifier
from inference.export import spaced
from training.corpus import ensure_built
from training.fast_path import corpus_splits


def op_shares(trace: list[dict]) -> dict[str, dict[str, float]]:
    """``{op type: {"ms": total, "share": of all operator time}}`` from an onnxruntime profile, largest first.

    Example:
        >>> op_shares([{"cat": "Node", "dur": 30, "args": {"op_name": "MatMulInteger"}},
        ...            {"cat": "Node", "dur": 10, "args": {"op_name": "Gelu"}}])["Gelu"]
        {'ms': 0.01, 'share': 0.25}
    """
    totals: dict[str, float] = defaultdict(float)
    for event in trace:
        op = event.get("args", {}).get("op_name")
        if event.get("cat") == "Node" and op:  # each node's kernel time, in microseconds
            totals[op] += event.get("dur", 0)
    return shares(totals)


def shares(microseconds: dict[str, float]) -> dict[str, dict[str, float]]:
    """``{name: {"ms": total, "share": of the whole}}`` from totals in microseconds, largest first.

    Example:
        >>> shares({"a": 1000.0, "b": 3000.0})
        {'b': {'ms': 3.0, 'share': 0.75}, 'a': {'ms': 1.0, 'share': 0.25}}
    """
    whole = sum(microseconds.values()) or 1.0
    return {name: {"ms": round(us / 1000, 2), "share": round(us / whole, 4)}
            for name, us in sorted(microseconds.items(), key=lambda item: -item[1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--backend", default="onnx", choices=("onnx", "onnx-fp32"))
    parser.add_argument("--corpus", type=Path, default=Path("build/corpus.jsonl"))
    parser.add_argument("--sentences", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    meta = read_meta(args.model)
    texts = spaced(corpus_splits(ensure_built(args.corpus), meta.labels)["test"].texts, args.sentences)
    model, tokenizer_json, pad = onnx_files(args.model, args.backend)
    with tempfile.TemporaryDirectory(prefix="onnx-profile-") as work:
        engine = OnnxBackend(model, args.backend, args.threads, profile_prefix=str(Path(work) / "trace"))
        Classifier(engine, Encoder.from_file(tokenizer_json, meta.max_length, pad), meta).score(texts, args.batch_size)
        trace = json.loads(Path(engine.session.end_profiling()).read_text(encoding="utf-8"))
    print(json.dumps({
        "date": date.today().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {args.threads} threads",
        "model": str(model), "sentences": len(texts), "batch_size": args.batch_size,
        "op_types": op_shares(trace),
    }, indent=2))


if __name__ == "__main__":
    main()
