"""The saved-model format: weights, tokenizer and ``classifier.json`` in one directory.

This is the only module that reads or writes that format. Writes go to a temporary
sibling directory that is renamed into place, so a crash never leaves half a model.
Loading never runs pickled code and never passes ``trust_remote_code``.

Example:
    >>> meta = ArtifactMeta(labels=("aid",), thresholds={"aid": 0.5}, max_length=128)
    >>> meta.taxonomy_version == TAXONOMY.version
    True
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from inference.backends import TORCH_BACKENDS
from inference.context import CONTEXT_MODES
from inference.env import configure_offline
from inference.taxonomy import TAXONOMY
from inference.text import NORMALIZATION_VERSION

META_FILE = "classifier.json"
WEIGHTS_FILE = "model.safetensors"
MODEL_CONFIG_FILE = "config.json"
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")  # either one is enough
TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
# The optional fast path, added by ``python -m inference.export``; a directory without them loads in PyTorch.
ONNX_FILES = {"onnx": "model.int8.onnx", "onnx-fp32": "model.onnx"}
CASCADE_FILE = "cascade.safetensors"
# PyTorch backends need no file of their own: "torch-bf16" runs the same weights under bfloat16 autocast.
BACKEND_NAMES = (*TORCH_BACKENDS, *ONNX_FILES)
FORMAT_VERSION = 1


class ArtifactError(ValueError):
    """A model directory is missing, incomplete or does not match this package."""


def package_version() -> str:
    """The installed version of this project, or ``0+unknown`` when run from a bare checkout."""
    try:
        return metadata.version("diplomatic-events")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@dataclass(frozen=True)
class ArtifactMeta:
    """What ``classifier.json`` holds: everything needed to turn scores into labels."""

    labels: tuple[str, ...]
    thresholds: dict[str, float]
    max_length: int
    taxonomy_version: str = TAXONOMY.version
    normalization_version: str = NORMALIZATION_VERSION
    package_version: str = field(default_factory=package_version)
    mlflow_run_id: str | None = None
    encoder: str | None = None
    format_version: int = FORMAT_VERSION
    # The backend load_classifier uses unless told otherwise: an ONNX one only once it passed parity.
    backend: str = "torch"
    # The first stage's cut-off (None: no cascade saved) and whether it is on by default.
    cascade_cutoff: float | None = None
    cascade_enabled: bool = False
    # What the fast path measured against PyTorch fp32 when it was made (see training/fast_path.py).
    parity: dict[str, Any] | None = None
    # The context segment the model reads beside each sentence (inference/context.py); "none" before it existed.
    context: str = "none"

    def to_json(self) -> str:
        data = asdict(self)
        data["labels"] = list(self.labels)
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> ArtifactMeta:
        """Parse and check ``classifier.json``; errors name the file and the problem."""
        try:
            data: dict[str, Any] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArtifactError(f"{where}: not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ArtifactError(f"{where}: expected a JSON object")
        missing = [name for name in ("labels", "thresholds", "max_length", "taxonomy_version") if name not in data]
        if missing:
            raise ArtifactError(f"{where}: missing field(s) {', '.join(missing)}")
        if data["taxonomy_version"] != TAXONOMY.version:
            raise ArtifactError(
                f"{where}: the model was trained on taxonomy version {data['taxonomy_version']!r}, "
                f"but this package expects version {TAXONOMY.version!r}"
            )
        for name, expected in (("format_version", FORMAT_VERSION), ("normalization_version", NORMALIZATION_VERSION)):
            if name in data and data[name] != expected:
                raise ArtifactError(f"{where}: {name} is {data[name]!r}, but this package reads {expected!r} "
                                    f"(retrain the model, or use the package version that wrote it)")
        labels = data["labels"]
        if not isinstance(labels, list) or not labels or not all(isinstance(label, str) for label in labels):
            raise ArtifactError(f"{where}: labels should be a non-empty list of label ids")
        unknown = [label for label in labels if label not in set(TAXONOMY.ids)]
        if unknown:
            raise ArtifactError(f"{where}: labels {unknown} are not in taxonomy {TAXONOMY.version}")
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ArtifactError(f"{where}: label(s) {', '.join(repeated)} listed more than once")
        thresholds = data["thresholds"]
        if not isinstance(thresholds, dict):
            raise ArtifactError(f"{where}: thresholds should be an object of label: number")
        for label in labels:
            value = thresholds.get(label)
            if label not in thresholds:
                raise ArtifactError(f"{where}: no threshold for label {label}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ArtifactError(f"{where}: the threshold of {label} is {value!r}; it should be a number in [0, 1]")
        max_length = data["max_length"]
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise ArtifactError(f"{where}: max_length is {max_length!r}; it should be a positive integer")
        _check_fast_path(data, where, min(float(thresholds[label]) for label in labels))
        if data.get("context", "none") not in CONTEXT_MODES:
            raise ArtifactError(f"{where}: context is {data['context']!r}; expected one of {', '.join(CONTEXT_MODES)}")
        fields = {name for name in cls.__dataclass_fields__}
        kwargs = {key: value for key, value in data.items() if key in fields}
        kwargs["labels"] = tuple(labels)
        kwargs["thresholds"] = {label: float(thresholds[label]) for label in labels}
        return cls(**kwargs)


def _check_fast_path(data: dict[str, Any], where: Path, lowest_threshold: float) -> None:
    """The backend and cascade fields, when present, name a known backend and a usable cut-off."""
    backend = data.get("backend", "torch")
    if backend not in BACKEND_NAMES:
        raise ArtifactError(f"{where}: backend is {backend!r}; expected one of {', '.join(BACKEND_NAMES)}")
    cutoff = data.get("cascade_cutoff")
    if cutoff is not None:
        # Ruled-out sentences keep first-stage scores below the cut-off; above a threshold
        # they would get labels the transformer never saw.
        if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)) or not 0.0 <= cutoff <= lowest_threshold:
            raise ArtifactError(f"{where}: cascade_cutoff is {cutoff!r}; it should be a number from 0 to the "
                                f"lowest threshold ({lowest_threshold})")
    if data.get("cascade_enabled") and cutoff is None:
        raise ArtifactError(f"{where}: cascade_enabled is true but there is no cascade_cutoff")


def save_artifact(directory: Path, model: Any, tokenizer: Any, meta: ArtifactMeta) -> Path:
    """Write a model directory atomically and return its path.

    The files go to a temporary sibling that replaces ``directory`` only when complete.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / META_FILE).write_text(meta.to_json(), encoding="utf-8")
        _replace_directory(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def publish_directory(new: Path, target: Path) -> None:
    """Move the finished model directory ``new`` to ``target``, replacing an older one only then."""
    _replace_directory(Path(new), Path(target))


def _replace_directory(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``, replacing an older model there only once ``new`` is whole."""
    if target.exists():
        retired = target.with_name(f".{target.name}.old")
        shutil.rmtree(retired, ignore_errors=True)
        target.rename(retired)
        new.rename(target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        new.rename(target)


def add_to_artifact(directory: Path, files: dict[str, Path], meta: ArtifactMeta) -> None:
    """Move ``files`` ({name in the directory: finished file}) into a model directory, then write ``meta``.

    ``classifier.json`` is replaced last and atomically, so a crash part way leaves the model
    as it was (at most with an unused extra file).
    """
    directory = Path(directory)
    read_meta(directory)  # only into a whole model directory
    for name, path in files.items():
        staged = directory / f".{name}.part"
        shutil.move(str(path), staged)
        staged.replace(directory / name)
    staged = directory / f".{META_FILE}.part"
    staged.write_text(meta.to_json(), encoding="utf-8")
    staged.replace(directory / META_FILE)


def onnx_files(directory: Path, backend: str) -> tuple[Path, Path, str]:
    """The ONNX model of ``backend``, the ``tokenizer.json`` and the padding token, checked to exist.

    Raises:
        ArtifactError: the directory has no ONNX export for ``backend``.
    """
    directory = Path(directory)
    model = directory / ONNX_FILES[backend]
    tokenizer = directory / TOKENIZER_JSON
    for path in (model, tokenizer):
        if not path.is_file():
            raise ArtifactError(f"model directory {directory} has no {path.name} for the {backend!r} backend; "
                                f"add it with: python -m inference.export {directory}")
    config = directory / TOKENIZER_CONFIG
    settings = json.loads(config.read_text(encoding="utf-8")) if config.is_file() else {}
    pad = settings.get("pad_token", "[PAD]")
    return model, tokenizer, pad if isinstance(pad, str) else pad.get("content", "[PAD]")


def read_cascade(directory: Path) -> tuple[Any, Any]:
    """The cascade's ``(weights, bias)`` arrays from ``cascade.safetensors`` (no pickled code)."""
    from safetensors.numpy import load_file

    path = Path(directory) / CASCADE_FILE
    if not path.is_file():
        raise ArtifactError(f"model directory {directory} has no {CASCADE_FILE}; fit one with: "
                            f"python -m training.fast_path {directory}")
    tensors = load_file(str(path))
    return tensors["weights"], tensors["bias"]


def write_cascade(path: Path, weights: Any, bias: Any) -> Path:
    """Write the cascade's arrays to ``path`` (for :func:`add_to_artifact`)."""
    from safetensors.numpy import save_file

    save_file({"weights": weights, "bias": bias}, str(path))
    return Path(path)


def read_meta(directory: Path) -> ArtifactMeta:
    """Read ``classifier.json`` after checking the directory holds every file a model needs."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ArtifactError(f"model directory {directory} does not exist")
    for name in (META_FILE, WEIGHTS_FILE, MODEL_CONFIG_FILE):
        if not (directory / name).is_file():
            raise ArtifactError(f"model directory {directory} has no {name}")
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise ArtifactError(f"model directory {directory} has no tokenizer ({' or '.join(TOKENIZER_FILES)})")
    meta_path = directory / META_FILE
    return ArtifactMeta.from_json(meta_path.read_text(encoding="utf-8"), meta_path)


def load_artifact(directory: Path) -> tuple[Any, Any, ArtifactMeta]:
    """Load ``(model, tokenizer, meta)`` from a model directory, in eval mode.

    Raises:
        ArtifactError: naming the missing or unreadable file.
    """
    configure_offline()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    directory = Path(directory)
    meta = read_meta(directory)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(directory, use_safetensors=True)
    except Exception as exc:  # transformers raises many types; the file is what the user needs
        raise ArtifactError(f"{directory / WEIGHTS_FILE} or {MODEL_CONFIG_FILE} could not be loaded: {exc}") from exc
    if model.config.num_labels != len(meta.labels):
        raise ArtifactError(
            f"{directory / MODEL_CONFIG_FILE}: the model has {model.config.num_labels} outputs "
            f"but {META_FILE} lists {len(meta.labels)} labels"
        )
    # The weights' outputs are in id2label order; a reordered label list would mislabel every sentence.
    outputs = tuple(model.config.id2label[i] for i in range(model.config.num_labels))
    if all(name in TAXONOMY.ids for name in outputs) and outputs != meta.labels:
        raise ArtifactError(f"{directory / META_FILE}: labels {list(meta.labels)} are not in the order of the "
                            f"model's outputs {list(outputs)} ({MODEL_CONFIG_FILE} id2label)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory)
    except Exception as exc:
        raise ArtifactError(f"the tokenizer in {directory} could not be loaded: {exc}") from exc
    model.eval()
    return model, tokenizer, meta
