"""Encoder adaptation: held-out documents stay unseen, the encoder is written once and reused, a config can name it."""

from __future__ import annotations

import json

import pytest

import training.adapt as adapt_module
import training.config as config_module
from tests.conftest import ROOT, TOKENIZER_TEXTS
from training.adapt import adapt, ensure_adapted, unlabelled_sentences
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
def test_training_adapts_a_named_encoder_once_and_a_config_can_name_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    start = tmp_path / "tiny-encoder"
    model, tokenizer = build_model(ModelConfig(encoder="tiny-random"), ("aid",), TOKENIZER_TEXTS)
    model.save_pretrained(start)
    tokenizer.save_pretrained(start)
    configs, encoders = tmp_path / "configs", tmp_path / "encoders"
    configs.mkdir()
    (configs / "smoke.yaml").write_text(f"encoder: {start}\noutput_dir: {encoders}\nmax_sentences: 64\n"
                                        "eval_sentences: 16\nbatch_size: 16\nmax_length: 32\n")
    monkeypatch.setattr(config_module, "ADAPT_CONFIGS", configs)
    monkeypatch.setattr(config_module, "ADAPTED_ENCODERS", encoders)
    encoder = encoders / "smoke"
    ensure_adapted(str(encoder))  # what training does before a run on this encoder
    out = capsys.readouterr().out
    assert "not written yet: adapting it first" in out and "masked-LM loss after" in out
    stamp = json.loads((encoder / "adapt.json").read_text())
    assert stamp["sentences"] == 64 and stamp["dev_mlm_loss_after"] > 0
    written = (encoder / "model.safetensors").stat().st_mtime_ns
    ensure_adapted(str(encoder))  # cached: nothing to do
    assert capsys.readouterr().out == ""
    adapt(load_config(configs / "smoke.yaml", schema=AdaptConfig))  # the command says it reuses the cache
    assert "already holds this config's encoder" in capsys.readouterr().out
    assert (encoder / "model.safetensors").stat().st_mtime_ns == written
    run_cfg = load_config(ROOT / "configs/tiny.yaml", [f"model.encoder={encoder}"])
    model, _ = build_model(run_cfg.model, ("aid", "arms_deal"), [])
    assert model.config.num_labels == 2


def test_threads_do_not_change_which_encoder_is_reused():
    from training.adapt import config_digest
    from training.corpus import ensure_built

    corpus = ensure_built()
    base = AdaptConfig(name="news")
    assert config_digest(base, corpus) == config_digest(base.model_copy(update={"threads": 1}), corpus)
    assert config_digest(base, corpus) != config_digest(base.model_copy(update={"max_sentences": 10}), corpus)
