"""Training steps per second in float32 against bfloat16 autocast (``train.precision``), interleaved.

    .venv/bin/python benchmarks/train_precision.py [--config configs/default.yaml] [--rounds 8] [--block 25]

Two copies of the config's model train side by side on the same real training batches (the
corpus, length grouping and batch size of the config): each round gives every precision
the same ``--block`` batches, alternating which goes first, so a slow spell of a noisy
machine hits both alike. The first round warms up (oneDNN builds a kernel per new batch
shape) and is not counted. A step is the forward pass, loss, backward pass, gradient clip
and optimiser step, as in ``training.loop.fit``; padding the batch is outside the clock.
Prints the processor's bf16 support and one JSON object with batches/s per precision and
their ratio. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date

import torch

from training.config import load_config
from training.loop import autocast_dtype, encode, epoch_batches, native_bf16
from training.model import build_model
from training.train import load_splits

PRECISIONS = ("fp32", "bf16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/default.yaml")
    parser.add_argument("--rounds", type=int, default=8, help="rounds, the first one a warm-up")
    parser.add_argument("--block", type=int, default=25, help="batches per precision per round")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    labels = cfg.data.label_ids
    train = load_splits(cfg, labels)["train"]
    models = {}
    for precision in PRECISIONS:  # the same seed: both start from the same weights
        model, tokenizer = build_model(cfg.model, labels, train.texts, seed=cfg.seed)
        model.train()
        models[precision] = (model, torch.optim.AdamW(model.parameters(), lr=cfg.train.learning_rate))
    encodings = encode(tokenizer, train, cfg)
    lengths = [len(ids) for ids in encodings["input_ids"]]
    batches = epoch_batches(len(train.texts), cfg.train.batch_size, torch.Generator().manual_seed(cfg.seed), lengths)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    seconds, steps = dict.fromkeys(PRECISIONS, 0.0), dict.fromkeys(PRECISIONS, 0)
    device = torch.device("cpu")
    for round_ in range(args.rounds):
        for precision in PRECISIONS if round_ % 2 == 0 else PRECISIONS[::-1]:
            model, optimizer = models[precision]
            half = autocast_dtype(precision, device)
            for rows in batches[round_ * args.block : (round_ + 1) * args.block]:
                batch = tokenizer.pad({k: [encodings[k][i] for i in rows] for k in encodings}, return_tensors="pt")
                started = time.perf_counter()
                with torch.autocast("cpu", dtype=half or torch.float32, enabled=half is not None):
                    logits = model(**batch).logits
                loss_fn(logits.float(), torch.tensor(train.gold[rows])).backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad()
                if round_ > 0:
                    seconds[precision] += time.perf_counter() - started
                    steps[precision] += 1
        if round_ > 0:
            print(f"round {round_}: " + ", ".join(f"{p} {steps[p] / seconds[p]:.2f} batches/s" for p in PRECISIONS),
                  flush=True)
    rates = {p: round(steps[p] / seconds[p], 3) for p in PRECISIONS}
    print(json.dumps({"date": date.today().isoformat(), "processor": platform.processor() or platform.machine(),
                      "native_bf16": native_bf16(device), "threads": args.threads, "config": args.config,
                      "batches_timed": steps, "batches_per_s": rates,
                      "bf16_over_fp32": round(rates["bf16"] / rates["fp32"], 3)}))


if __name__ == "__main__":
    main()
