"""Shared fixtures: a tiny randomly initialised BERT and a tokenizer built here, never downloaded."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from inference.artifact import ArtifactMeta, save_artifact
from inference.env import configure_offline
from inference.load import load_classifier
from inference.taxonomy import TAXONOMY
from training.config import ModelConfig
from training.model import build_model

ROOT = Path(__file__).resolve().parents[1]
SEED_TEXT = ROOT / "seeds" / "000_eabc39c2cad07c40.txt"
TOKENIZER_TEXTS = [
    "Putin arrived in Pyongyang for talks with Kim Jong Un.",
    "The European Union extended sanctions on Belarus for another year.",
    "Washington approved the sale of F-16 fighter jets to Taipei.",
    "Japan condemned the missile launch and urged tighter sanctions.",
    "Donors pledged $2 billion in humanitarian aid for Sudan.",
] * 4

configure_offline()


@pytest.fixture(scope="session", autouse=True)
def built_corpus() -> Path:
    """The labelled corpus, built once from data/annotation and ../shared/data before any test needs it."""
    from training.corpus import ensure_built

    return ensure_built()


def make_model_dir(directory: Path, thresholds: dict[str, float] | None = None, max_length: int = 32,
                   context: str = "none") -> Path:
    """Save a tiny random model with all nine labels (reading ``context``) to ``directory`` and return it."""
    labels = TAXONOMY.ids
    model, tokenizer = build_model(ModelConfig(encoder="tiny-random"), labels, TOKENIZER_TEXTS, seed=0)
    meta = ArtifactMeta(labels=labels, thresholds=thresholds or dict.fromkeys(labels, 0.5), max_length=max_length,
                        context=context)
    return save_artifact(directory, model, tokenizer, meta)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def tiny_classifier(tiny_model_dir: Path):
    return load_classifier(tiny_model_dir)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_rss_mb(pgid: int) -> float:
    """Resident memory of every process in process group ``pgid`` (a server and its workers), in MB."""
    out = subprocess.run(["ps", "-o", "rss=", "-g", str(pgid)], capture_output=True, text=True).stdout
    return sum(int(value) for value in out.split()) / 1024


def wait_for_http(url: str, process, what: str, timeout: float = 120) -> None:
    """Poll ``url`` until it answers; fail with the process's stderr if it exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{what} did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(1)
