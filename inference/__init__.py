"""Serve the diplomatic-event classifier: ``load_classifier``, ``predict``, the CLI and MLflow pyfunc.

Example:
    >>> from inference import load_classifier
    >>> clf = load_classifier(model_dir)    # a directory, or "models:/diplomatic-events@champion"
    >>> doc = clf.classify_document(article)
    >>> len(doc.sentences), all(e.label in clf.meta.labels for e in doc.events)
    (16, True)
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
