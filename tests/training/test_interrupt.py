"""A training process stopped by a signal ends its MLflow run KILLED and exits cleanly."""

import os
import signal
import subprocess
import sys
import time

import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_signal_ends_run_killed(tmp_path, signum):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = [sys.executable, "-u", "-m", "training.train", "--config", str(ROOT / "configs/tiny.yaml"),
               "--set", f"data.corpus={ROOT / 'build/corpus.jsonl'}", "--set", "train.epochs=200",
               "--set", "train.patience=200", "--set", f"output_dir={tmp_path / 'artifacts'}",
               "--set", f"checkpoint_dir={tmp_path / 'checkpoints'}"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    deadline = time.monotonic() + 180
    for line in process.stdout:
        if line.startswith("epoch 1:") or time.monotonic() > deadline:
            break
    process.send_signal(signum)
    rest = process.communicate(timeout=120)[0]
    assert process.returncode == 130, rest[-2000:]
    assert "interrupted: the MLflow run is marked KILLED" in rest
    (run,) = MlflowClient(uri).search_runs(MlflowClient(uri).get_experiment_by_name("diplomatic-events-tiny")
                                           .experiment_id)
    assert run.info.status == "KILLED"
    assert not (tmp_path / "artifacts" / "tiny").exists()  # no half-written model directory
    assert len(list((tmp_path / "checkpoints" / "tiny").glob("*.pt"))) == 1  # resumable
