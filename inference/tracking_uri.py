"""Where MLflow keeps runs and models when the user has not said.

Embedded by default: a SQLite store ``mlflow.db`` and artifacts under ``mlruns/`` in the
working directory (the project root, for the commands in the README).
``MLFLOW_TRACKING_URI`` overrides it, e.g. for a tracking server.

Example:
    >>> default_tracking_uri().startswith(("sqlite:///", "http"))
    True
"""

from __future__ import annotations

import os
from pathlib import Path


def default_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the embedded SQLite store in the working directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def default_artifact_root() -> str:
    """Where new experiments in the embedded store keep their artifacts."""
    return (Path.cwd() / "mlruns").as_uri()
