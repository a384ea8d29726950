import numpy as np
import pytest

from training.evaluate import decide, evaluate, tune_thresholds

LABELS = ("state_visit", "arms_deal")


def test_sentence_and_document_metrics():
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.1], [0.1, 0.1]])
    gold = np.array([[1, 0], [0, 1], [0, 0], [1, 0]])
    report = evaluate(scores, gold, {"state_visit": 0.5, "arms_deal": 0.5}, LABELS, ["a", "a", "b", "b"])
    # state_visit: tp 1 (row 0), fp 1 (row 2), fn 1 (row 3) -> P = R = F1 = 0.5; arms_deal perfect.
    assert report.per_label["state_visit"]["f1"] == pytest.approx(0.5)
    assert report.per_label["arms_deal"]["f1"] == pytest.approx(1.0)
    assert report.macro_f1 == pytest.approx(0.75)
    # Documents: a = {visit, arms} both found; b gold {visit}, predicted {visit} -> perfect.
    assert report.doc_micro_f1 == pytest.approx(1.0)
    assert report.documents == 2 and report.sentences == 4
    assert report.requested_macro_f1 == pytest.approx(0.75)
    assert "test_f1_arms_deal" in report.to_metrics("test")


def test_macro_skips_labels_without_gold_positives():
    scores = np.array([[0.9, 0.1], [0.1, 0.1]])
    gold = np.array([[1, 0], [0, 0]])
    report = evaluate(scores, gold, {"state_visit": 0.5, "arms_deal": 0.5}, LABELS, ["a", "b"])
    assert report.macro_f1 == pytest.approx(1.0)
    assert "| `arms_deal` * | n/a |" in report.to_markdown("x")


def test_decide_uses_thresholds_inclusively():
    decided = decide(np.array([[0.5, 0.49]]), {"state_visit": 0.5, "arms_deal": 0.5}, LABELS)
    assert decided.tolist() == [[1, 0]]


def test_thresholds_tuned_per_label():
    scores = np.array([[0.3, 0.9], [0.2, 0.7], [0.1, 0.2]])
    gold = np.array([[1, 1], [1, 0], [0, 0]])
    thresholds = tune_thresholds(scores, gold, LABELS)
    assert 0.1 < thresholds["state_visit"] <= 0.2
    assert 0.7 < thresholds["arms_deal"] <= 0.9


def test_label_without_positives_keeps_half():
    assert tune_thresholds(np.array([[0.3]]), np.array([[0]]), ("aid",)) == {"aid": 0.5}


def test_bootstrap_intervals_hold_the_estimate_and_collapse_for_a_perfect_model():
    rng = np.random.default_rng(0)
    gold = (rng.random((300, 2)) < 0.3).astype(int)
    noisy = np.where(rng.random((300, 2)) < 0.2, 1 - gold, gold).astype(float)
    docs = [f"d{i // 5}" for i in range(300)]
    labels = ("aid", "arms_deal")
    report = evaluate(noisy, gold, dict.fromkeys(labels, 0.5), labels, docs, bootstrap=300)
    for name, value in (("micro_f1", report.micro_f1), ("f1_aid", report.per_label["aid"]["f1"])):
        lo, hi = report.intervals[name]
        assert lo <= value <= hi and hi - lo > 0.01
    perfect = evaluate(gold.astype(float), gold, dict.fromkeys(labels, 0.5), labels, docs, bootstrap=100)
    assert perfect.intervals["macro_f1"] == (1.0, 1.0)
    assert "[1.000, 1.000]" in perfect.to_markdown("t")
