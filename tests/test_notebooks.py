"""The notebooks: committed without outputs, and run top to bottom against a tiny model and a temporary store.

The store gets what ``make main`` leaves in the project's: a tiny transformer run, registered
with the alias ``candidate``, beside a TF-IDF baseline run on a slice of the corpus.
"""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT
from training.config import load_config
from training.train import train

NOTEBOOKS = ROOT / "notebooks"
NAMES = ("01_corpus.ipynb", "02_runs.ipynb", "03_article.ipynb")
EXPERIMENT = "diplomatic-events-tiny"


def test_notebooks_are_committed_without_outputs():
    assert sorted(path.name for path in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)
    for name in NAMES:
        for cell in nbformat.read(NOTEBOOKS / name, as_version=4).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{name} has outputs: clear them"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A temporary MLflow store holding a tiny transformer run (registered) and a TF-IDF baseline run."""
    folder = tmp_path_factory.mktemp("notebook-store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)  # mlruns/ of the embedded store goes here, not into the project
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        common = [f"data.corpus={ROOT / 'build/corpus.jsonl'}", f"tracking.experiment={EXPERIMENT}",
                  f"output_dir={folder / 'artifacts'}", f"checkpoint_dir={folder / 'checkpoints'}"]
        for config, extra in (("tiny", []),
                              ("tfidf-logreg", ["data.max_train_sentences=400", "data.max_eval_sentences=200"])):
            train(load_config(ROOT / f"configs/{config}.yaml", [*common, *extra]), ROOT / f"configs/{config}.yaml")
        yield uri


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, store, monkeypatch):
    # The kernel inherits this environment: the temporary store, the tiny model, this tree first on the path.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("DIPLOMATIC_EVENTS_EXPERIMENT", EXPERIMENT)
    monkeypatch.setenv("DIPLOMATIC_EVENTS_MODEL", "models:/diplomatic-events-tiny@candidate")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("DIPLOMATIC_EVENTS_MAX_SENTENCES", "300")  # 02 scores part of the test split, to stay quick
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    figures = sum("image/png" in o.get("data", {}) for o in outputs)
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    if name == "01_corpus.ipynb":
        assert figures == 4
    elif name == "02_runs.ipynb":
        assert figures == 3
        assert "tiny" in html and "tfidf-logreg" in html  # both runs are in the tables
    else:
        assert "<iframe srcdoc=\"&lt;!DOCTYPE html&gt;" in html  # the article page, inline
