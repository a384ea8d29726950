"""Process settings that keep the package offline and quiet.

There is no model hub to reach and MLflow's telemetry host is unreachable, so every code
path that loads models or talks to MLflow calls :func:`configure_offline` first. Values the
user has set already are kept.

Example:
    >>> configure_offline()
    >>> os.environ["HF_HUB_OFFLINE"]
    '1'
"""

from __future__ import annotations

import os
from pathlib import Path

_OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def configure_offline() -> None:
    """Set the offline and no-telemetry variables unless the user set them."""
    for name, value in _OFFLINE.items():
        os.environ.setdefault(name, value)


def configure_project_caches(root: Path) -> None:
    """Keep Hugging Face caches under ``root/.cache`` (training writes dataset caches there)."""
    os.environ.setdefault("HF_HOME", str(root / ".cache" / "huggingface"))
    os.environ.setdefault("HF_DATASETS_CACHE", str(root / ".cache" / "huggingface" / "datasets"))
