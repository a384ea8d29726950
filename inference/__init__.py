"""Serve the diplomatic-event classifier: ``load_classifier``, ``predict``, the CLI and MLflow pyfunc.

Example:
    >>> from inference import load_classifier                       # doctest: +SKIP
    >>> clf = load_classifier("models:/diplomatic-events@champion")  # doctest: +SKIP
    >>> clf.classify_document(article).events[0].label               # doctest: +SKIP
    'state_visit'
"""

from inference.artifact import ArtifactError, ArtifactMeta
from inference.classifier import (
    Classifier,
    Document,
    Event,
    Evidence,
    Prediction,
    SentencePrediction,
    labels_from_scores,
)
from inference.load import load_classifier, predict
from inference.taxonomy import REQUESTED_LABELS, TAXONOMY

__all__ = [
    "REQUESTED_LABELS",
    "TAXONOMY",
    "ArtifactError",
    "ArtifactMeta",
    "Classifier",
    "Document",
    "Event",
    "Evidence",
    "Prediction",
    "SentencePrediction",
    "labels_from_scores",
    "load_classifier",
    "predict",
]
