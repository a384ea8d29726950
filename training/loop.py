"""The fine-tuning loop: weighted BCE, linear warm-up, early stopping on dev macro-F1, checkpoints.

Dev scores come from :class:`inference.Classifier`, the serving code, so the number that
picks the best epoch is the number users would see.

Example:
    >>> positive_weights(np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0]]), "inverse", 10.0)
    [3.0, 3.0]
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from inference.artifact import ArtifactMeta
from inference.backends import TorchBackend, native_bf16
from inference.classifier import Classifier
from inference.text import normalize
from training import distributed
from training.config import RunConfig
from training.evaluate import evaluate


@dataclass
class Split:
    """The texts of one split with their multi-hot gold labels, document ids, source kinds and
    context segments (empty lists when unknown: no sources given, or a model without context)."""

    texts: list[str]
    gold: np.ndarray
    doc_ids: list[str]
    sources: list[str] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)

    def select(self, rows: list[int]) -> Split:
        """The rows at ``rows`` (repeats allowed), as a new split."""
        sources = [self.sources[i] for i in rows] if self.sources else []
        contexts = [self.contexts[i] for i in rows] if self.contexts else []
        return Split([self.texts[i] for i in rows], self.gold[rows], [self.doc_ids[i] for i in rows], sources,
                     contexts)

    def plus(self, other: Split) -> Split:
        """This split's rows, then ``other``'s (sources and contexts kept only when both have them)."""
        sources = self.sources + other.sources if self.sources and other.sources else []
        contexts = self.contexts + other.contexts if self.contexts and other.contexts else []
        return Split(self.texts + other.texts, np.concatenate([self.gold, other.gold]), self.doc_ids + other.doc_ids,
                     sources, contexts)

    def context_or_none(self) -> list[str] | None:
        """The contexts to score with, or ``None`` when the split has none."""
        return self.contexts or None

class TrainingError(RuntimeError):
    """Training cannot go on (the loss is not finite); the message says where and what to change."""


@dataclass
class FitResult:
    best_epoch: int
    best_dev_macro_f1: float
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def positive_weights(gold: np.ndarray, scheme: str, cap: float) -> list[float]:
    """Per-label weight of positive examples in the loss: rare labels count more, up to ``cap``."""
    positives = gold.sum(axis=0)
    negatives = len(gold) - positives
    ratio = negatives / np.maximum(positives, 1)
    weights = {"none": np.ones_like(ratio), "sqrt_inverse": np.sqrt(ratio), "inverse": ratio}[scheme]
    return [float(w) for w in np.clip(weights, 1.0, cap)]


def config_digest(cfg: RunConfig) -> str:
    """A short hash of the config and the corpus, so a checkpoint is only resumed by the run that wrote it."""
    corpus = cfg.data.corpus.read_bytes() if cfg.data.corpus.is_file() else b""
    return hashlib.sha256(cfg.model_dump_json().encode() + corpus).hexdigest()[:16]


def checkpoint_path(cfg: RunConfig) -> Path:
    """Where this config's interrupted run keeps its checkpoint: one file per config and corpus.

    Keyed by :func:`config_digest`, so a run with other settings never replaces (or resumes)
    the checkpoint of an interrupted one.
    """
    return cfg.checkpoint_dir / cfg.name / f"{config_digest(cfg)}.pt"


def resumable(cfg: RunConfig) -> str:
    """What ``--resume`` would continue, in words; raises ``TrainingError`` when there is nothing.

    Called before a run starts, so a wrong ``--resume`` creates no MLflow run.
    """
    path = checkpoint_path(cfg)
    if path.exists():
        return f"resuming the interrupted run of this config from {path}"
    others = sorted(p.name for p in path.parent.glob("*.pt")) if path.parent.is_dir() else []
    hint = (f"; {len(others)} checkpoint(s) of other settings or another corpus are in {path.parent}: "
            f"{', '.join(others)} (resume them with the settings they were written with)") if others else ""
    raise TrainingError(f"--resume: nothing to resume for this config and corpus (no {path}){hint}")


def fit(model: Any, tokenizer: Any, train: Split, dev: Split, labels: tuple[str, ...], cfg: RunConfig,
        on_epoch: Callable[[dict[str, float]], None] = lambda row: None, resume: bool = False) -> FitResult:
    """Train ``model`` in place and leave it holding the weights of its best dev epoch."""
    started = time.monotonic()
    torch.manual_seed(cfg.seed)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    tc = cfg.train
    # Distributed (torchrun): the loss weights come from the whole training set, the steps from this rank's shard.
    pos_weight = torch.tensor(positive_weights(train.gold, tc.pos_weight, tc.max_pos_weight))
    train, on_device = distributed.shard(train), distributed.device()
    model.to(on_device)
    trained = distributed.wrap(model)
    encodings = encode(tokenizer, train, cfg)
    # Context dropout: these rows' encodings with an empty context, swapped in at random per epoch.
    bare = encode(tokenizer, Split(train.texts, train.gold, train.doc_ids, contexts=[""] * len(train.texts)), cfg) \
        if train.contexts and cfg.model.context_dropout > 0 else None
    batches_per_epoch = math.ceil(len(train.texts) / tc.batch_size)
    half = autocast_dtype(tc.precision, on_device)
    print(f"training arithmetic: {'bfloat16 autocast' if half else 'float32'} (train.precision={tc.precision})")
    total_steps = min(tc.max_steps or math.inf, batches_per_epoch * tc.epochs)
    optimizer = adamw(model.parameters(), tc.learning_rate, tc.weight_decay, on_device)
    scheduler = _linear_schedule(optimizer, int(total_steps * tc.warmup_ratio), int(total_steps))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight.to(on_device))
    state = {"epoch": 0, "step": 0, "best_epoch": 0, "best_score": -1.0, "best_weights": None, "history": []}
    checkpoint = checkpoint_path(cfg)
    if resume and checkpoint.exists():
        state = _restore(checkpoint, cfg, model, optimizer, scheduler)
        print(f"resuming from {checkpoint} after epoch {state['epoch']}")
    generator = torch.Generator().manual_seed(cfg.seed)
    lengths = [len(ids) for ids in encodings["input_ids"]] if tc.group_by_length else None
    for _ in range(state["epoch"]):  # replay the shuffles of finished epochs
        epoch_batches(len(train.texts), tc.batch_size, generator, lengths)
    while state["epoch"] < tc.epochs and state["step"] < total_steps:
        epoch = state["epoch"] + 1
        batches = epoch_batches(len(train.texts), tc.batch_size, generator, lengths)
        model.train()
        losses = []
        bar = tqdm(batches, desc=f"epoch {epoch}/{tc.epochs}", unit="batch",
                   mininterval=0.2 if sys.stderr.isatty() else 30)  # logs get a line every 30 s, not every batch
        # Seeded by epoch, so a resumed run draws the same dropped contexts as an uninterrupted one.
        dropper = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        for rows in bar:
            dropped = (torch.rand(len(rows), generator=dropper) < cfg.model.context_dropout).tolist() \
                if bare is not None else [False] * len(rows)
            features = {k: [(bare if drop else encodings)[k][i] for i, drop in zip(rows, dropped)] for k in encodings}
            batch = tokenizer.pad(features, return_tensors="pt")
            with torch.autocast(on_device.type, dtype=half or torch.float32, enabled=half is not None):
                logits = trained(**batch.to(on_device)).logits
            loss = loss_fn(logits.float(), torch.tensor(train.gold[rows], dtype=torch.float32, device=on_device))
            if not torch.isfinite(loss):
                raise TrainingError(f"the training loss became {loss.item()} at epoch {epoch}, "
                                    f"step {state['step'] + 1}: the weights have diverged "
                                    f"(learning rate {tc.learning_rate}); lower train.learning_rate or check the data")
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            state["step"] += 1
            if state["step"] >= total_steps:
                break
        # Scored in the training arithmetic: in bf16 the epoch's pass over dev takes about half
        # as long, and torch-bf16 is the backend that serves on such machines (within 0.03 of fp32
        # on every model so far). The final dev and test scores are fp32 (training.train).
        dev_report = evaluate(score(model, tokenizer, labels, cfg, dev.texts, dev.context_or_none(),
                                    precision="bf16" if half else "fp32"),
                              dev.gold, dict.fromkeys(labels, 0.5), labels, dev.doc_ids)
        row = {"epoch": epoch, "train_loss": float(np.mean(losses)), "dev_macro_f1": dev_report.macro_f1,
               "dev_micro_f1": dev_report.micro_f1, "learning_rate": scheduler.get_last_lr()[0]}
        row = distributed.from_main(row)  # every rank stops early at the same epoch
        state["history"].append(row)
        on_epoch(row)
        if row["dev_macro_f1"] > state["best_score"]:
            state.update(best_epoch=epoch, best_score=row["dev_macro_f1"],
                         best_weights={k: v.detach().clone() for k, v in model.state_dict().items()})
        state["epoch"] = epoch
        if distributed.is_main():  # one checkpoint file, written by one process
            _save(checkpoint, cfg, state, model, optimizer, scheduler)
        print(f"epoch {epoch}: train loss {row['train_loss']:.4f}, dev macro-F1 {row['dev_macro_f1']:.4f} "
              f"(checkpoint saved)")
        if epoch - state["best_epoch"] >= tc.patience:
            print(f"early stop: no dev macro-F1 gain for {tc.patience} epochs (best epoch {state['best_epoch']})")
            break
    if state["best_weights"] is not None:
        model.load_state_dict(state["best_weights"])
    checkpoint.unlink(missing_ok=True)  # the run is complete; the model directory replaces it
    return FitResult(state["best_epoch"], state["best_score"], state["history"], time.monotonic() - started)


def adamw(parameters: Any, learning_rate: float, weight_decay: float, device: torch.device) -> torch.optim.AdamW:
    """AdamW, fused into one kernel over all parameters where PyTorch has that for ``device`` (CPU, CUDA).

    The default AdamW loops in Python over the model's parameter tensors: 65-76 ms of a
    290 ms training step of MiniLM on 2 cores, against 11 ms fused (docs/RESULTS.md, "Faster
    training steps"). The arithmetic is the same: 30 steps from the same weights end
    within 5e-6 of each other, when the steps moved the weights by 3e-3.

    Example:
        >>> adamw(torch.nn.Linear(2, 1).parameters(), 1e-4, 0.01, torch.device("cpu")).defaults["fused"]
        True
    """
    return torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=weight_decay,
                             fused=device.type in ("cpu", "cuda"))


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype training autocasts to for ``train.precision``, or None for plain float32.

    Example:
        >>> autocast_dtype("fp32", torch.device("cpu")) is None
        True
        >>> autocast_dtype("bf16", torch.device("cpu"))
        torch.bfloat16
    """
    if precision == "fp32":
        return None
    if precision == "auto" and not native_bf16(device):
        return None
    return torch.bfloat16


def epoch_batches(size: int, batch_size: int, generator: torch.Generator,
                  lengths: list[int] | None = None) -> list[list[int]]:
    """One epoch's batches of row indices, shuffled by ``generator``.

    With ``lengths``, rows are grouped by length: the shuffled order is cut into pools of 50
    batches, each pool sorted by length and cut into batches, and the batches shuffled. A
    batch is padded to its longest sentence, so grouping similar lengths saves most of the
    padding (real text is long-tailed) while every epoch still sees a new mix.

    Example:
        >>> batches = epoch_batches(10, 4, torch.Generator().manual_seed(0), lengths=list(range(10)))
        >>> sorted(len(b) for b in batches), sorted(i for b in batches for i in b) == list(range(10))
        ([2, 4, 4], True)
    """
    order = torch.randperm(size, generator=generator).tolist()
    if lengths is None:
        return [order[first : first + batch_size] for first in range(0, size, batch_size)]
    pool = batch_size * 50
    batches = []
    for start in range(0, size, pool):
        rows = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [rows[first : first + batch_size] for first in range(0, len(rows), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def encode(tokenizer: Any, split: Split, cfg: RunConfig) -> Any:
    """Word pieces of a split's texts, paired with their contexts when the model reads context."""
    texts = [normalize(t) for t in split.texts]
    pairs = [normalize(c) for c in split.contexts] if cfg.model.context != "none" and split.contexts else None
    return tokenizer(texts, pairs, truncation=True, max_length=cfg.model.max_length)


def score(model: Any, tokenizer: Any, labels: tuple[str, ...], cfg: RunConfig, texts: list[str],
          contexts: list[str] | None = None, precision: str = "fp32") -> np.ndarray:
    """Probabilities for ``texts`` through the serving classifier (model left in eval mode), fp32 or bf16."""
    meta = ArtifactMeta(labels=labels, thresholds=dict.fromkeys(labels, 0.5), max_length=cfg.model.max_length,
                        context=cfg.model.context)
    return Classifier(TorchBackend(model, precision=precision), tokenizer, meta).score(
        texts, batch_size=cfg.train.eval_batch_size, contexts=contexts)


def _linear_schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> Any:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _save(path: Path, cfg: RunConfig, state: dict, model: Any, optimizer: Any, scheduler: Any) -> None:
    """Write the checkpoint to a temporary file and rename it, so a crash keeps the previous one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save({"config": config_digest(cfg), "state": state, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, partial)
    os.replace(partial, path)


def _restore(path: Path, cfg: RunConfig, model: Any, optimizer: Any, scheduler: Any) -> dict:
    saved = torch.load(path, weights_only=True)
    if saved["config"] != config_digest(cfg):
        raise ValueError(f"{path} was written by a different config or corpus; delete it or drop --resume")
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    return saved["state"]
