"""The ONNX backends and the cascade: parity with PyTorch on a small model, loading rules, thread safety."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from inference import ArtifactError, load_classifier
from inference.artifact import ArtifactMeta, save_artifact
from inference.backends import Encoder
from inference.export import export_onnx
from inference.taxonomy import TAXONOMY
from inference.text import normalize
from tests.conftest import TOKENIZER_TEXTS
from training.config import ModelConfig
from training.corpus import ensure_built, load_records
from training.fast_path import MAX_SCORE_DIFF, MIN_AGREEMENT, QUANTIZATION, corpus_splits, parity, prepare_fast_path
from training.model import build_model


def real_test_sentences(limit: int = 300) -> list[str]:
    """Real news sentences of the test split, read at run time (never stored in the repository)."""
    return [r.text for r in load_records(ensure_built()) if r.split == "test" and r.is_real][:limit]


@pytest.fixture(scope="module")
def spread_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT with its head scaled up, exported and quantised as training does it.

    A random head gives every sentence about 0.5 on every label; scaled up, the scores
    spread out and magnify what int8 changes in the encoder (by 40 times on the logits).
    """
    labels = TAXONOMY.ids
    model, tokenizer = build_model(ModelConfig(encoder="tiny-random"), labels, TOKENIZER_TEXTS, seed=0)
    with torch.no_grad():
        model.classifier.weight.mul_(40.0)
    meta = ArtifactMeta(labels=labels, thresholds=dict.fromkeys(labels, 0.5), max_length=64)
    directory = save_artifact(tmp_path_factory.mktemp("spread") / "model", model, tokenizer, meta)
    export_onnx(directory, QUANTIZATION)
    return directory


def test_the_encoder_gives_the_transformers_tokenizer_s_ids(tiny_classifier, tiny_model_dir):
    from transformers import AutoTokenizer

    texts = real_test_sentences(40) + ["", "a " * 500]
    hf = AutoTokenizer.from_pretrained(tiny_model_dir)(texts, padding=True, truncation=True, max_length=32,
                                                       return_tensors="np")
    ours = Encoder.from_transformers(AutoTokenizer.from_pretrained(tiny_model_dir), 32)(texts)
    assert set(hf) <= set(ours)
    for name in hf:
        np.testing.assert_array_equal(ours[name], hf[name], err_msg=name)


def test_int8_and_fp32_onnx_keep_parity_with_pytorch_on_real_sentences(spread_model_dir):
    texts = real_test_sentences()
    reference = load_classifier(spread_model_dir, backend="torch").score(texts)
    assert reference.std() > 0.05, "the test model's scores should spread out, or parity would prove little"
    meta = load_classifier(spread_model_dir, backend="torch").meta
    gold = (reference >= 0.5).astype(int)  # any labels do: parity compares decisions, not quality
    fp32 = load_classifier(spread_model_dir, backend="onnx-fp32").score(texts)
    assert np.abs(fp32 - reference).max() < 2e-3  # float rounding only (the rescaled head magnifies it)
    int8 = load_classifier(spread_model_dir, backend="onnx").score(texts)
    result = parity(reference, int8, gold, meta.thresholds, meta.labels)
    assert result.agreement >= MIN_AGREEMENT and result.max_score_diff <= MAX_SCORE_DIFF, result
    assert result.passed
    assert not np.array_equal(int8, reference)  # int8 really ran: its scores are close, not identical


def test_parity_fails_when_scores_move(spread_model_dir):
    meta = load_classifier(spread_model_dir, backend="torch").meta
    reference = np.array([[0.9] * 9, [0.1] * 9])
    moved = reference.copy()
    moved[0, 0] = 0.4  # one decision flips out of 18 and one score moves by 0.5
    result = parity(reference, moved, (reference > 0.5).astype(int), meta.thresholds, meta.labels)
    assert not result.passed and result.agreement == pytest.approx(17 / 18, abs=1e-4) and result.max_score_diff == 0.5


def test_the_onnx_backend_serves_the_same_contract(spread_model_dir):
    clf = load_classifier(spread_model_dir, backend="onnx")
    predictions = clf.predict(["The EU extended sanctions on Minsk.", "", "   "])
    assert [len(p.scores) for p in predictions] == [9, 9, 9]
    assert predictions[1].labels == () and predictions[2].labels == ()
    with pytest.raises(TypeError):
        clf.predict("a bare string")
    doc = clf.classify_document("Putin arrived in Hanoi. " * 3)
    assert len(doc.sentences) == 3


def test_the_onnx_backend_is_safe_to_share_between_threads(spread_model_dir):
    clf = load_classifier(spread_model_dir, backend="onnx")
    texts = real_test_sentences(64)
    alone = clf.score(texts, batch_size=8)
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda _: clf.score(texts, batch_size=8), range(4)))
    for scores in together:
        np.testing.assert_allclose(scores, alone, atol=1e-6)


def test_a_directory_without_onnx_files_loads_in_pytorch(tiny_model_dir):
    assert load_classifier(tiny_model_dir).backend.name == "torch"
    with pytest.raises(ArtifactError, match="python -m inference.export"):
        load_classifier(tiny_model_dir, backend="onnx")
    with pytest.raises(ArtifactError, match="no cascade"):
        load_classifier(tiny_model_dir, cascade=True)
    with pytest.raises(ArtifactError, match="unknown backend"):
        load_classifier(tiny_model_dir, backend="tensorrt")


@pytest.mark.parametrize("change, message", [
    ({"backend": "tensorrt"}, "backend is 'tensorrt'"),
    ({"cascade_cutoff": 0.9}, "cascade_cutoff is 0.9"),
    ({"cascade_enabled": True}, "no cascade_cutoff"),
])
def test_classifier_json_with_a_bad_fast_path_setting_is_refused(tiny_model_dir, tmp_path, change, message):
    copy = shutil.copytree(tiny_model_dir, tmp_path / "model")
    data = json.loads((copy / "classifier.json").read_text())
    (copy / "classifier.json").write_text(json.dumps({**data, **change}))
    with pytest.raises(ArtifactError, match=message):
        load_classifier(copy)


@pytest.mark.slow
def test_prepare_fast_path_records_parity_and_a_default_that_passed(spread_model_dir, tmp_path):
    directory = shutil.copytree(spread_model_dir, tmp_path / "model")
    splits = corpus_splits(ensure_built(), TAXONOMY.ids)
    small = {name: split.select(list(range(0, len(split.texts), max(1, len(split.texts) // 300))))
             for name, split in splits.items()}
    report = prepare_fast_path(directory, small["train"], small["dev"], small["test"])
    meta = json.loads((directory / "classifier.json").read_text())
    assert meta["backend"] == report.default
    assert report.default == "torch" or report.backends[report.default].passed
    assert meta["parity"]["backends"]["onnx"] == {**report.backends["onnx"].__dict__}
    assert meta["cascade_enabled"] == report.cascade.passed
    assert 0.0 <= meta["cascade_cutoff"] <= 0.5
    clf = load_classifier(directory, cascade=True)
    texts = small["test"].texts
    with_cascade = clf.score(texts)
    ruled_out = ~clf.cascade.keep(clf.cascade.probabilities([normalize(t) for t in texts]))
    # A ruled-out sentence keeps its first-stage scores, below every threshold: no labels.
    assert all(p.labels == () for p, out in zip(clf.predict(texts), ruled_out) if out)
    assert (with_cascade[ruled_out] < meta["cascade_cutoff"]).all()


def test_the_cascade_cut_off_keeps_the_positive_decisions_it_promises():
    from training.fast_path import tune_cutoff

    rng = np.random.default_rng(0)
    first_stage = rng.random((1000, 3))
    decisions = (rng.random((1000, 3)) < first_stage).astype(int)  # positives where the first stage is high
    cutoff = tune_cutoff(first_stage, decisions, ceiling=0.9, max_drop=0.01)
    dropped = decisions[first_stage.max(axis=1) < cutoff].sum()
    assert dropped <= 0.01 * decisions.sum()
    assert cutoff > 0.1  # and it does rule something out
