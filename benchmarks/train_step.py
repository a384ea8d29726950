"""Training steps per second of two ways to train, interleaved: fp32 against bf16, or a looped against a fused AdamW.

    .venv/bin/python benchmarks/train_step.py [--compare precision|optimizer] [--config configs/default.yaml]
        [--rounds 8] [--block 25]

``--compare precision`` (the default) sets float32 against bfloat16 autocast
(``train.precision``), both with the optimiser training uses (:func:`training.loop.adamw`).
``--compare optimizer`` sets PyTorch's default AdamW, which loops in Python over the
parameter tensors, against the fused one training uses, both at the arithmetic the config's
``train.precision`` gives on this processor.

Two copies of the config's model train side by side on the same real training batches (the
corpus, length grouping and batch size of the config): each round gives every arm the same
``--block`` batches, alternating which goes first, so a slow spell of a noisy machine hits
both alike. The first round warms up (oneDNN builds a kernel per new batch shape) and is not
counted. A step is the forward pass, loss, backward pass, gradient clip and optimiser step,
as in ``training.loop.fit``; padding the batch is outside the clock, and the optimiser step
is also timed on its own. Prints the processor's bf16 support and one JSON object with
batches/s and optimiser milliseconds per arm and the ratio of the second arm's rate to the
first's. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date

import torch

from training.config import load_config
from training.loop import adamw, autocast_dtype, encode, epoch_batches, native_bf16
from training.model import build_model
from training.train import load_splits


def arms(compare: str, precision: str) -> dict[str, tuple[str, bool]]:
    """Each arm's name, with the ``train.precision`` it trains at and whether its AdamW is fused.

    Example:
        >>> arms("optimizer", "auto")
        {'loop': ('auto', False), 'fused': ('auto', True)}
    """
    if compare == "precision":
        return {"fp32": ("fp32", True), "bf16": ("bf16", True)}
    return {"loop": (precision, False), "fused": (precision, True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", choices=("precision", "optimizer"), default="precision")
    parser.add_argument("--config", default="configs/default.yaml")
    parser.add_argument("--rounds", type=int, default=8, help="rounds, the first one a warm-up")
    parser.add_argument("--block", type=int, default=25, help="batches per arm per round")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    labels = cfg.data.label_ids
    train = load_splits(cfg, labels)["train"]
    device = torch.device("cpu")
    chosen = arms(args.compare, cfg.train.precision)
    models = {}
    for name, (precision, fused) in chosen.items():  # the same seed: both start from the same weights
        model, tokenizer = build_model(cfg.model, labels, train.texts, seed=cfg.seed)
        model.train()
        optimizer = adamw(model.parameters(), cfg.train.learning_rate, cfg.train.weight_decay, device) if fused \
            else torch.optim.AdamW(model.parameters(), lr=cfg.train.learning_rate, weight_decay=cfg.train.weight_decay)
        models[name] = (model, optimizer, autocast_dtype(precision, device))
    encodings = encode(tokenizer, train, cfg)
    lengths = [len(ids) for ids in encodings["input_ids"]]
    batches = epoch_batches(len(train.texts), cfg.train.batch_size, torch.Generator().manual_seed(cfg.seed), lengths)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    names = list(chosen)
    seconds, optimiser_seconds, steps = dict.fromkeys(names, 0.0), dict.fromkeys(names, 0.0), dict.fromkeys(names, 0)
    for round_ in range(args.rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            model, optimizer, half = models[name]
            for rows in batches[round_ * args.block : (round_ + 1) * args.block]:
                batch = tokenizer.pad({k: [encodings[k][i] for i in rows] for k in encodings}, return_tensors="pt")
                started = time.perf_counter()
                with torch.autocast("cpu", dtype=half or torch.float32, enabled=half is not None):
                    logits = model(**batch).logits
                loss_fn(logits.float(), torch.tensor(train.gold[rows])).backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                stepping = time.perf_counter()
                optimizer.step()
                optimizer.zero_grad()
                if round_ > 0:
                    ended = time.perf_counter()
                    seconds[name] += ended - started
                    optimiser_seconds[name] += ended - stepping
                    steps[name] += 1
        if round_ > 0:
            print(f"round {round_}: " + ", ".join(f"{n} {steps[n] / seconds[n]:.2f} batches/s" for n in names),
                  flush=True)
    rates = {n: round(steps[n] / seconds[n], 3) for n in names}
    print(json.dumps({"date": date.today().isoformat(), "processor": platform.processor() or platform.machine(),
                      "native_bf16": native_bf16(device), "threads": args.threads, "config": args.config,
                      "arms": {n: {"precision": p, "fused_adamw": f} for n, (p, f) in chosen.items()},
                      "batches_timed": steps, "batches_per_s": rates,
                      "optimiser_ms": {n: round(1000 * optimiser_seconds[n] / steps[n], 1) for n in names},
                      f"{names[1]}_over_{names[0]}": round(rates[names[1]] / rates[names[0]], 3)}))


if __name__ == "__main__":
    main()
