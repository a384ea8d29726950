"""What the docstring examples run against: the tiny random model, the seed article, a temporary MLflow store.

Every example in a docstring is executed by the test command (``--doctest-modules``); the
ones that need a trained model get ``clf``, ``model_dir`` and ``article`` here, and MLflow
points at a store in a temporary folder, so no example writes into the project.
"""

from __future__ import annotations

import pytest
from _pytest.doctest import DoctestItem


@pytest.fixture(autouse=True)
def _doctest_world(request, tmp_path_factory, monkeypatch):
    if not isinstance(request.node, DoctestItem):
        return
    from inference.load import load_classifier
    from tests.conftest import SEED_TEXT, make_model_dir

    folder = tmp_path_factory.mktemp("doctest")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    model_dir = make_model_dir(folder / "model")
    request.node.dtest.globs.update(model_dir=model_dir, clf=load_classifier(model_dir), tmp=folder,
                                    article=SEED_TEXT.read_text(encoding="utf-8"))
