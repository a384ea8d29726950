"""Score Spark DataFrames with the registered model: sentences through MLflow's Spark UDF, or whole articles.

Needs the ``spark`` extra (``pip install '.[spark]'``) and Java 17. The same code runs in
local mode and on a cluster: point ``MLFLOW_TRACKING_URI`` at a shared MLflow server and
pass ``models:/NAME@ALIAS``; the driver downloads the model once and Spark ships it to
the executors. See the README's Spark section for ``spark-submit``. Example::

    from pyspark.sql import SparkSession
    from inference.spark import score_documents, score_sentences

    spark = SparkSession.builder.master("local[2]").getOrCreate()
    sentences = spark.read.parquet("sentences.parquet")              # a "text" column
    score_sentences(sentences, "models:/diplomatic-events@champion").select("text", "labels", "scores").show()
    articles = spark.read.json("articles.jsonl")
    score_documents(articles, "models:/diplomatic-events@champion").select("id", "events").show()

Both add columns and keep the others: ``labels`` (array of label ids) and ``scores`` (map
label -> probability), exactly :meth:`inference.Classifier.predict`'s; or ``events`` (as
:meth:`inference.Classifier.classify_document` finds them: label, name, score, CAMEO
codes, PLOVER type, evidence sentences with offsets) and ``sentence_count``. Spark hands
the model Arrow batches of rows (``spark.sql.execution.arrow.maxRecordsPerBatch``, 10,000
by default), which the classifier scores 32 sentences at a time (``batch_size`` for articles).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

# What each UDF returns, as Spark DDL: the column types users get.
PREDICTION_TYPE = "labels array<string>, scores map<string, double>"
EVIDENCE_TYPE = "struct<text: string, start: int, end: int, score: double>"
EVENT_TYPE = (f"struct<label: string, name: string, score: double, cameo: array<string>, plover: string, "
              f"evidence: array<{EVIDENCE_TYPE}>>")
DOCUMENT_TYPE = f"events array<{EVENT_TYPE}>, sentence_count int"


def sentence_udf(spark: Any, model_uri: str) -> Any:
    """MLflow's Spark UDF for the model at ``model_uri``; call it on ``struct(col.alias("text"))``.

    Returns a struct column with ``labels`` and ``scores``. The current Python environment
    is used on the executors (``env_manager="local"``): install the project there. The
    pyfunc model scores 32 sentences a forward pass: its logged signature declares no
    params, so MLflow would drop a batch size passed here.
    """
    import mlflow.pyfunc

    from inference.env import configure_offline
    from inference.tracking_uri import default_tracking_uri

    configure_offline()
    mlflow.set_tracking_uri(default_tracking_uri())
    return mlflow.pyfunc.spark_udf(spark, model_uri, result_type=PREDICTION_TYPE, env_manager="local")


def score_sentences(frame: Any, model_uri: str, text_column: str = "text") -> Any:
    """``frame`` with ``labels`` and ``scores`` columns for the sentences in ``text_column``."""
    from pyspark.sql import functions as F

    udf = sentence_udf(frame.sparkSession, model_uri)
    scored = frame.withColumn("_prediction", udf(F.struct(F.col(text_column).alias("text"))))
    return scored.withColumns({"labels": F.col("_prediction.labels"),
                               "scores": F.col("_prediction.scores")}).drop("_prediction")


def score_documents(frame: Any, model_uri: str, text_column: str = "text", batch_size: int = 32) -> Any:
    """``frame`` with ``events`` and ``sentence_count`` columns for the articles in ``text_column``.

    The model directory is fetched once on the driver (an MLflow URI or a directory) and
    shipped to every executor with ``SparkContext.addFile``; each Python worker loads it once.
    """
    from pyspark.sql import functions as F

    from inference.load import resolve_model_dir

    model_dir = resolve_model_dir(model_uri).resolve()
    frame.sparkSession.sparkContext.addFile(str(model_dir), recursive=True)
    udf = F.pandas_udf(_document_scorer(model_dir.name, batch_size), DOCUMENT_TYPE)
    scored = frame.withColumn("_document", udf(F.col(text_column)))
    return scored.withColumns({"events": F.col("_document.events"),
                               "sentence_count": F.col("_document.sentence_count")}).drop("_document")


def _document_scorer(folder: str, batch_size: int) -> Any:
    """The pandas function each executor runs: articles in, events out (the model loaded once per worker)."""

    def score(texts: pd.Series) -> pd.DataFrame:
        from pyspark import SparkFiles

        from inference.load import cached_classifier

        clf = cached_classifier(Path(SparkFiles.get(folder)))
        documents = [clf.classify_document(text, batch_size=batch_size) for text in texts]
        return pd.DataFrame({"events": [events_rows(document) for document in documents],
                             "sentence_count": [len(document.sentences) for document in documents]})

    return score


def events_rows(document: Any) -> list[dict]:
    """A document's events as plain rows for the ``events`` column.

    Example:
        >>> rows = events_rows(clf.classify_document(article))
        >>> all(set(row) == {"label", "name", "score", "cameo", "plover", "evidence"} for row in rows)
        True
    """
    return [{"label": e.label, "name": e.name, "score": e.score, "cameo": list(e.cameo), "plover": e.plover,
             "evidence": [{"text": ev.text, "start": ev.start, "end": ev.end, "score": ev.score} for ev in e.evidence]}
            for e in document.events]
