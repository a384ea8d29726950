"""The context segment: built the same way from an article and from the corpus, read only by context models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inference import load_classifier
from inference.artifact import ArtifactError, read_meta
from inference.context import PART_CHARS, document_contexts
from inference.text import split_sentences
from tests.conftest import make_model_dir
from training.corpus.records import Record, record_contexts

ARTICLE = ("Putin visits Hanoi\n\nPutin arrived in Hanoi on Wednesday. He met To Lam at the palace. "
           "The two leaders signed a treaty. They also discussed arms sales.")


@pytest.fixture(scope="module")
def context_classifier(tmp_path_factory: pytest.TempPathFactory):
    return load_classifier(make_model_dir(tmp_path_factory.mktemp("ctx") / "m", context="headline_previous"))


def test_modes_give_the_headline_and_the_previous_sentence():
    sentences = ["Headline", "First.", "Second.", "Third."]
    assert document_contexts(sentences, "previous") == ["", "Headline", "First.", "Second."]
    assert document_contexts(sentences, "headline_previous") == ["", "Headline", "Headline | First.",
                                                                 "Headline | Second."]
    assert document_contexts(sentences, "none") == ["", "", "", ""]
    with pytest.raises(ValueError, match="unknown context mode 'next'"):
        document_contexts(sentences, "next")


def test_a_long_part_is_cut_at_a_word_boundary():
    long = "word " * 200
    context = document_contexts(["Headline", long, "Next."], "previous")[2]
    assert len(context) <= PART_CHARS and not context.endswith(" ") and context.split() == ["word"] * len(
        context.split())


def test_the_corpus_gets_the_same_contexts_as_the_serving_code():
    spans = split_sentences(ARTICLE)
    records = [Record(f"d-{i}", "d", i, span.text, (), "voa", "test") for i, span in enumerate(spans)]
    by_id = record_contexts(list(reversed(records)), "headline_previous")  # order in the file must not matter
    assert [by_id[r.id] for r in records] == document_contexts([s.text for s in spans], "headline_previous")


def test_classify_document_reads_each_sentence_with_its_context(context_classifier):
    spans = [span.text for span in split_sentences(ARTICLE)]
    document = context_classifier.classify_document(ARTICLE)
    with_context = context_classifier.score(spans, contexts=document_contexts(spans, "headline_previous"))
    bare = context_classifier.score(spans)
    got = np.array([[s.scores[label] for label in context_classifier.labels] for s in document.sentences])
    np.testing.assert_allclose(got, with_context, rtol=0, atol=1e-7)
    # The context changes what the model reads: the tiny random model's scores move little,
    # but ten times more than float noise on every sentence that has a context.
    assert (np.abs(with_context - bare)[1:].max(axis=1) > 1e-6).all()
    np.testing.assert_allclose(with_context[0], bare[0], rtol=0, atol=1e-7)  # the headline has no context


def test_predict_takes_bare_sentences_or_sentences_with_contexts(context_classifier):
    bare = context_classifier.predict(["He arrived in Hanoi."])
    paired = context_classifier.predict(["He arrived in Hanoi."], contexts=["Putin visits Hanoi"])
    assert len(bare) == len(paired) == 1 and bare[0].scores != paired[0].scores
    with pytest.raises(ValueError, match="got 2 contexts for 1 texts"):
        context_classifier.predict(["He arrived."], contexts=["a", "b"])
    with pytest.raises(ValueError, match="item 0 is int"):
        context_classifier.predict(["He arrived."], contexts=[3])


def test_a_model_without_context_ignores_contexts(tiny_classifier):
    texts = ["He arrived in Hanoi.", "Talks began."]
    np.testing.assert_array_equal(tiny_classifier.score(texts), tiny_classifier.score(texts, contexts=["x", "y"]))


def test_an_unknown_context_mode_in_classifier_json_is_refused(tmp_path: Path):
    directory = make_model_dir(tmp_path / "m")
    meta_file = directory / "classifier.json"
    data = json.loads(meta_file.read_text())
    data["context"] = "paragraph"
    meta_file.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="context is 'paragraph'"):
        read_meta(directory)
