"""Encoder adaptation: held-out documents stay unseen, the encoder is written once and reused, a config can name it."""

from __future__ import annotations

import json

import pytest

import training.adapt as adapt_module
from tests.conftest import ROOT, TOKENIZER_TEXTS
from training.adapt import adapt, unlabelled_sentences
from training.config import AdaptConfig, ModelConfig, load_config
from training.corpus.records import Record
from training.corpus.sources import SourceDoc
from training.model import build_model


def test_dev_and_test_documents_are_left_out(monkeypatch):
    docs = {
        "1": SourceDoc("1", "Kept title words here", "A training document sentence here. Short.", None, "x"),
        "2": SourceDoc("2", "", "A test document sentence must stay unseen.", None, "x"),
        "3": SourceDoc("3", "", "An unannotated document sentence is read. A training document sentence here.",
                       None, "x"),
    }
    monkeypatch.setattr(adapt_module, "SOURCE_FILES", {"wikinews": None})
    monkeypatch.setattr(adapt_module, "documents", lambda source: docs)
    records = [Record("1-0", "1", 0, "A training document sentence here.", (), "wikinews", "train"),
               Record("2-0", "2", 0, "A test document sentence must stay unseen.", (), "wikinews", "test")]
    got = unlabelled_sentences(records, max_sentences=None, min_words=4, seed=0)
    assert sorted(got) == ["A training document sentence here.", "An unannotated document sentence is read.",
                           "Kept title words here"]  # no test text, no "Short.", no repeat
    assert len(unlabelled_sentences(records, max_sentences=2, min_words=4, seed=0)) == 2


@pytest.mark.slow
def test_adaptation_writes_an_encoder_once_that_a_training_config_can_name(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    start = tmp_path / "tiny-encoder"
    model, tokenizer = build_model(ModelConfig(encoder="tiny-random"), ("aid",), TOKENIZER_TEXTS)
    model.save_pretrained(start)
    tokenizer.save_pretrained(start)
    cfg = AdaptConfig(name="smoke", encoder=str(start), output_dir=tmp_path / "encoders", max_sentences=64,
                      eval_sentences=16, batch_size=16, max_length=32)
    encoder = adapt(cfg)
    stamp = json.loads((encoder / "adapt.json").read_text())
    assert stamp["sentences"] == 64 and stamp["dev_mlm_loss_after"] > 0
    assert "masked-LM loss after" in capsys.readouterr().out
    written = (encoder / "model.safetensors").stat().st_mtime_ns
    adapt(cfg)  # the same config again: reused, not retrained
    assert "already holds this config's encoder" in capsys.readouterr().out
    assert (encoder / "model.safetensors").stat().st_mtime_ns == written
    run_cfg = load_config(ROOT / "configs/tiny.yaml", [f"model.encoder={encoder}"])
    model, _ = build_model(run_cfg.model, ("aid", "arms_deal"), [])
    assert model.config.num_labels == 2
