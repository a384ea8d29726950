"""Train configs/tiny.yaml against a temporary MLflow store, then load, predict, serve and promote."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from inference import load_classifier
from tests.conftest import ROOT, free_port, group_rss_mb, wait_for_http
from training import tracking
from training.config import load_config
from training.train import train

pytestmark = pytest.mark.slow
NAME = "diplomatic-events-tiny"
TEXTS = ["Putin arrived in Pyongyang for talks.", "Donors pledged aid to Sudan.", "", "Tanks were sold to Poland."]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run in its own folder, with MLflow embedded there."""
    folder = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        cfg = load_config(ROOT / "configs/tiny.yaml", [f"data.corpus={ROOT / 'build/corpus.jsonl'}"])
        result = train(cfg, ROOT / "configs/tiny.yaml")
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        yield {"folder": folder, "result": result, "uri": uri, "client": MlflowClient(uri), "mp": mp}


def test_run_logs_params_metrics_artifacts_and_dataset(trained):
    client, result = trained["client"], trained["result"]
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "tiny"
    assert run.data.params["train.epochs"] == "2"
    assert run.data.params["model.encoder"] == "tiny-random"
    assert len(run.data.params["data.sha256"]) == 16
    assert run.data.params["train.arithmetic"] == "float32"  # tiny.yaml keeps the default train.precision=fp32
    for key in ("test_macro_f1", "test_micro_f1", "test_doc_macro_f1", "test_requested_macro_f1", "dev_macro_f1",
                "test_f1_state_visit", "threshold_arms_deal", "wall_seconds"):
        assert key in run.data.metrics, key
    history = client.get_metric_history(result.run_id, "train_loss")
    assert [m.step for m in history] == [1, 2]
    # The summary dev figures are the final, tuned ones; per-epoch figures have their own key.
    assert run.data.metrics["dev_macro_f1"] == pytest.approx(result.dev.macro_f1)
    assert [m.step for m in client.get_metric_history(result.run_id, "epoch_dev_macro_f1")] == [1, 2]
    assert [m.step for m in client.get_metric_history(result.run_id, "dev_macro_f1")] == [0]
    artifacts = {a.path for folder in ("", "config", "reports", "plots") for a in client.list_artifacts(result.run_id,
                                                                                                           folder)}
    for path in ("config/tiny.yaml", "config/resolved.yaml", "reports/test.json", "reports/test.md",
                 "plots/test_f1.png", "plots/test_pr_curves.png", "plots/test_confusion.png",
                 "plots/training_curves.png"):
        assert path in artifacts, path
    report = json.loads(mlflow.artifacts.load_text(f"runs:/{result.run_id}/reports/test.json"))
    assert report["macro_f1"] == pytest.approx(run.data.metrics["test_macro_f1"])
    contexts = sorted(i.tags[0].value for i in run.inputs.dataset_inputs)
    assert contexts == ["dev", "test", "train"]


def test_registered_with_candidate_alias(trained):
    version = trained["client"].get_model_version_by_alias(NAME, "candidate")
    assert str(version.version) == trained["result"].registered_version
    assert version.run_id == trained["result"].run_id


def test_model_directory_and_registry_give_identical_scores(trained):
    local = load_classifier(trained["folder"] / "artifacts" / "tiny")
    remote = load_classifier(f"models:/{NAME}@candidate")
    np.testing.assert_array_equal(local.score(TEXTS), remote.score(TEXTS))
    assert local.meta.mlflow_run_id == trained["result"].run_id


def test_pyfunc_model_loads_and_predicts_like_predict(trained):
    pyfunc = mlflow.pyfunc.load_model(f"models:/{NAME}@candidate")
    out = pyfunc.predict(pd.DataFrame({"text": TEXTS}))
    expected = load_classifier(trained["folder"] / "artifacts" / "tiny").predict(TEXTS)
    assert [list(p.labels) for p in expected] == out["labels"].tolist()
    for row, pred in zip(out["scores"], expected):
        assert row == pytest.approx(pred.scores)


@pytest.fixture(scope="module")
def served(trained):
    """The README's serving command, as written: ``make serve`` with a model URI and a port."""
    port = free_port()
    venv_bin = os.path.dirname(sys.executable)
    # Without the virtual environment on PATH: `make serve` must put it there for uvicorn.
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env = {**os.environ, "PATH": path, "MLFLOW_TRACKING_URI": trained["uri"], "MLFLOW_DISABLE_TELEMETRY": "true"}
    server = subprocess.Popen(
        ["make", "--no-print-directory", "-C", str(ROOT), "serve", f"SERVE_MODEL=models:/{NAME}@candidate",
         f"PORT={port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ping", server, "make serve")
        yield {"url": f"http://127.0.0.1:{port}/invocations", "pgid": server.pid}
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make, its shell and the server are one process group
        server.wait(timeout=30)


def _post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _records(texts: list) -> bytes:
    return json.dumps({"dataframe_records": [{"text": t} for t in texts]}).encode()


def test_make_serve_answers_invocations(trained, served):
    status, answer = _post(served["url"], _records(TEXTS))
    assert status == 200
    expected = load_classifier(trained["folder"] / "artifacts" / "tiny").predict(TEXTS)
    rows = answer["predictions"]
    assert [r["labels"] for r in rows] == [list(p.labels) for p in expected]
    for row, pred in zip(rows, expected):
        assert row["scores"] == pytest.approx(pred.scores, abs=1e-6)


@pytest.mark.parametrize("body, says", [
    (b"{not json", "json"),
    (json.dumps({"dataframe_records": [{"body": "Talks began."}]}).encode(), "text"),
    (_records([5, None]), "text"),
])
def test_bad_requests_get_a_4xx_that_says_what_is_wrong(served, body, says):
    status, answer = _post(served["url"], body)
    assert 400 <= status < 500
    assert says in answer.get("message", "").lower()
    assert "Traceback" not in json.dumps(answer)


def test_the_server_holds_under_concurrent_clients_and_a_large_payload(trained, served):
    from concurrent.futures import ThreadPoolExecutor

    url = served["url"]
    expected = [list(p.labels) for p in load_classifier(trained["folder"] / "artifacts" / "tiny").predict(TEXTS)]
    _post(url, _records(TEXTS))
    idle = group_rss_mb(served["pgid"])
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: _post(url, _records(TEXTS)), range(200)))
    assert all(status == 200 for status, _ in answers)
    assert all([r["labels"] for r in answer["predictions"]] == expected for _, answer in answers)
    big = ["Talks began in Geneva between the two delegations on the border dispute. " * 14] * 3000
    status, answer = _post(url, _records(big))  # about 3 MB
    assert status == 200 and len(answer["predictions"]) == 3000
    status, _ = _post(url, _records(TEXTS))
    assert status == 200  # still answering after it
    assert group_rss_mb(served["pgid"]) < idle + 1024  # memory stays bounded: no growth per request kept


def test_make_main_promotes_before_classifying():
    steps = subprocess.run(["make", "-n", "-C", str(ROOT), "main"], capture_output=True, text=True, check=True).stdout
    assert steps.index("training.train") < steps.index("training.promote") < steps.index("-m inference")


def test_promotion_goes_through_the_paired_gate(trained, tmp_path, capsys):
    from training.promote import main

    tracking.setup_registry()
    client, run_id = trained["client"], trained["result"].run_id
    corpus = ["--corpus", str(ROOT / "build/corpus.jsonl"), "--resamples", "200"]
    assert main(["--name", NAME, *corpus]) == 0
    assert "first champion" in capsys.readouterr().out
    first = str(client.get_model_version_by_alias(NAME, "champion").version)
    # The same weights registered again: not worse, so promoted, with the evidence printed.
    same = str(client.create_model_version(NAME, source=f"runs:/{run_id}/model", run_id=run_id).version)
    assert main(["--name", NAME, "--version", same, *corpus]) == 0
    out = capsys.readouterr().out
    assert f"version {same} is now champion" in out and "+0.0000 [+0.0000, +0.0000]" in out
    # A copy that labels nothing (every threshold 1.0) loses all its true positives: refused.
    assert client.get_run(run_id).data.metrics["dev_micro_f1"] > 0.05  # so there is something to lose
    mute = tmp_path / "mute"
    shutil.copytree(trained["folder"] / "artifacts" / "tiny", mute)
    meta = json.loads((mute / "classifier.json").read_text())
    meta["thresholds"] = dict.fromkeys(meta["thresholds"], 1.0)
    (mute / "classifier.json").write_text(json.dumps(meta))
    with tracking.run("mute-copy") as mute_run:
        tracking.log_model(mute, None)
    muted = str(client.create_model_version(NAME, source=f"runs:/{mute_run}/model", run_id=mute_run).version)
    assert main(["--name", NAME, "--version", muted, *corpus]) == 1
    out = capsys.readouterr().out
    assert "not promoted" in out and "WORSE beyond the margin" in out
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == same != first


def test_promote_command_refuses_unknown_model(trained, capsys):
    from training.promote import main

    assert main(["--name", "no-such-model"]) == 1
    assert "not promoted: cannot read model 'no-such-model'" in capsys.readouterr().out


def test_a_run_that_fails_late_keeps_the_published_model(trained, monkeypatch):
    from training import tracking

    published = trained["folder"] / "artifacts" / "tiny"
    before = json.loads((published / "classifier.json").read_text())["mlflow_run_id"]

    def broken_registry(*args, **kwargs):
        raise RuntimeError("registry down")

    monkeypatch.setattr(tracking, "log_model", broken_registry)
    cfg = load_config(ROOT / "configs/tiny.yaml", [f"data.corpus={ROOT / 'build/corpus.jsonl'}"])
    with pytest.raises(RuntimeError, match="registry down"):
        train(cfg, ROOT / "configs/tiny.yaml")
    assert json.loads((published / "classifier.json").read_text())["mlflow_run_id"] == before
    assert [p.name for p in published.parent.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_a_run_without_the_fast_path_serves_with_pytorch(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    overrides = [f"data.corpus={ROOT / 'build/corpus.jsonl'}", "train.fast_path=false",
                 "tracking.register_model=false"]
    cfg = load_config(ROOT / "configs/tiny.yaml", overrides)
    train(cfg, ROOT / "configs/tiny.yaml")
    model_dir = tmp_path / "artifacts" / "tiny"
    assert json.loads((model_dir / "classifier.json").read_text())["backend"] == "torch"
    assert sorted(p.name for p in model_dir.glob("*.onnx")) == []
    with_fast_path = trained["folder"] / "artifacts" / "tiny"
    assert (with_fast_path / "model.onnx").exists()  # the same config with the fast path exports
    classifier = load_classifier(model_dir)
    assert classifier.score(TEXTS[:2]).shape == (2, len(classifier.labels))
