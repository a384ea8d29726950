"""The MLflow pyfunc flavour: ``mlflow models serve`` and Spark batch scoring call this.

Input: a DataFrame with a ``text`` column (or a list of strings). Output: a DataFrame with
``labels`` (list of label ids) and ``scores`` ({label: probability}), exactly what
:meth:`inference.Classifier.predict` returns for the same texts.

Example (what the server answers):
    >>> # POST /invocations {"dataframe_records": [{"text": "Putin arrived in Hanoi."}]}
    >>> # -> {"predictions": [{"labels": ["state_visit"], "scores": {...}}]}
"""

from __future__ import annotations

import os
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from inference.load import load_classifier

MODEL_DIR_ARTIFACT = "model_dir"
# The server loads the backend the model directory names (the fastest that passed parity);
# this variable overrides it, e.g. DIPLOMATIC_EVENTS_BACKEND=onnx mlflow models serve ...
BACKEND_VARIABLE = "DIPLOMATIC_EVENTS_BACKEND"


class DiplomaticEventsModel(mlflow.pyfunc.PythonModel):
    """Wraps :class:`inference.Classifier`; the model directory travels as an MLflow artifact."""

    def load_context(self, context):
        backend = os.environ.get(BACKEND_VARIABLE) or None
        self.classifier = load_classifier(context.artifacts[MODEL_DIR_ARTIFACT], backend=backend)

    # No type hints on these two: MLflow reads them as a schema and warns about ``Any``.
    def predict(self, context, model_input, params=None):
        try:
            texts = texts_from_input(model_input)
            batch_size = int((params or {}).get("batch_size", 32))
            predictions = self.classifier.predict(texts, batch_size=batch_size)
        except (TypeError, ValueError) as exc:
            # A bad request, not a server fault: the REST answer is a 400 saying what is wrong,
            # with no server stack trace.
            raise MlflowException(f"bad 'text' input: {exc}", error_code=INVALID_PARAMETER_VALUE) from None
        labels = [list(p.labels) for p in predictions]
        return pd.DataFrame({"labels": labels, "scores": [p.scores for p in predictions]})


def texts_from_input(model_input: Any) -> list[str]:
    """The texts in a pyfunc input: a ``text`` column, a one-column frame, or a list of strings.

    Example:
        >>> texts_from_input(pd.DataFrame({"text": ["a", "b"]}))
        ['a', 'b']
    """
    if isinstance(model_input, pd.DataFrame):
        if "text" in model_input.columns:
            return model_input["text"].tolist()
        # An unnamed single column (a list or a Spark column passed positionally) is the texts.
        if len(model_input.columns) == 1 and not isinstance(model_input.columns[0], str):
            return model_input.iloc[:, 0].tolist()
        raise ValueError(f"expected a 'text' column, got columns {list(model_input.columns)}")
    if isinstance(model_input, dict) and "text" in model_input:
        return list(model_input["text"])
    return list(model_input)
