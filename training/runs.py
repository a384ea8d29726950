"""The runs in the MLflow store, side by side, as pandas frames (``notebooks/02_runs.ipynb``); read only.

Every run (transformer or baseline) logs the same final metrics through
``training.evaluate.Report.to_metrics``: ``test_f1_<label>``, ``test_macro_f1``,
``test_doc_macro_f1`` and so on, with ``*_ci_lo`` / ``*_ci_hi`` 95% bootstrap bounds over
documents where they were computed. These helpers pick the latest finished run of each
config and lay those metrics out for charts.

Example:
    >>> from training import tracking
    >>> _ = tracking.setup("doc-runs")
    >>> with tracking.run("keywords", tags={"model.kind": "keywords"}):  # what training logs, in miniature
    ...     tracking.log_metrics({"test_f1_aid": 0.5, "test_f1_aid_ci_lo": 0.4, "test_f1_aid_ci_hi": 0.6})
    >>> runs = latest_runs("doc-runs")
    >>> list(runs.index), runs.loc["keywords", "kind"]
    (['keywords'], 'keywords')
    >>> per_label_f1(runs).set_index("label").loc["aid", ["f1", "lo", "hi"]].tolist()
    [0.5, 0.4, 0.6]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from inference.taxonomy import TAXONOMY
from training import tracking

# Run kinds as training tags them (tag ``model.kind``); the transformer is the model, the rest baselines.
TRANSFORMER = "transformer"


def latest_runs(experiment: str) -> pd.DataFrame:
    """The latest finished run of each config (run name) in ``experiment``, transformers first.

    One row per run name (the index) with ``kind``, ``run_id``, ``started`` and every metric
    under its logged name (``test_macro_f1``...).

    Raises:
        ValueError: the experiment does not exist or holds no finished run; the message
            names the store and the command that makes one.
    """
    uri = tracking.setup_registry()
    found = tracking.finished_runs(experiment)
    if found.empty:
        raise ValueError(f"no finished run in experiment {experiment!r} of the MLflow store {uri}; train one with "
                         "python -m training.train --config configs/default.yaml (or point MLFLOW_TRACKING_URI "
                         "at the store that holds the runs)")
    found = found.drop_duplicates("tags.mlflow.runName")
    metrics = found.filter(like="metrics.").rename(columns=lambda name: name.removeprefix("metrics."))
    frame = pd.concat([pd.DataFrame({"kind": found["tags.model.kind"], "run_id": found["run_id"],
                                     "started": found["start_time"]}), metrics], axis=1)
    frame.index = pd.Index(found["tags.mlflow.runName"], name="run")
    order = sorted(frame.index, key=lambda name: (frame.loc[name, "kind"] != TRANSFORMER, name))
    return frame.loc[order]


def _metric(runs: pd.DataFrame, run: str, name: str) -> float:
    return float(runs.loc[run, name]) if name in runs.columns else float("nan")


def per_label_f1(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Long form, one row per run and label: ``f1`` with its bootstrap bounds ``lo`` and ``hi`` (NaN if none)."""
    rows = [{"run": run, "kind": runs.loc[run, "kind"], "label": label,
             "f1": _metric(runs, run, f"{split}_f1_{label}"),
             "lo": _metric(runs, run, f"{split}_f1_{label}_ci_lo"),
             "hi": _metric(runs, run, f"{split}_f1_{label}_ci_hi")}
            for run in runs.index for label in TAXONOMY.ids]
    return pd.DataFrame(rows, columns=["run", "kind", "label", "f1", "lo", "hi"])


def headline(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Per run: sentence macro- and micro-F1, document macro- and micro-F1, with bounds where logged.

    Document macro-F1 has no interval (training bootstraps document micro-F1 only), so its
    ``lo``/``hi`` are NaN.
    """
    columns = {}
    for name in ("macro_f1", "micro_f1", "doc_macro_f1", "doc_micro_f1"):
        columns[name] = [_metric(runs, run, f"{split}_{name}") for run in runs.index]
        columns[f"{name}_lo"] = [_metric(runs, run, f"{split}_{name}_ci_lo") for run in runs.index]
        columns[f"{name}_hi"] = [_metric(runs, run, f"{split}_{name}_ci_hi") for run in runs.index]
    frame = pd.DataFrame(columns, index=runs.index)
    frame.insert(0, "kind", runs["kind"])
    return frame


def error_bars(values: pd.Series, lo: pd.Series, hi: pd.Series) -> np.ndarray:
    """Matplotlib's ``xerr``/``yerr`` (distances below and above each value); 0 where no bound was logged.

    Example:
        >>> error_bars(pd.Series([0.5, 0.7]), pd.Series([0.4, np.nan]), pd.Series([0.55, np.nan])).round(2).tolist()
        [[0.1, 0.0], [0.05, 0.0]]
    """
    below = (values - lo).fillna(0).clip(lower=0)
    above = (hi - values).fillna(0).clip(lower=0)
    return np.vstack([below.to_numpy(), above.to_numpy()])
