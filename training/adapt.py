"""Adapt the encoder to news: continue its masked-language-model pretraining on the unlabelled real text.

    python -m training.adapt --config configs/adapt/news.yaml [--set KEY=VALUE ...] [--force]

MiniLM was pretrained on web text and tuned on sentence pairs; the corpus is news wires and
official statements. This reads every document of the real sources in ``../shared/data``
except the corpus's dev and test documents (their text stays unseen by every training
step, labelled or not), cuts them into sentences, and trains the encoder to fill in masked
word pieces (15% masked, as BERT was pretrained). Masked-LM keeps the encoder's own
objective and needs no labels, so it can read all ~90,000 real sentences, not only the
annotated ones. The masked-LM loss on real dev sentences, before and after, says whether
it adapted. The result is an encoder directory (``output_dir/name``, a cache that git
ignores) that a training config names as ``model.encoder``; a second run with the same
config and corpus reuses it. Tracked in MLflow (experiment ``diplomatic-events-adapt``).

Example:
    >>> sentences = unlabelled_sentences(load_records(ensure_built()), max_sentences=3, min_words=5, seed=1)
    >>> len(sentences)
    3
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from inference.env import configure_offline
from inference.text import normalize, split_sentences
from training import tracking
from training.config import AdaptConfig, ConfigError, adaptation_config, config_parser, flatten, load_config
from training.corpus import CorpusError, ensure_built, load_records
from training.corpus.records import Record, fingerprint
from training.corpus.sources import SOURCE_FILES, documents, project_doc_id
from training.loop import adamw, epoch_batches
from training.model import encoder_path

STAMP = "adapt.json"


def unlabelled_sentences(records: list[Record], max_sentences: int | None, min_words: int, seed: int,
                         held_out_splits: tuple[str, ...] = ("dev", "test"), skip_corpus_texts: bool = False
                         ) -> list[str]:
    """The real sources' sentences outside the corpus documents of ``held_out_splits``, shuffled by ``seed``.

    Each document's title and text are split as the serving code splits an article; lines
    of fewer than ``min_words`` words are dropped, and so are repeats. ``skip_corpus_texts``
    drops too any sentence whose text is a corpus sentence's (wires reprint sentences in
    other stories): self-training must not add a second label to an annotated sentence.
    """
    held_out = {r.doc_id for r in records if r.split in held_out_splits}
    seen: set[str] = {normalize(r.text) for r in records} if skip_corpus_texts else set()
    sentences = []
    for source in SOURCE_FILES:
        for key, document in documents(source).items():
            if project_doc_id(source, key) in held_out:
                continue
            for field in (document.title, document.text):
                for span in split_sentences(field):
                    text = normalize(span.text)
                    if len(text.split()) >= min_words and text not in seen:
                        seen.add(text)
                        sentences.append(text)
    random.Random(seed).shuffle(sentences)
    return sentences[:max_sentences]


def config_digest(cfg: AdaptConfig, corpus: Path) -> str:
    """A hash of the config and the corpus: an encoder is reused only by the config that made it.

    Threads and tracking are left out: they change how fast and where it is logged, not the
    encoder, so ``--set threads=1`` on a busy machine still writes the cache training reuses.
    """
    what = cfg.model_dump_json(exclude={"threads", "tracking"})
    return hashlib.sha256(what.encode() + fingerprint(corpus).encode()).hexdigest()[:16]


def cached(cfg: AdaptConfig, digest: str) -> bool:
    """Whether ``cfg.encoder_dir`` already holds this config's encoder."""
    stamp = cfg.encoder_dir / STAMP
    return stamp.is_file() and json.loads(stamp.read_text()).get("digest") == digest


def masked_loss(model: Any, batch: Any) -> Any:
    """Cross-entropy over the masked word pieces only.

    ``BertForMaskedLM`` projects every position onto the 30,522-word vocabulary; only the
    masked 15% carry a loss, so projecting just those saves most of that cost (it is larger
    than the encoder's own for MiniLM's short sentences). The loss is the same number.
    """
    import torch

    labels = batch.pop("labels")
    hidden = model.base_model(**batch).last_hidden_state
    chosen = labels != -100
    logits = model.cls(hidden[chosen])
    return torch.nn.functional.cross_entropy(logits, labels[chosen])


def masked_lm_loss(model: Any, tokenizer: Any, collator: Any, texts: list[str], cfg: AdaptConfig) -> float:
    """Mean masked-LM loss over ``texts``; the masks are drawn from a fixed seed, so before and after compare."""
    import torch

    torch.manual_seed(cfg.seed)
    model.eval()
    losses = []
    with torch.inference_mode():
        for first in range(0, len(texts), cfg.batch_size):
            batch = collator([tokenizer(t, truncation=True, max_length=cfg.max_length)
                              for t in texts[first : first + cfg.batch_size]])
            losses.append(float(masked_loss(model, batch)))
    return sum(losses) / max(1, len(losses))


def adapt(cfg: AdaptConfig, force: bool = False) -> Path:
    """Train ``cfg``'s encoder with masked-LM on the unlabelled real text; return the encoder directory."""
    configure_offline()
    import torch
    from transformers import (
        AutoModelForMaskedLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        get_linear_schedule_with_warmup,
    )

    corpus = ensure_built(cfg.corpus)
    digest = config_digest(cfg, corpus)
    if cached(cfg, digest) and not force:
        print(f"{cfg.encoder_dir} already holds this config's encoder (digest {digest}); --force trains it again")
        return cfg.encoder_dir
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    records = load_records(corpus)
    texts = unlabelled_sentences(records, cfg.max_sentences, cfg.min_words, cfg.seed)
    dev = [normalize(r.text) for r in records if r.split == "dev" and r.is_real][: cfg.eval_sentences]
    source = encoder_path(cfg.encoder)
    tokenizer = AutoTokenizer.from_pretrained(source)
    torch.manual_seed(cfg.seed)
    # The packaged MiniLM has no masked-LM head: it starts from random weights (the decoder is
    # tied to the word embeddings), which the first steps fit.
    model = AutoModelForMaskedLM.from_pretrained(source)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=cfg.mlm_probability)
    encoded = [tokenizer(t, truncation=True, max_length=cfg.max_length) for t in texts]
    steps = cfg.epochs * math.ceil(len(encoded) / cfg.batch_size)
    optimizer = adamw(model.parameters(), cfg.learning_rate, cfg.weight_decay, model.device)
    schedule = get_linear_schedule_with_warmup(optimizer, int(steps * cfg.warmup_ratio), steps)
    tracking.setup(cfg.tracking.experiment)
    with tracking.run(cfg.name, tags={"stage": "adapt"}) as run_id:
        tracking.log_params({**flatten(cfg), "sentences": len(texts), "digest": digest})
        before = masked_lm_loss(model, tokenizer, collator, dev, cfg)
        tracking.log_metrics({"dev_mlm_loss": before}, step=0)
        print(f"{len(texts)} unlabelled sentences, {steps} steps; real dev masked-LM loss before: {before:.3f}")
        started, step = time.monotonic(), 0
        generator = torch.Generator().manual_seed(cfg.seed)
        lengths = [len(e["input_ids"]) for e in encoded]
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            # Batches of similar lengths, as in fine-tuning: little padding on long-tailed real text.
            batches = epoch_batches(len(encoded), cfg.batch_size, generator, lengths)
            bar = tqdm(batches, desc=f"adapt {epoch}/{cfg.epochs}", unit="batch",
                       mininterval=0.2 if sys.stderr.isatty() else 30)
            for rows in bar:
                loss = masked_loss(model, collator([encoded[i] for i in rows]))
                if not torch.isfinite(loss):
                    raise RuntimeError(f"the masked-LM loss became {loss.item()} at step {step + 1}; "
                                       f"lower learning_rate ({cfg.learning_rate})")
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                step += 1
                bar.set_postfix(loss=f"{loss.item():.3f}")
                if step % 50 == 0:
                    tracking.log_metrics({"train_mlm_loss": loss.item()}, step=step)
        after = masked_lm_loss(model, tokenizer, collator, dev, cfg)
        minutes = (time.monotonic() - started) / 60
        tracking.log_metrics({"dev_mlm_loss": after, "adapt_minutes": minutes}, step=step)
        print(f"real dev masked-LM loss after: {after:.3f} (before {before:.3f}); {minutes:.1f} min")
        staging = cfg.encoder_dir.with_name(cfg.encoder_dir.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / STAMP).write_text(json.dumps({"digest": digest, "mlflow_run_id": run_id, "sentences": len(texts),
                                                 "dev_mlm_loss_before": before, "dev_mlm_loss_after": after},
                                                indent=2) + "\n")
        shutil.rmtree(cfg.encoder_dir, ignore_errors=True)
        staging.rename(cfg.encoder_dir)  # only a finished encoder is ever named by a training config
    print(f"encoder: {cfg.encoder_dir} (name it as model.encoder in a training config)")
    return cfg.encoder_dir


def ensure_adapted(encoder: str) -> None:
    """Write ``encoder`` first when it is an adapted encoder (``.cache/encoders/NAME``) not cached yet.

    A training config may name an adapted encoder; training calls this before it starts,
    so one command trains the config, adaptation included, and later runs reuse the cache.
    """
    config = adaptation_config(encoder)
    if config is None:
        return
    cfg = load_config(config, schema=AdaptConfig)
    corpus = ensure_built(cfg.corpus)
    if not cached(cfg, config_digest(cfg, corpus)):
        print(f"the encoder {encoder} is not written yet: adapting it first ({config})")
        adapt(cfg)


def main(argv: list[str] | None = None) -> int:
    parser = config_parser("python -m training.adapt", __doc__.split("\n\n")[0], "configs/adapt/news.yaml",
                           "max_sentences=1000")
    parser.add_argument("--force", action="store_true", help="train again even if the encoder is cached")
    args = parser.parse_args(argv)
    try:
        adapt(load_config(args.config, args.overrides, schema=AdaptConfig), force=args.force)
    except (ConfigError, CorpusError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
