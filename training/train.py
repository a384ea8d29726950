"""Train one config, evaluate it with the serving code, and track everything in MLflow.

    python -m training.train --config configs/default.yaml [--set train.epochs=3 ...] [--resume]

Example:
    >>> cfg = load_config("configs/tiny.yaml", [f"output_dir={tmp}/artifacts", f"checkpoint_dir={tmp}/ck"])
    >>> result = train(cfg, Path("configs/tiny.yaml"))  # doctest: +ELLIPSIS
    MLflow: ...
    >>> 0.0 <= result.test.macro_f1 <= 1.0, result.model_dir.name
    (True, 'tiny')
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from inference.artifact import ArtifactMeta, publish_directory, save_artifact
from inference.env import configure_offline, configure_project_caches
from inference.load import load_classifier
from training import distributed, tracking
from training.adapt import ensure_adapted
from training.baselines import KeywordRules, TfidfLogReg
from training.config import ConfigError, RunConfig, config_parser, flatten, load_config
from training.corpus import CorpusError, ensure_built, fingerprint, load_dataset_dict
from training.evaluate import Report, decide, evaluate, tune_thresholds
from training.fast_path import prepare_fast_path
from training.loop import FitResult, Split, TrainingError, autocast_dtype, fit, resumable, score
from training.model import build_model
from training.plots import confusion_grid, f1_bars, pr_curves, training_curves
from training.promote import DEFAULT_NAME
from training.pseudo import PseudoLabelError, ensure_pseudo_labels, read_pseudo_labels

# Resamples of the documents for the 95% intervals of the final dev and test reports.
BOOTSTRAP = 1000


@dataclass(frozen=True)
class TrainResult:
    """What a run produced: its MLflow id, reports, thresholds and (transformers) the model."""

    run_id: str
    dev: Report
    test: Report
    thresholds: dict[str, float]
    model_dir: Path | None
    registered_version: str | None
    seconds: float


def train(cfg: RunConfig, config_path: Path, resume: bool = False) -> TrainResult:
    """Run one config end to end: data, model, fit, thresholds, evaluation, logging."""
    started = time.monotonic()
    labels = cfg.data.label_ids
    splits = load_splits(cfg, labels)
    if cfg.model.kind == "transformer":
        with distributed.main_first():  # one process adapts; under torchrun the others then find the cache
            ensure_adapted(cfg.model.encoder)  # its own MLflow run, before this one starts
    if resume and cfg.model.kind == "transformer":
        print(resumable(cfg))
    uri = tracking.setup(cfg.tracking.experiment)
    print(f"MLflow: {uri} (experiment {cfg.tracking.experiment!r})")
    with tracking.run(cfg.name, tags={"model.kind": cfg.model.kind}) as run_id, staged(cfg) as staging:
        log_inputs(cfg, config_path, splits)
        if cfg.model.kind == "transformer":
            dev_scores, test_scores, thresholds, fitted = fit_transformer(cfg, labels, splits, run_id, resume,
                                                                          staging)
            tracking.log_figure(training_curves(fitted.history), "plots/training_curves.png")
            tracking.log_metrics({"best_epoch": fitted.best_epoch, "fit_seconds": fitted.seconds})
        else:
            dev_scores, test_scores, thresholds = fit_baseline(cfg, labels, splits)
        dev_report = evaluate(dev_scores, splits["dev"].gold, thresholds, labels, splits["dev"].doc_ids,
                              bootstrap=BOOTSTRAP, seed=cfg.seed)
        test_report = evaluate(test_scores, splits["test"].gold, thresholds, labels, splits["test"].doc_ids,
                               bootstrap=BOOTSTRAP, seed=cfg.seed)
        log_evaluation(labels, thresholds, dev_report, test_report, test_scores, splits["test"].gold)
        version = None
        if cfg.model.kind == "transformer":
            registered = cfg.tracking.registered_model if cfg.tracking.register_model else None
            version = tracking.log_model(staging, registered)
        seconds = time.monotonic() - started
        tracking.log_metrics({"wall_seconds": seconds})
        if cfg.model.kind == "transformer":
            publish_directory(staging, cfg.model_dir)  # only now: a failed run never replaces a good model
    model_dir = cfg.model_dir if cfg.model.kind == "transformer" else None
    return TrainResult(run_id, dev_report, test_report, thresholds, model_dir, version, seconds)


def train_shard(cfg: RunConfig, resume: bool = False) -> None:
    """What torchrun's processes other than rank 0 do: train their shard in step with rank 0, nothing else.

    Rank 0 runs :func:`train`, which logs to MLflow, evaluates, saves and registers the model.
    """
    if cfg.model.kind != "transformer":
        return  # baselines fit in one process: rank 0's
    labels = cfg.data.label_ids
    splits = load_splits(cfg, labels)
    with distributed.main_first():
        ensure_adapted(cfg.model.encoder)
    model, tokenizer = build_model(cfg.model, labels, splits["train"].texts, seed=cfg.seed)
    fit(model, tokenizer, splits["train"], splits["dev"], labels, cfg, resume=resume)


def load_splits(cfg: RunConfig, labels: tuple[str, ...]) -> dict[str, Split]:
    """The corpus's train/dev/test splits, capped for quick runs, train shuffled by the seed."""
    with distributed.main_first():  # under torchrun one process builds the corpus and its cache, then the others
        data = load_dataset_dict(ensure_built(cfg.data.corpus), labels, cfg.model.context)
        ensure_pseudo_labels(cfg.data.pseudo_labels)  # self-training: its own MLflow run, before this one
    data["train"] = data["train"].shuffle(seed=cfg.seed)
    caps = {"train": cfg.data.max_train_sentences, "dev": cfg.data.max_eval_sentences,
            "test": cfg.data.max_eval_sentences}
    splits = {}
    for name, cap in caps.items():
        part = data[name].select(range(min(cap, len(data[name])))) if cap else data[name]
        gold = np.array(part["target"], dtype=np.float32).reshape(len(part), len(labels))
        contexts = part["context"] if cfg.model.context != "none" else []
        splits[name] = Split(part["text"], gold, part["doc_id"], part["source"], contexts)
    train = splits["train"]
    kept = written_documents_kept(train, cfg.data.written_share, cfg.seed)
    repeat = cfg.data.real_text_repeat
    rows = [i for i, (source, doc) in enumerate(zip(train.sources, train.doc_ids))
            for _ in range(repeat if source != "written" else int(doc in kept))]
    splits["train"] = train.select(rows)
    if cfg.data.pseudo_labels is not None:
        texts, gold = read_pseudo_labels(cfg.data.pseudo_labels, labels)
        pseudo = Split(texts, gold, [f"pseudo-{i}" for i in range(len(texts))], ["pseudo"] * len(texts))
        splits["train"] = splits["train"].plus(pseudo)
    return splits


def written_documents_kept(train: Split, share: float, seed: int) -> set[str]:
    """The written documents a run trains on: a seeded ``share`` of them, whole documents.

    Example:
        >>> split = Split(["a", "b", "c"], np.zeros((3, 1)), ["w1", "w2", "r1"], ["written", "written", "voa"])
        >>> sorted(written_documents_kept(split, 1.0, 13)), len(written_documents_kept(split, 0.5, 13))
        (['w1', 'w2'], 1)
    """
    written = sorted({doc for doc, source in zip(train.doc_ids, train.sources) if source == "written"})
    count = round(share * len(written))
    return set(np.random.default_rng(seed).permutation(written)[:count].tolist()) if count else set()


def log_inputs(cfg: RunConfig, config_path: Path, splits: dict[str, Split]) -> None:
    """Params (the flattened config), the YAML as given and as resolved, and the corpus."""
    import pandas as pd

    digest = fingerprint(cfg.data.corpus)
    pseudo = {"data.pseudo_labels_sha256": fingerprint(cfg.data.pseudo_labels)[:16]} if cfg.data.pseudo_labels else {}
    # What "auto" precision became on this machine, so runs of different processors can be told apart.
    arithmetic = autocast_dtype(cfg.train.precision, distributed.device()) if cfg.model.kind == "transformer" else None
    tracking.log_params({**flatten(cfg), "data.sha256": digest[:16], **pseudo,
                         "train.arithmetic": "bfloat16" if arithmetic else "float32",
                         **{f"data.{name}_sentences": len(split.texts) for name, split in splits.items()}})
    tracking.log_file(config_path, "config")
    tracking.log_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), "config/resolved.yaml")
    frames = {name: pd.DataFrame({"text": split.texts, "doc_id": split.doc_ids,
                                  "labels": [list(map(int, row)) for row in split.gold]})
              for name, split in splits.items()}
    tracking.log_corpus(frames, cfg.data.corpus, digest)


@contextmanager
def staged(cfg: RunConfig) -> Iterator[Path]:
    """A private directory beside ``cfg.model_dir`` for this run's model, removed unless published."""
    cfg.model_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{cfg.model_dir.name}.run-", dir=cfg.model_dir.parent)) / "model"
    try:
        yield staging
    finally:
        shutil.rmtree(staging.parent, ignore_errors=True)


def fit_transformer(cfg: RunConfig, labels: tuple[str, ...], splits: dict[str, Split], run_id: str,
                    resume: bool, model_dir: Path) -> tuple[np.ndarray, np.ndarray, dict[str, float], FitResult]:
    """Fine-tune, tune thresholds on dev, save the model to ``model_dir``, and score dev and test with it."""
    model, tokenizer = build_model(cfg.model, labels, splits["train"].texts, seed=cfg.seed)
    fitted = fit(model, tokenizer, splits["train"], splits["dev"], labels, cfg,
                 on_epoch=lambda row: tracking.log_metrics(epoch_metrics(row), step=int(row["epoch"])),
                 resume=resume)
    dev, test = splits["dev"], splits["test"]
    dev_scores = score(model, tokenizer, labels, cfg, dev.texts, dev.context_or_none())  # the serving classifier
    thresholds = tune_thresholds(dev_scores, splits["dev"].gold, labels)
    meta = ArtifactMeta(labels=labels, thresholds=thresholds, max_length=cfg.model.max_length,
                        mlflow_run_id=run_id, encoder=cfg.model.encoder, context=cfg.model.context)
    save_artifact(model_dir, model, tokenizer, meta)
    # The fast path scores bare sentences: a context model's dev scores are no reference for it,
    # and its test scores are not what the model serves.
    bare = cfg.model.context == "none"
    served_test = None
    if cfg.train.fast_path:
        fast_path = prepare_fast_path(model_dir, splits["train"], splits["dev"], splits["test"], seed=cfg.seed,
                                      dev_reference=dev_scores if bare else None)
        print(fast_path.summary())
        tracking.log_text(fast_path.summary() + "\n", "reports/fast_path.md")
        served_test = fast_path.test_scores if bare else None
    # The test split is scored through the saved directory, exactly as it will be served (with
    # the default backend and cascade setting that prepare_fast_path recorded, which already
    # scored it that way when it ran).
    test_scores = served_test if served_test is not None else \
        load_classifier(model_dir).score(test.texts, cfg.train.eval_batch_size, test.context_or_none())
    return dev_scores, test_scores, thresholds, fitted


def promote_hint(registered_model: str) -> str:
    """The command that promotes this run's model (``--name`` only when it is not the default).

    Example:
        >>> promote_hint("diplomatic-events-tiny")
        'promote with python -m training.promote --name diplomatic-events-tiny'
    """
    name = "" if registered_model == DEFAULT_NAME else f" --name {registered_model}"
    return f"promote with python -m training.promote{name}"


def epoch_metrics(row: dict[str, float]) -> dict[str, float]:
    """One epoch's history row as MLflow metrics; dev figures get an ``epoch_`` prefix.

    Per-epoch dev figures use threshold 0.5; the run's final ``dev_*`` metrics use the tuned
    thresholds. Under one key MLflow would show whichever came at the highest step.

    Example:
        >>> epoch_metrics({"epoch": 2, "train_loss": 0.3, "dev_macro_f1": 0.5})
        {'train_loss': 0.3, 'epoch_dev_macro_f1': 0.5}
    """
    return {(f"epoch_{key}" if key.startswith("dev_") else key): value for key, value in row.items() if key != "epoch"}


def fit_baseline(cfg: RunConfig, labels: tuple[str, ...],
                 splits: dict[str, Split]) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Fit a baseline; TF-IDF thresholds are tuned on dev like the transformer's, rules use 0.5."""
    if cfg.model.kind == "keywords":
        scorer = KeywordRules(labels)
    else:
        scorer = TfidfLogReg(labels, cfg.baseline, cfg.seed)
    scorer.fit(splits["train"].texts, splits["train"].gold)
    dev_scores, test_scores = scorer.score(splits["dev"].texts), scorer.score(splits["test"].texts)
    if cfg.model.kind == "keywords":
        thresholds = dict.fromkeys(labels, 0.5)
    else:
        thresholds = tune_thresholds(dev_scores, splits["dev"].gold, labels)
    return dev_scores, test_scores, thresholds


def log_evaluation(labels: tuple[str, ...], thresholds: dict[str, float], dev: Report, test: Report,
                   test_scores: np.ndarray, test_gold: np.ndarray) -> None:
    """Final metrics, reports (JSON and Markdown) and plots."""
    tracking.log_metrics({**dev.to_metrics("dev"), **test.to_metrics("test"),
                          **{f"threshold_{label}": value for label, value in thresholds.items()}})
    for name, report in (("dev", dev), ("test", test)):
        tracking.log_text(report.to_json(), f"reports/{name}.json")
        tracking.log_text(report.to_markdown(f"{name} split"), f"reports/{name}.md")
    tracking.log_figure(f1_bars(test, "test"), "plots/test_f1.png")
    tracking.log_figure(pr_curves(test_scores, test_gold, labels), "plots/test_pr_curves.png")
    predicted = decide(test_scores, thresholds, labels)
    tracking.log_figure(confusion_grid(test_gold.astype(int), predicted, labels), "plots/test_confusion.png")


def _interrupt_on_signals() -> None:
    """Make Ctrl-C and ``kill`` (SIGTERM) raise KeyboardInterrupt, so the run ends KILLED.

    A process started in the background by a script inherits an *ignored* SIGINT, and
    SIGTERM would end Python without unwinding; both would leave the MLflow run RUNNING.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    parser = config_parser("python -m training.train", "Train one config.", "configs/default.yaml",
                           "train.learning_rate=3e-5")
    parser.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    args = parser.parse_args(argv)
    _interrupt_on_signals()
    configure_offline()
    configure_project_caches(Path.cwd())
    distributed.setup()  # a no-op unless launched by torchrun
    try:
        cfg = load_config(args.config, args.overrides)
        if not distributed.is_main():
            train_shard(cfg, resume=args.resume)
            return 0
        result = train(cfg, Path(args.config), resume=args.resume)
    except (ConfigError, CorpusError, TrainingError, PseudoLabelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: the MLflow run is marked KILLED; continue from the last finished epoch "
              "with the same command and --resume", file=sys.stderr)
        return 130
    finally:
        distributed.teardown()
    print(result.test.to_markdown(f"{cfg.name}: test split"))
    print(f"run {result.run_id} finished in {result.seconds / 60:.1f} min")
    if result.model_dir:
        print(f"model directory: {result.model_dir}")
    if result.registered_version:
        print(f"registered: models:/{cfg.tracking.registered_model}/{result.registered_version} "
              f"(alias @{tracking.CANDIDATE}); {promote_hint(cfg.tracking.registered_model)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
