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
import sys
from collections.abc import MutableMapping
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


def sleep_between_operations(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Make idle PyTorch (OpenMP) threads sleep instead of spinning; ``False`` if it is too late for that.

    By default OpenMP threads spin-wait between operations, which saves a wake-up on an
    idle machine but, when other processes hold the cores, makes every operation wait for
    a descheduled thread: on the project's 2-core machine beside a training run, 2 sleeping
    threads scored the tiny test model 1.8x to 9x faster than 2 spinning ones
    (docs/SCALING.md). ``OMP_WAIT_POLICY`` is read once, when torch loads OpenMP, so it is
    set only while torch is not imported yet (later it would change nothing here and only
    leak into child processes); a value the user set is kept.

    Example:
        >>> environ = {}
        >>> sleep_between_operations(environ), environ   # the examples' model loaded torch already
        (False, {})
    """
    if "torch" in sys.modules:
        return False
    environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return True
