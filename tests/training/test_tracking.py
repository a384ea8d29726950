import pytest
from mlflow import MlflowClient

from training import tracking


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracking.setup("status-test")
    return MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")


def _status(client, run_id):
    return client.get_run(run_id).info.status


def test_ctrl_c_ends_the_run_killed(store):
    with pytest.raises(KeyboardInterrupt):
        with tracking.run("interrupted") as run_id:
            raise KeyboardInterrupt
    assert _status(store, run_id) == "KILLED"


def test_crash_ends_the_run_failed(store):
    with pytest.raises(RuntimeError):
        with tracking.run("crashed") as run_id:
            raise RuntimeError("boom")
    assert _status(store, run_id) == "FAILED"


def test_clean_exit_is_finished(store, tmp_path):
    with tracking.run("fine") as run_id:
        tracking.log_metrics({"x": 1.0})
    assert _status(store, run_id) == "FINISHED"
    assert (tmp_path / "mlflow.db").exists()


def test_a_second_ctrl_c_while_ending_cannot_leave_the_run_running(store, monkeypatch):
    import os
    import signal

    real_end_run = tracking.mlflow.end_run

    def impatient_user(*args, **kwargs):  # Ctrl-C again while MLflow is writing the status
        os.kill(os.getpid(), signal.SIGINT)
        return real_end_run(*args, **kwargs)

    monkeypatch.setattr(tracking.mlflow, "end_run", impatient_user)
    with pytest.raises(KeyboardInterrupt):
        with tracking.run("interrupted twice") as run_id:
            raise KeyboardInterrupt
    assert _status(store, run_id) == "KILLED"
