"""Training and loading through a real MLflow tracking server over HTTP, not only the embedded store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from mlflow import MlflowClient

from inference import load_classifier
from tests.conftest import ROOT, free_port, wait_for_http
from tests.test_end_to_end import TEXTS
from training.config import load_config
from training.train import train

pytestmark = pytest.mark.slow
NAME = "diplomatic-events-tiny"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``mlflow server`` on 127.0.0.1: SQLite backend and a local artifact root in a temporary folder."""
    folder = tmp_path_factory.mktemp("server")
    port = free_port()
    venv_bin = os.path.dirname(sys.executable)
    env = {**os.environ, "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "")]),
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'server.db'}", "--artifacts-destination",
         str(folder / "artifacts")],
        env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{uri}/health", process, "mlflow server")
        yield {"uri": uri, "folder": folder, "pid": process.pid}
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # stopped by its process id (and its workers with it)
        process.wait(timeout=30)


def test_train_register_and_load_through_the_server(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server["uri"])
    cfg = load_config(ROOT / "configs/tiny.yaml", [f"data.corpus={ROOT / 'build/corpus.jsonl'}"])
    result = train(cfg, ROOT / "configs/tiny.yaml")
    client = MlflowClient(server["uri"])
    assert client.get_run(result.run_id).info.status == "FINISHED"
    version = client.get_model_version_by_alias(NAME, "candidate")
    assert str(version.version) == result.registered_version
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()  # all went to the server
    assert any((server["folder"] / "artifacts").rglob("classifier.json"))
    remote = load_classifier(f"models:/{NAME}@candidate")
    local = load_classifier(tmp_path / "artifacts" / "tiny")
    np.testing.assert_array_equal(remote.score(TEXTS), local.score(TEXTS))
