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


def test_a_corpus_split_logged_by_a_run_that_lost_the_insert_race_is_still_linked(store, tmp_path, monkeypatch):
    # Seeds started together on one SQLite store race to insert the same dataset row; the
    # loser's first insert fails with a unique-constraint error, as simulated here.
    import pandas as pd
    from mlflow.exceptions import MlflowException

    real_log_input, calls = tracking.mlflow.log_input, []

    def lose_the_race_once(*args, **kwargs):
        calls.append(kwargs.get("context"))
        if len(calls) == 1:
            raise MlflowException("UNIQUE constraint failed: datasets.experiment_id, datasets.name, datasets.digest")
        return real_log_input(*args, **kwargs)

    monkeypatch.setattr(tracking.mlflow, "log_input", lose_the_race_once)
    frame = pd.DataFrame({"text": ["Talks began."], "labels": [[1]]})
    with tracking.run("racing seed") as run_id:
        tracking.log_corpus({"train": frame}, tmp_path / "corpus.jsonl", "ab" * 32)
    inputs = store.get_run(run_id).inputs.dataset_inputs
    assert [d.dataset.name for d in inputs] == ["corpus-train"] and calls == ["train", "train"]


def test_a_logged_figure_is_stored_and_closed(store):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    with tracking.run("plotted") as run_id:
        tracking.log_figure(figure, "plots/line.png")
    assert [a.path for a in store.list_artifacts(run_id, "plots")] == ["plots/line.png"]
    # A training run logs a dozen figures; left open, each keeps its canvas in memory.
    assert not plt.fignum_exists(figure.number)


def test_a_new_store_waits_for_another_process_that_is_creating_it(tmp_path, monkeypatch):
    # Seeds started together on a new SQLite store raced in MLflow's schema migration; setup
    # now creates the store under a lock beside it. Hold that lock as another process would.
    import threading

    from filelock import FileLock

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    database = tmp_path / "mlflow.db"
    holder = FileLock(f"{database}.lock")
    holder.acquire()
    waiting = threading.Thread(target=tracking.setup, args=("lock-test",))
    waiting.start()
    waiting.join(timeout=2)
    assert waiting.is_alive() and not database.exists()  # it waits rather than create the store
    holder.release()
    waiting.join(timeout=60)
    assert not waiting.is_alive()
    assert MlflowClient(f"sqlite:///{database}").get_experiment_by_name("lock-test") is not None
