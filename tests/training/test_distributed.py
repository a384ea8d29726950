"""Multi-process training: shards that keep ranks in step, and torchrun giving one run and one model."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT
from training import distributed
from training.loop import Split


@pytest.mark.parametrize(("size", "world"), [(10, 4), (160, 2), (7, 3), (3, 5)])
def test_shards_are_equal_and_cover_every_row(size, world):
    shards = [distributed.shard_rows(size, rank, world) for rank in range(world)]
    assert len({len(shard) for shard in shards}) == 1  # the same number of steps on every rank
    assert sorted({row for shard in shards for row in shard}) == list(range(size))
    assert sum(map(len, shards)) - size < world  # at most world - 1 rows seen twice


def test_a_single_process_is_left_alone():
    split = Split(["a", "b", "c"], np.zeros((3, 1), dtype=np.float32), ["d1", "d2", "d3"])
    model = object()
    assert not distributed.is_distributed()
    assert distributed.shard(split) is split and distributed.wrap(model) is model
    assert distributed.from_main({"dev_macro_f1": 0.5}) == {"dev_macro_f1": 0.5}
    distributed.setup()  # no process group without torchrun's variables
    assert not distributed.torch.distributed.is_initialized()


@pytest.mark.slow
def test_torchrun_two_cpu_processes_give_one_run_and_one_model(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "training.train", "--config", str(ROOT / "configs/tiny.yaml"),
               "--set", f"data.corpus={ROOT / 'build/corpus.jsonl'}", "--set", "train.epochs=1",
               "--set", "train.max_steps=3", "--set", "train.threads=1",
               "--set", f"output_dir={tmp_path / 'artifacts'}", "--set", f"checkpoint_dir={tmp_path / 'checkpoints'}"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    # Each rank trains on half of the 160 training sentences.
    assert "rank 0/2: training on 80 of 160 sentences" in output
    assert "rank 1/2: training on 80 of 160 sentences" in output
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("diplomatic-events-tiny").experiment_id])
    assert run.info.status == "FINISHED" and "test_macro_f1" in run.data.metrics
    assert [str(v.version) for v in client.search_model_versions("name='diplomatic-events-tiny'")] == ["1"]
    assert [p.name for p in (tmp_path / "artifacts").iterdir()] == ["tiny"]
    assert output.count("registered: models:/diplomatic-events-tiny/1") == 1
    assert not list((tmp_path / "checkpoints").rglob("*.pt"))
