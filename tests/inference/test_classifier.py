import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import inference
from inference import Classifier, labels_from_scores, load_classifier
from inference.taxonomy import TAXONOMY
from tests.conftest import SEED_TEXT, make_model_dir


def test_list_in_list_out_same_order(tiny_classifier):
    texts = ["Putin arrived in Pyongyang.", "", "Donors pledged aid.", "Putin arrived in Pyongyang."]
    preds = tiny_classifier.predict(texts)
    assert len(preds) == 4
    assert preds[0].scores == preds[3].scores
    assert preds[0].scores != preds[2].scores
    assert all(set(p.scores) == set(TAXONOMY.ids) for p in preds)


def test_batch_size_does_not_change_scores(tiny_classifier):
    texts = ["Short.", "A much longer sentence about an arms sale to a neighbour.", "Talks resumed."]
    one = tiny_classifier.score(texts, batch_size=1)
    many = tiny_classifier.score(texts, batch_size=3)
    np.testing.assert_allclose(one, many, atol=1e-5)


def test_bare_string_is_a_type_error(tiny_classifier):
    with pytest.raises(TypeError, match="single string"):
        tiny_classifier.predict("Putin arrived in Pyongyang.")


@pytest.mark.parametrize("bad", [None, 3, b"bytes"])
def test_non_string_item_names_its_index(tiny_classifier, bad):
    with pytest.raises(ValueError, match="item 1"):
        tiny_classifier.predict(["fine", bad])


def test_empty_list_and_blank_texts(tiny_classifier):
    assert tiny_classifier.predict([]) == []
    for pred in tiny_classifier.predict(["", "   \n\t"]):
        assert pred.labels == ()
        assert set(pred.scores.values()) == {0.0}


def test_other_languages_and_scripts_get_predictions(tiny_classifier):
    preds = tiny_classifier.predict(["Путин прибыл в Пхеньян.", "习近平会见了来访的总统。", "🙂🙂"])
    assert len(preds) == 3 and all(len(p.scores) == 9 for p in preds)


def test_labels_always_follow_scores_and_thresholds(tmp_path):
    thresholds = dict.fromkeys(TAXONOMY.ids, 0.5)
    thresholds.update(aid=0.0, arms_deal=1.0)  # aid always fires, arms_deal never
    clf = load_classifier(make_model_dir(tmp_path / "m", thresholds))
    for pred in clf.predict(["Donors pledged aid.", "Tanks were sold."]):
        assert "aid" in pred.labels and "arms_deal" not in pred.labels
        assert pred.labels == labels_from_scores(pred.scores, thresholds)


def test_classify_document_gives_events_with_offsets(tmp_path):
    thresholds = dict.fromkeys(TAXONOMY.ids, 1.0)
    thresholds["state_visit"] = 0.0
    clf = load_classifier(make_model_dir(tmp_path / "m", thresholds))
    text = SEED_TEXT.read_text(encoding="utf-8")
    doc = clf.classify_document(text)
    assert len(doc.sentences) == 16
    assert [e.label for e in doc.events] == ["state_visit"]
    event = doc.events[0]
    assert event.cameo == ("042", "043") and event.plover.startswith("CONSULT")
    assert event.score == max(ev.score for ev in event.evidence)
    for ev in event.evidence:
        assert text[ev.start : ev.end] == ev.text


def test_classify_document_rejects_non_text(tiny_classifier):
    with pytest.raises(TypeError):
        tiny_classifier.classify_document(["a list"])


def test_megabyte_article_runs_in_bounded_batches(tiny_classifier, monkeypatch):
    """Memory is bounded by the forward pass: never more than batch_size x max_length tokens."""
    sentence = "The minister arrived in Hanoi for a two-day visit on Monday. "
    text = sentence * (1_000_000 // len(sentence))
    shapes = []
    real_forward = tiny_classifier.model.forward

    def spy(*args, **kwargs):
        shapes.append(tuple(kwargs["input_ids"].shape))
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(tiny_classifier.model, "forward", spy)
    doc = tiny_classifier.classify_document(text, batch_size=256)
    assert len(doc.sentences) == 1_000_000 // len(sentence)
    assert max(rows for rows, _ in shapes) <= 256
    assert max(width for _, width in shapes) <= tiny_classifier.meta.max_length


def test_safe_from_several_threads(tiny_classifier):
    texts = [f"Talks number {i} were held in Geneva with envoys from {i % 7} states." for i in range(40)]
    expected = tiny_classifier.score(texts)
    barrier = threading.Barrier(4)

    def work(offset):
        barrier.wait()
        return tiny_classifier.score(texts[offset:] + texts[:offset], batch_size=5)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, [0, 10, 20, 30]))
    for offset, result in zip([0, 10, 20, 30], results):
        np.testing.assert_allclose(np.roll(result, offset, axis=0), expected, atol=1e-5)


def test_module_level_predict_caches_the_classifier(tiny_model_dir):
    first = inference.predict(["Aid arrived."], model=tiny_model_dir)
    second = inference.predict(["Aid arrived."], model=str(tiny_model_dir))
    assert first == second
    from inference.load import _cache

    assert isinstance(_cache[str(tiny_model_dir)], Classifier)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=300), max_size=6))
def test_arbitrary_unicode_keeps_shape_and_invariants(tiny_classifier, texts):
    preds = tiny_classifier.predict(texts)
    assert len(preds) == len(texts)
    for text, pred in zip(texts, preds):
        assert list(pred.scores) == list(TAXONOMY.ids)
        assert all(0.0 <= s <= 1.0 for s in pred.scores.values())
        assert pred.labels == labels_from_scores(pred.scores, tiny_classifier.meta.thresholds)
        if not text.strip():
            assert pred.labels == ()


def test_lone_surrogates_are_a_value_error_naming_the_item(tiny_classifier):
    with pytest.raises(ValueError, match=r"item 1 holds a lone surrogate \(U\+DCFF\)"):
        tiny_classifier.predict(["fine", "bad \udcff"])
    with pytest.raises(ValueError, match="the article holds a lone surrogate"):
        tiny_classifier.classify_document("Kim met Putin. \udcff")


def test_one_huge_text_is_cut_before_the_tokenizer_sees_it(tiny_classifier, monkeypatch):
    seen = []
    tokenizer = tiny_classifier.tokenizer

    def recording(batch, **kwargs):
        seen.extend(len(text) for text in batch)
        return tokenizer(batch, **kwargs)

    monkeypatch.setattr(tiny_classifier, "tokenizer", recording)
    huge = "Talks began in Geneva. " * 200_000  # 4.6 million characters on one line
    scores = tiny_classifier.score([huge])
    assert max(seen) <= tiny_classifier.meta.max_length * 64
    monkeypatch.setattr(tiny_classifier, "tokenizer", tokenizer)
    assert np.allclose(scores, tiny_classifier.score([huge[:100_000]]), atol=1e-6)


def test_a_model_with_broken_weights_fails_instead_of_printing_nan(tiny_model_dir, tmp_path):
    import torch

    from inference.artifact import load_artifact, save_artifact

    model, tokenizer, meta = load_artifact(tiny_model_dir)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(float("nan"))
    broken = load_classifier(save_artifact(tmp_path / "nan", model, tokenizer, meta))
    with pytest.raises(ValueError, match="non-finite scores"):
        broken.predict(["Talks began."])
