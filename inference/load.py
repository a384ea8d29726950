"""Find and load a classifier from a model directory or an MLflow model URI.

Example:
    >>> clf = load_classifier(model_dir)    # "artifacts/default", or "models:/diplomatic-events@champion"
    >>> clf.meta.labels[:3]
    ('state_visit', 'arms_deal', 'sanctions_appeal')
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

from inference.artifact import (
    BACKEND_NAMES,
    META_FILE,
    ArtifactError,
    load_artifact,
    onnx_files,
    read_cascade,
    read_meta,
)
from inference.backends import TORCH_BACKENDS, Encoder, OnnxBackend, TorchBackend, native_bf16
from inference.cascade import Cascade
from inference.classifier import Classifier, Prediction
from inference.env import configure_offline, sleep_between_operations

_MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/", "s3://", "gs://", "dbfs:/")


def load_classifier(source: str | Path, backend: str | None = None, cascade: bool | None = None,
                    threads: int | None = None, spinning: bool = True) -> Classifier:
    """Load a classifier from a model directory or an MLflow URI (``models:/NAME@ALIAS``, ``runs:/...``).

    Args:
        backend: ``"torch"`` (PyTorch fp32), ``"torch-bf16"`` (PyTorch under bfloat16 autocast,
            fast only where the processor has native bf16), ``"onnx"`` (ONNX Runtime int8) or
            ``"onnx-fp32"``;
            ``None`` takes the one ``classifier.json`` names (``"torch"`` for a directory
            without ONNX files).
        cascade: put the first stage in front of the transformer; ``None`` takes the
            directory's setting (off unless it passed parity).
        threads: CPU threads a forward pass uses; ``None`` takes every available CPU (for
            PyTorch this is ``torch.set_num_threads``, which holds for the whole process).
        spinning: ``False`` makes idle threads sleep between operations instead of
            spin-waiting, for throughput on a machine shared with other work (see
            :func:`inference.env.sleep_between_operations`); for PyTorch it takes effect
            only when torch is not imported yet, since OpenMP reads it once.

    Raises:
        ArtifactError: the directory is missing, incomplete, from an unknown taxonomy, or
            lacks the files of the backend or cascade asked for.

    Example:
        >>> load_classifier(model_dir, backend="torch").backend.name
        'torch'
    """
    directory = resolve_model_dir(source)
    meta = read_meta(directory)
    chosen = backend or meta.backend
    if chosen not in BACKEND_NAMES:
        raise ArtifactError(f"unknown backend {chosen!r}; choose one of {', '.join(BACKEND_NAMES)}")
    first_stage = None
    if meta.cascade_enabled if cascade is None else cascade:
        if meta.cascade_cutoff is None:
            raise ArtifactError(f"model directory {directory} has no cascade; fit one with: "
                                f"python -m training.fast_path {directory}")
        first_stage = Cascade(*read_cascade(directory), cutoff=meta.cascade_cutoff)
    if chosen in TORCH_BACKENDS:
        if not spinning:
            sleep_between_operations()  # before load_artifact imports torch
        model, tokenizer, meta = load_artifact(directory)
        precision = TORCH_BACKENDS[chosen]
        if precision == "bf16" and not native_bf16(model.device):
            warnings.warn(f"backend {chosen!r}: this processor has no native bfloat16, so it is emulated and "
                          "slower than 'torch'; prepare the fast path on the machine that serves "
                          f"(python -m training.fast_path {directory})", RuntimeWarning, stacklevel=2)
        return Classifier(TorchBackend(model, threads, precision), tokenizer, meta, cascade=first_stage)
    configure_offline()
    model_path, tokenizer_path, pad_token = onnx_files(directory, chosen)
    encoder = Encoder.from_file(tokenizer_path, meta.max_length, pad_token)
    engine = OnnxBackend(model_path, name=chosen, threads=threads, spinning=spinning)
    return Classifier(engine, encoder, meta, cascade=first_stage)


def resolve_model_dir(source: str | Path) -> Path:
    """Return the local model directory for ``source``, downloading an MLflow model if needed."""
    text = str(source)
    if not text.startswith(_MLFLOW_SCHEMES):
        return Path(source)
    configure_offline()
    import mlflow  # only MLflow URIs need it; plain directories load without it

    from inference.tracking_uri import default_tracking_uri

    uri = default_tracking_uri()
    store = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
    if store is not None and not store.exists() and text.startswith(("models:/", "runs:/")):
        # Reading must not create an empty store in whatever folder the command ran from.
        raise ArtifactError(f"could not fetch {text}: there is no MLflow store at {store}; run from the folder "
                            "that holds mlflow.db (the project root) or set MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=text))
    except Exception as exc:  # MLflow raises its own exception types for unknown models
        raise ArtifactError(f"could not fetch {text} from MLflow at {mlflow.get_tracking_uri()}: {exc}") from exc
    found = sorted(local.rglob(META_FILE))
    if not found:
        raise ArtifactError(f"{text} (downloaded to {local}) holds no {META_FILE}")
    return found[0].parent


_cache: dict[str, Classifier] = {}
_cache_lock = threading.Lock()


def cached_classifier(source: str | Path) -> Classifier:
    """Load ``source`` once per process, with its default backend, and reuse it (what ``predict`` uses)."""
    key = str(source)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = load_classifier(source)
        return _cache[key]


def predict(texts: list[str], model: str | Path, batch_size: int = 32) -> list[Prediction]:
    """Label sentences with the model at ``model``, loading it once and caching it.

    Example:
        >>> first = predict(["NATO condemned the launch."], model=model_dir)[0]
        >>> len(first.scores), set(first.labels) <= set(first.scores)
        (9, True)
    """
    return cached_classifier(model).predict(texts, batch_size=batch_size)
