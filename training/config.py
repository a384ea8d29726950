"""Typed, frozen run configuration loaded from YAML, with dotted command-line overrides.

An unknown key, a wrong type or a missing file fails here, before any work, with the
file, the key and the reason.

Example:
    >>> cfg = load_config("configs/tiny.yaml", ["train.epochs=1"])
    >>> cfg.name, cfg.train.epochs
    ('tiny', 1)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from inference.taxonomy import TAXONOMY

# Where training.adapt writes encoders (a cache, never committed), and where their configs are.
ADAPTED_ENCODERS = Path(".cache/encoders")
ADAPT_CONFIGS = Path("configs/adapt")


def adaptation_config(encoder: str) -> Path | None:
    """The config that writes ``encoder`` when it is an adapted one (``.cache/encoders/NAME``), else ``None``.

    Example:
        >>> adaptation_config(".cache/encoders/news"), adaptation_config("minilm")
        (PosixPath('configs/adapt/news.yaml'), None)
    """
    path = Path(encoder)
    config = ADAPT_CONFIGS / f"{path.name}.yaml"
    return config if path.parent == ADAPTED_ENCODERS and config.is_file() else None


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


Config = TypeVar("Config", bound=BaseModel)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = (),
                schema: type[Config] = RunConfig) -> Config:  # type: ignore[assignment]
    """Read a YAML config, apply ``key.sub=value`` overrides, and validate the result.

    The run name is the file's stem. ``schema`` is the config's type: a training run's
    :class:`RunConfig` by default, or :class:`AdaptConfig`.

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
