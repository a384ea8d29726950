"""Find and load a classifier from a model directory or an MLflow model URI.

Example:
    >>> clf = load_classifier(model_dir)    # "artifacts/default", or "models:/diplomatic-events@champion"
    >>> clf.meta.labels[:3]
    ('state_visit', 'arms_deal', 'sanctions_appeal')
"""

from __future__ import annotations

import threading
from pathlib import Path

from inference.artifact import META_FILE, ArtifactError, load_artifact
from inference.classifier import Classifier, Prediction
from inference.env import configure_offline

_MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/", "s3://", "gs://", "dbfs:/")


def load_classifier(source: str | Path) -> Classifier:
    """Load a classifier from a model directory or an MLflow URI (``models:/NAME@ALIAS``, ``runs:/...``).

    Raises:
        ArtifactError: the directory is missing, incomplete or from an unknown taxonomy.
    """
    return Classifier(*load_artifact(resolve_model_dir(source)))


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
    """Load ``source`` once per process and reuse it (what module-level ``predict`` uses)."""
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
