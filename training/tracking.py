"""Everything that talks to MLflow tracking and the model registry lives here.

Embedded by default (``sqlite:///mlflow.db`` and ``mlruns/`` in the working directory);
``MLFLOW_TRACKING_URI`` points it at a tracking server instead.

Example:
    >>> setup("diplomatic-events").startswith(("sqlite:///", "http"))
    True
    >>> with run("default") as run_id:
    ...     log_metrics({"dev_macro_f1": 0.7}, step=1)
    >>> MlflowClient().get_run(run_id).info.status
    'FINISHED'
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from inference.env import configure_offline
from inference.tracking_uri import default_artifact_root, default_tracking_uri

configure_offline()  # before mlflow is imported: its telemetry reads the variable at import

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

CANDIDATE, CHAMPION = "candidate", "champion"
# What the served model needs; with `--env-manager local` the current environment is used.
PYFUNC_REQUIREMENTS = ["torch==2.13.0", "transformers>=5.0,<6", "tokenizers", "onnxruntime>=1.20,<2",
                       "sentencex>=1.0.32,<2", "numpy", "pandas", "mlflow"]


def setup_registry() -> str:
    """Point MLflow's tracking and registry at the configured store; return its URI."""
    mlflow.set_tracking_uri(default_tracking_uri())
    return mlflow.get_tracking_uri()


def setup(experiment: str) -> str:
    """Point MLflow at the configured store and select (creating if needed) the experiment."""
    uri = setup_registry()
    # Runs started together on a new SQLite store (seeds side by side) would each create its
    # tables and run its schema migrations, and the loser's migration fails ("expected to
    # match one row"); one at a time, the later ones find the store and experiment made.
    with store_lock(uri):
        if mlflow.get_experiment_by_name(experiment) is None:
            embedded = uri.startswith("sqlite:")
            mlflow.create_experiment(experiment, artifact_location=default_artifact_root() if embedded else None)
    mlflow.set_experiment(experiment)
    return uri


def store_lock(uri: str) -> AbstractContextManager[object]:
    """An inter-process lock beside an embedded SQLite store (``mlflow.db.lock``); none for a server."""
    if not uri.startswith("sqlite:///"):
        return nullcontext()
    return FileLock(uri.removeprefix("sqlite:///") + ".lock")


@contextmanager
def run(name: str, tags: dict[str, str] | None = None) -> Iterator[str]:
    """A run that ends FINISHED, FAILED on an exception, or KILLED on Ctrl-C; never left RUNNING."""
    active = mlflow.start_run(run_name=name, tags=tags)
    try:
        yield active.info.run_id
    except KeyboardInterrupt:
        _end_run_uninterrupted("KILLED")
        raise
    except BaseException:
        _end_run_uninterrupted("FAILED")
        raise
    _end_run_uninterrupted("FINISHED")


def _end_run_uninterrupted(status: str) -> None:
    """End the active run with Ctrl-C and SIGTERM held off, so a second Ctrl-C cannot leave it RUNNING.

    Signals that arrive meanwhile are not lost: the last one is raised again once the run is ended.
    """
    if threading.current_thread() is not threading.main_thread():
        mlflow.end_run(status=status)  # signal handlers can only be changed in the main thread
        return
    pending: list[int] = []
    held = {sig: signal.signal(sig, lambda signum, frame: pending.append(signum))
            for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        mlflow.end_run(status=status)
    finally:
        for sig, handler in held.items():
            signal.signal(sig, handler)
    if pending and status != "KILLED":
        signal.raise_signal(pending[-1])


def log_params(params: dict[str, Any]) -> None:
    mlflow.log_params(params)


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    mlflow.log_metrics(metrics, step=step)


def log_file(path: Path, folder: str | None = None) -> None:
    mlflow.log_artifact(str(path), artifact_path=folder)


def log_text(text: str, name: str) -> None:
    mlflow.log_text(text, name)


def log_figure(figure: Any, name: str) -> None:
    """Log a matplotlib figure, then close it: pyplot keeps every open figure alive otherwise."""
    import matplotlib.pyplot as plt

    try:
        mlflow.log_figure(figure, name)
    finally:
        plt.close(figure)


def log_corpus(frames: dict[str, Any], source: Path, digest: str) -> None:
    """Log each split of the corpus as an MLflow dataset input, with the file's fingerprint."""
    import mlflow.data

    for split, frame in frames.items():
        dataset = mlflow.data.from_pandas(frame, source=Path(source).resolve().as_uri(), name=f"corpus-{split}",
                                          digest=digest[:16])
        try:
            mlflow.log_input(dataset, context=split)
        except MlflowException:
            # Runs started together on one SQLite store (seeds side by side) race to insert the
            # same dataset row; the loser's insert fails, and once the row exists, logging it
            # again only links it to this run.
            mlflow.log_input(dataset, context=split)
    mlflow.set_tag("corpus.sha256", digest)


def log_model(model_dir: Path, registered_model: str | None) -> str | None:
    """Log the model directory as a pyfunc model; register it and alias it ``candidate``.

    Returns the registered version, or None when ``registered_model`` is None.
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    import inference

    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(Path(inference.__file__).with_name("mlflow_model.py")),
        artifacts={"model_dir": str(model_dir)},
        code_paths=[str(Path(inference.__file__).parent)],
        signature=ModelSignature(inputs=Schema([ColSpec("string", "text")])),
        pip_requirements=PYFUNC_REQUIREMENTS,
        registered_model_name=registered_model,
    )
    if registered_model is None:
        return None
    version = str(info.registered_model_version)
    MlflowClient().set_registered_model_alias(registered_model, CANDIDATE, version)
    return version


def finished_runs(experiment: str) -> Any:
    """The experiment's FINISHED runs as MLflow's DataFrame, newest first (empty if none or no such experiment)."""
    return mlflow.search_runs(experiment_names=[experiment], filter_string="attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"])


@dataclass(frozen=True)
class Promotion:
    """The outcome of a promotion request; ``reason`` says why in words."""

    promoted: bool
    version: str
    reason: str


def promote(name: str, version: str | None = None,
            judge: Callable[[str, str], tuple[bool, str]] | None = None) -> Promotion:
    """Move ``champion`` to ``version`` (default: the ``candidate``) if ``judge`` says it is not worse.

    ``judge(candidate_version, champion_version)`` returns ``(passed, evidence)``; the
    evidence goes into the reason either way. The first version of a model, or a
    candidate that already is the champion, needs no judge.
    """
    client = MlflowClient()
    try:
        version = version or str(client.get_model_version_by_alias(name, CANDIDATE).version)
        client.get_model_version(name, version)
    except MlflowException as exc:
        return Promotion(False, version or "?", f"cannot read model {name!r} version {version}: {exc.message}")
    try:
        champion = str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        champion = None
    evidence = ""
    if champion is not None and champion != version:
        if judge is None:
            raise ValueError("a champion exists: promoting over it needs a judge")
        passed, evidence = judge(version, champion)
        if not passed:
            return Promotion(False, version, f"version {version} is worse than champion version {champion}; "
                                             f"champion unchanged\n{evidence}")
    client.set_registered_model_alias(name, CHAMPION, version)
    before = f"replacing version {champion}" if champion is not None else "first champion"
    reason = f"version {version} is now champion ({before})" + (f"\n{evidence}" if evidence else "")
    return Promotion(True, version, reason)



