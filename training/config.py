"""Typed, frozen run configuration loaded from YAML, with dotted command-line overrides.

An unknown key, a wrong type or a missing file fails here, before any work, with the
file, the key and the reason.

Example:
    >>> cfg = load_config("configs/tiny.yaml", ["train.epochs=1"])
    >>> cfg.name, cfg.train.epochs
    ('tiny', 1)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from inference.taxonomy import TAXONOMY

# Where training.adapt writes encoders (a cache, never committed), and where their configs are.
ADAPTED_ENCODERS = Path(".cache/encoders")
ADAPT_CONFIGS = Path("configs/adapt")
# Where training.pseudo writes pseudo-labelled sentences (a cache), and where their configs are.
PSEUDO_LABELS = Path(".cache/pseudo")
PSEUDO_CONFIGS = Path("configs/pseudo")


def adaptation_config(encoder: str) -> Path | None:
    """The config that writes ``encoder`` when it is an adapted one (``.cache/encoders/NAME``), else ``None``.

    Example:
        >>> adaptation_config(".cache/encoders/news"), adaptation_config("minilm")
        (PosixPath('configs/adapt/news.yaml'), None)
    """
    path = Path(encoder)
    config = ADAPT_CONFIGS / f"{path.name}.yaml"
    return config if path.parent == ADAPTED_ENCODERS and config.is_file() else None


def pseudo_label_config(path: Path) -> Path | None:
    """The config that writes ``path`` when it is a pseudo-label cache (``.cache/pseudo/NAME.jsonl``), else ``None``.

    Example:
        >>> pseudo_label_config(Path(".cache/pseudo/news.jsonl")), pseudo_label_config(Path("x.jsonl"))
        (PosixPath('configs/pseudo/news.yaml'), None)
    """
    config = PSEUDO_CONFIGS / f"{path.stem}.yaml"
    return config if path.parent == PSEUDO_LABELS and path.suffix == ".jsonl" and config.is_file() else None


class ConfigError(ValueError):
    """A config file or override is unusable; the message names the file, key and reason."""


class _Section(BaseModel):
    # allow_inf_nan=False: "learning_rate: .inf" is a typo to report, not a run to start.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DataConfig(_Section):
    # The default corpus is built on demand from data/annotation and ../shared/data.
    corpus: Path = Path("build/corpus.jsonl")
    # A subset of the taxonomy's ids, e.g. only the three requested types; None means all.
    labels: tuple[str, ...] | None = None
    # Caps for quick runs (tests, smoke checks); None uses every sentence of the split.
    max_train_sentences: int | None = Field(None, ge=1)
    max_eval_sentences: int | None = Field(None, ge=1)
    # Real news (VOA) is scarce next to written passages; each real training sentence is
    # seen this many times per epoch so its style is not drowned out.
    real_text_repeat: int = Field(1, ge=1)
    # The share of the written (project-authored) training documents kept, drawn by the
    # seed: the mixture experiment of real against written text. Dev and test are real only.
    written_share: float = Field(1.0, ge=0.0, le=1.0)
    # Self-training: pseudo-labelled real sentences (``training.pseudo``) added to the
    # training split. A cache under .cache/pseudo/ is written first from configs/pseudo/.
    pseudo_labels: Path | None = None

    @field_validator("pseudo_labels")
    @classmethod
    def _known_pseudo_labels(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file() and pseudo_label_config(path) is None:
            raise ValueError(f"{path} is neither a file nor a pseudo-label cache {PSEUDO_LABELS}/NAME.jsonl with "
                             f"its config in {PSEUDO_CONFIGS}/")
        return path

    @field_validator("labels")
    @classmethod
    def _known_labels(cls, labels: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if labels is not None:
            unknown = [label for label in labels if label not in TAXONOMY.ids]
            if unknown or not labels:
                raise ValueError(f"unknown label id(s) {unknown}; known: {', '.join(TAXONOMY.ids)}")
        return labels

    @property
    def label_ids(self) -> tuple[str, ...]:
        """The labels this run trains, in taxonomy order."""
        chosen = set(self.labels or TAXONOMY.ids)
        return tuple(label for label in TAXONOMY.ids if label in chosen)


class ModelConfig(_Section):
    kind: Literal["transformer", "tfidf_logreg", "keywords"] = "transformer"
    # "minilm": the packaged all-MiniLM-L6-v2; "tiny-random": a small random BERT with a
    # tokenizer trained on the corpus (tests); anything else: a local model directory.
    encoder: str = "minilm"
    max_length: int = Field(128, ge=8, le=512)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    # What the model reads beside each sentence (inference/context.py): "none", "previous" or
    # "headline_previous". The labels still belong to the sentence.
    context: Literal["none", "previous", "headline_previous"] = "none"
    # The share of training sentences shown with an empty context each epoch, so the model
    # also learns to label a bare sentence (predict() without contexts).
    context_dropout: float = Field(0.0, ge=0.0, le=1.0)

    @field_validator("encoder")
    @classmethod
    def _known_encoder(cls, encoder: str) -> str:
        # Checked here, not when the model is built: a typo must fail before a run starts.
        if encoder not in ("minilm", "tiny-random") and not (Path(encoder) / "config.json").is_file():
            # An adapted encoder not written yet is fine when its adaptation config exists:
            # training writes it first (training.adapt.ensure_adapted), as the config names it.
            if adaptation_config(encoder) is None:
                raise ValueError(f"{encoder!r} is neither 'minilm', 'tiny-random', a model directory with a "
                                 f"config.json, nor an adapted encoder under {ADAPTED_ENCODERS}/ with its config in "
                                 f"{ADAPT_CONFIGS}/")
        return encoder


class TrainConfig(_Section):
    epochs: int = Field(6, ge=1)
    batch_size: int = Field(16, ge=1)
    eval_batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(5e-5, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    # Stop after this many epochs without a better dev macro-F1.
    patience: int = Field(2, ge=1)
    # Positive-class weight per label in the BCE loss: rare labels would otherwise be
    # learned as "never". sqrt_inverse = sqrt(negatives / positives), capped.
    pos_weight: Literal["none", "sqrt_inverse", "inverse"] = "sqrt_inverse"
    max_pos_weight: float = Field(10.0, ge=1)
    max_steps: int | None = Field(None, ge=1)
    threads: int | None = Field(None, ge=1)
    # Batches of similar lengths, so few are padded to one long sentence (see loop.epoch_batches).
    group_by_length: bool = True
    # After training, export ONNX, try the int8 ladder and time the backends (training.fast_path).
    # Runs that only compare figures may skip it: it costs 2-10 minutes, and the model then
    # serves with PyTorch until `python -m training.fast_path MODEL_DIR` is run on it.
    fast_path: bool = True
    # Arithmetic of the forward pass while training (training.loop.autocast_dtype): "bf16"
    # autocasts matrix products to bfloat16 (weights, gradients and optimiser stay float32);
    # "auto" does so only where the processor has native bf16 (AVX-512 BF16 or AMX), since
    # elsewhere it is emulated and slower. Scoring and serving stay float32 either way.
    precision: Literal["fp32", "bf16", "auto"] = "fp32"


class BaselineConfig(_Section):
    ngram_max: int = Field(2, ge=1, le=3)
    min_df: int = Field(2, ge=1)
    C: float = Field(4.0, gt=0)


class TrackingConfig(_Section):
    experiment: str = "diplomatic-events"
    registered_model: str = "diplomatic-events"
    register_model: bool = True


class RunConfig(_Section):
    name: str
    seed: int = 13
    output_dir: Path = Path("artifacts")
    checkpoint_dir: Path = Path("checkpoints")
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    baseline: BaselineConfig = BaselineConfig()
    tracking: TrackingConfig = TrackingConfig()

    @property
    def model_dir(self) -> Path:
        return self.output_dir / self.name

    @model_validator(mode="after")
    def _pseudo_labels_without_context(self) -> RunConfig:
        # Pseudo-labelled sentences are stored without their neighbours.
        if self.data.pseudo_labels is not None and self.model.context != "none":
            raise ValueError("data.pseudo_labels cannot be combined with model.context yet (pseudo-labelled "
                             "sentences carry no context)")
        return self


class AdaptConfig(_Section):
    """Continued masked-LM pretraining of an encoder on the unlabelled real text (``training.adapt``)."""

    name: str
    seed: int = 13
    encoder: str = "minilm"
    # The adapted encoder is written to output_dir/name: a cache (ignored by git), named by
    # a training config's model.encoder.
    output_dir: Path = ADAPTED_ENCODERS
    corpus: Path = Path("build/corpus.jsonl")  # its dev and test documents are left out
    max_sentences: int | None = Field(30000, ge=1)
    min_words: int = Field(5, ge=1)  # shorter lines (datelines, tags, headings) teach little
    eval_sentences: int = Field(500, ge=1)  # real dev sentences for the masked-LM loss before and after
    max_length: int = Field(128, ge=8, le=512)
    epochs: int = Field(1, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(5e-5, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.06, ge=0, lt=1)
    mlm_probability: float = Field(0.15, gt=0, lt=1)
    threads: int | None = Field(None, ge=1)
    tracking: TrackingConfig = TrackingConfig(experiment="diplomatic-events-adapt", register_model=False)

    @property
    def encoder_dir(self) -> Path:
        return self.output_dir / self.name


class PseudoConfig(_Section):
    """Self-training's pseudo-labels: a teacher model labels the unannotated real sentences (``training.pseudo``)."""

    name: str
    seed: int = 13
    teacher: Path  # a trained model directory, e.g. artifacts/default
    corpus: Path = Path("build/corpus.jsonl")  # every annotated document is left out
    output_dir: Path = PSEUDO_LABELS
    max_sentences: int | None = Field(40000, ge=1)  # unannotated sentences the teacher scores
    min_words: int = Field(5, ge=1)
    # Each label's confidence cut-off is the lowest at which the teacher's positive decisions
    # for it on real dev are at least this precise.
    target_precision: float = Field(0.8, gt=0, le=1)
    min_decisions: int = Field(10, ge=1)  # a label's precision on fewer dev decisions is not trusted
    # A label whose score lies between this and its cut-off is uncertain: the sentence is dropped.
    max_negative_score: float = Field(0.1, ge=0, lt=0.5)
    # Sentences with no label kept per sentence with one (real text is ~80% none).
    negatives_per_positive: float = Field(1.0, ge=0)
    batch_size: int = Field(64, ge=1)
    threads: int | None = Field(None, ge=1)
    tracking: TrackingConfig = TrackingConfig(experiment="diplomatic-events-pseudo", register_model=False)

    @property
    def path(self) -> Path:
        return self.output_dir / f"{self.name}.jsonl"


Config = TypeVar("Config", bound=BaseModel)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = (),
                schema: type[Config] = RunConfig) -> Config:  # type: ignore[assignment]
    """Read a YAML config, apply ``key.sub=value`` overrides, and validate the result.

    The run name is the file's stem. ``schema`` is the config's type: a training run's
    :class:`RunConfig` by default, :class:`AdaptConfig` or :class:`PseudoConfig`.

    Raises:
        ConfigError: naming the file, the key and the reason.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    raw.setdefault("name", path.stem)
    for override in overrides:
        _apply_override(raw, override, path)
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc


def _apply_override(raw: dict[str, Any], override: str, path: Path) -> None:
    key, sep, value = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"{path}: override {override!r} must look like key.sub=value")
    *parents, leaf = key.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{path}: override {override!r}: {part} is not a section")
    node[leaf] = yaml.safe_load(value)


def config_parser(prog: str, description: str, example: str, override: str) -> argparse.ArgumentParser:
    """The command line every config-driven command shares: ``--config FILE`` and repeatable ``--set KEY=VALUE``.

    Example:
        >>> parser = config_parser("python -m x", "X.", "configs/tiny.yaml", "seed=1")
        >>> parser.parse_args(["--config", "a.yaml", "--set", "seed=2"]).overrides
        ['seed=2']
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", required=True, type=Path, help=f"a YAML file such as {example}")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help=f"override a config value, e.g. --set {override} (repeatable)")
    return parser


def flatten(cfg: BaseModel) -> dict[str, str]:
    """The config as dotted keys and string values, as MLflow params.

    Example:
        >>> flatten(RunConfig(name="x"))["train.learning_rate"]
        '5e-05'
    """
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else key, sub)
        else:
            flat[prefix] = str(list(value) if isinstance(value, tuple) else value)

    walk("", cfg.model_dump(mode="python"))
    return flat
