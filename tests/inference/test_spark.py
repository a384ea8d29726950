"""Spark in local mode scores real sentences and articles through the registered model, as predict() does."""

from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import pytest

from tests.conftest import ROOT

# No skip: the test command installs the spark extra and .ci/run installs Java, so a missing
# piece is a broken setup to report, not a test to pass over.
assert shutil.which("java"), "Spark needs Java 17: apt-get install openjdk-17-jre-headless"
import pyspark  # noqa: E402,F401  (the spark extra: pip install -e '.[spark]')

from inference.spark import score_documents, score_sentences  # noqa: E402

SENTENCES = 1000
ARTICLES = 6


@pytest.fixture(scope="module")
def registered_uri(tiny_model_dir, tmp_path_factory):
    """The tiny model logged and registered in a temporary MLflow store, as training does it."""
    folder = tmp_path_factory.mktemp("spark-mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        patch.chdir(folder)  # the embedded store keeps its artifacts under ./mlruns
        from training import tracking

        tracking.setup("spark-test")
        with tracking.run("tiny"):
            version = tracking.log_model(tiny_model_dir, "spark-tiny")
        yield f"models:/spark-tiny/{version}"


@pytest.fixture(scope="module")
def spark(registered_uri):
    from pyspark.sql import SparkSession

    # Workers run this interpreter with this checkout first on the path, like the driver.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (SparkSession.builder.master("local[2]").appName("diplomatic-events-test")
               .config("spark.driver.memory", "1g").config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.executorEnv.PYTHONPATH", str(ROOT)).getOrCreate())
    yield session
    session.stop()


@pytest.mark.slow
def test_spark_sentences_equal_predict(spark, registered_uri, tiny_classifier, built_corpus):
    with open(built_corpus, encoding="utf-8") as handle:
        rows = [json.loads(line) for line, _ in zip(handle, range(SENTENCES))]
    frame = spark.createDataFrame([(row["id"], row["text"]) for row in rows], "id string, text string")
    scored = score_sentences(frame.repartition(2), registered_uri).collect()
    assert len(scored) == SENTENCES
    by_id = {row["id"]: row for row in scored}
    expected = tiny_classifier.predict([row["text"] for row in rows])
    got = [by_id[row["id"]] for row in rows]
    assert [list(g["labels"]) for g in got] == [list(p.labels) for p in expected]
    labels = tiny_classifier.labels
    # Spark's batches are not predict()'s batches, so padding differs: scores agree to float32 rounding.
    np.testing.assert_allclose([[g["scores"][label] for label in labels] for g in got],
                               [[p.scores[label] for label in labels] for p in expected], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_spark_documents_equal_classify_document(spark, registered_uri, tiny_classifier):
    with open(ROOT.parent / "shared" / "data" / "voa_stories.jsonl", encoding="utf-8") as handle:
        articles = [json.loads(line) for line, _ in zip(handle, range(ARTICLES))]
    frame = spark.createDataFrame([(a["id"], a["text"]) for a in articles], "id string, text string")
    scored = {row["id"]: row for row in score_documents(frame, registered_uri).collect()}
    for article in articles:
        document, row = tiny_classifier.classify_document(article["text"]), scored[article["id"]]
        assert row["sentence_count"] == len(document.sentences)
        assert [(e["label"], [(ev["start"], ev["end"]) for ev in e["evidence"]]) for e in row["events"]] == \
               [(e.label, [(ev.start, ev.end) for ev in e.evidence]) for e in document.events]
        assert [e["score"] for e in row["events"]] == pytest.approx([e.score for e in document.events], abs=1e-6)
