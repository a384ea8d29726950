import functools

import numpy as np
import pytest
import torch

import training.loop
from tests.conftest import ROOT, TOKENIZER_TEXTS
from training.config import load_config
from training.loop import Split, TrainingError, checkpoint_path, encode, fit, positive_weights
from training.model import build_model

LABELS = ("state_visit", "aid")


def _splits():
    texts = TOKENIZER_TEXTS[:10]
    gold = np.array([[1, 0], [0, 0], [0, 0], [0, 0], [0, 1]] * 2, dtype=np.float32)
    return Split(texts, gold, [f"d{i}" for i in range(10)])


def test_positive_weights_favour_rare_labels():
    gold = np.array([[1, 1]] + [[1, 0]] * 3 + [[0, 0]] * 96)
    weights = positive_weights(gold, "sqrt_inverse", 10.0)
    assert weights[1] > weights[0] >= 1.0
    assert positive_weights(gold, "inverse", 10.0)[1] == 10.0  # capped
    assert positive_weights(gold, "none", 10.0) == [1.0, 1.0]


def test_interrupted_run_resumes_from_its_checkpoint(tmp_path, capsys):
    cfg = load_config(ROOT / "configs/tiny.yaml", [f"checkpoint_dir={tmp_path}", "train.epochs=2",
                                                   "train.patience=5"])
    split = _splits()

    def interrupt_after_first_epoch(row):
        if row["epoch"] == 1:
            raise KeyboardInterrupt

    model, tokenizer = build_model(cfg.model, LABELS, split.texts, seed=cfg.seed)
    with pytest.raises(KeyboardInterrupt):
        fit(model, tokenizer, split, split, LABELS, cfg, on_epoch=interrupt_after_first_epoch)
    checkpoint = checkpoint_path(cfg)
    assert not checkpoint.exists()  # the epoch's checkpoint is written after the callback returns

    seen = []
    model, tokenizer = build_model(cfg.model, LABELS, split.texts, seed=cfg.seed)
    with pytest.raises(KeyboardInterrupt):
        fit(model, tokenizer, split, split, LABELS, cfg,
            on_epoch=lambda row: seen.append(row) or (row["epoch"] == 2 and (_ for _ in ()).throw(KeyboardInterrupt)))
    assert checkpoint.exists()  # epoch 1 finished and was saved before epoch 2 was interrupted

    model, tokenizer = build_model(cfg.model, LABELS, split.texts, seed=cfg.seed)
    result = fit(model, tokenizer, split, split, LABELS, cfg, resume=True)
    assert "resuming" in capsys.readouterr().out
    assert [row["epoch"] for row in result.history] == [1, 2]
    assert result.history[0] == seen[0]
    assert not checkpoint.exists()  # removed once the run completes


def test_same_config_reproduces_the_run(tmp_path):
    cfg = load_config(ROOT / "configs/tiny.yaml", [f"checkpoint_dir={tmp_path}", "train.epochs=2"])
    split = _splits()
    histories = []
    for _ in range(2):
        model, tokenizer = build_model(cfg.model, LABELS, split.texts, seed=cfg.seed)
        histories.append(fit(model, tokenizer, split, split, LABELS, cfg).history)
    assert histories[0] == histories[1]


def test_a_diverging_run_stops_with_a_clear_message(tmp_path, monkeypatch):
    cfg = load_config(ROOT / "configs/tiny.yaml", [f"checkpoint_dir={tmp_path}", "train.epochs=2"])
    split = _splits()
    model, tokenizer = build_model(cfg.model, LABELS, split.texts, seed=cfg.seed)
    real_forward = model.forward

    def diverged(*args, **kwargs):  # what an exploding learning rate does to the logits
        output = real_forward(*args, **kwargs)
        output.logits = output.logits * float("nan")
        return output

    monkeypatch.setattr(model, "forward", diverged)
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 1, step 1: the weights have diverged"):
        fit(model, tokenizer, split, split, LABELS, cfg)


def test_resume_says_what_it_resumes_or_why_not_before_any_run(tmp_path, monkeypatch, capsys):
    from training import train as train_module

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for name in ("HF_HOME", "HF_DATASETS_CACHE"):  # main() sets them when unset; keep the session's
        monkeypatch.setenv(name, str(tmp_path / "hf"))
    monkeypatch.setattr(train_module, "_interrupt_on_signals", lambda: None)  # keep pytest's signal handlers
    args = ["--config", str(ROOT / "configs/tiny.yaml"), "--set", f"data.corpus={ROOT / 'build/corpus.jsonl'}",
            "--set", f"checkpoint_dir={tmp_path / 'ck'}", "--resume"]
    assert train_module.main(args) == 2
    assert "--resume: nothing to resume for this config and corpus" in capsys.readouterr().err
    assert not (tmp_path / "mlflow.db").exists()  # refused before a run was created
    other = load_config(ROOT / "configs/tiny.yaml", [f"checkpoint_dir={tmp_path / 'ck'}", "train.epochs=9"])
    checkpoint_path(other).parent.mkdir(parents=True)
    checkpoint_path(other).write_bytes(b"")
    assert train_module.main(args) == 2
    assert "1 checkpoint(s) of other settings or another corpus" in capsys.readouterr().err


def test_a_context_model_trains_on_sentence_pairs_and_repeats_with_context_dropout(tmp_path):
    cfg = load_config(ROOT / "configs/tiny.yaml", [f"checkpoint_dir={tmp_path}", "train.epochs=2",
                                                   "model.context=previous", "model.context_dropout=0.5"])
    split = _splits()
    split.contexts = ["", *split.texts[:-1]]
    model, tokenizer = build_model(cfg.model, LABELS, split.texts, seed=cfg.seed)
    encoded = encode(tokenizer, split, cfg)
    # The second segment is there, marked as segment 1; the first sentence's is empty.
    assert all(1 in types for types in encoded["token_type_ids"])
    assert sum(encoded["token_type_ids"][0]) == 1  # only the closing [SEP] of an empty context
    histories = []
    for _ in range(2):
        model, tokenizer = build_model(cfg.model, LABELS, split.texts, seed=cfg.seed)
        histories.append(fit(model, tokenizer, split, split, LABELS, cfg).history)
    assert histories[0] == histories[1]
    bare_cfg = load_config(ROOT / "configs/tiny.yaml", [f"checkpoint_dir={tmp_path}", "train.epochs=2"])
    model, tokenizer = build_model(bare_cfg.model, LABELS, split.texts, seed=cfg.seed)
    assert fit(model, tokenizer, split, split, LABELS, bare_cfg).history != histories[0]


def _fit_recording_dtypes(tmp_path, monkeypatch, precision: str) -> set:
    """Train the tiny model for an epoch and return the dtypes its forward pass produced."""
    cfg = load_config(ROOT / "configs/tiny.yaml", [f"checkpoint_dir={tmp_path}", "train.epochs=1",
                                                   f"train.precision={precision}"])
    split = _splits()
    model, tokenizer = build_model(cfg.model, LABELS, split.texts, seed=cfg.seed)
    seen, real_forward = set(), model.forward

    @functools.wraps(real_forward)  # the serving classifier reads forward's signature to pick its inputs
    def recording(*args, **kwargs):
        output = real_forward(*args, **kwargs)
        if model.training:  # dev scoring runs in eval mode, in float32 like serving
            seen.add(output.logits.dtype)
        return output

    monkeypatch.setattr(model, "forward", recording)
    fitted = fit(model, tokenizer, split, split, LABELS, cfg)
    assert np.isfinite(fitted.history[0]["train_loss"])
    assert {p.dtype for p in model.parameters()} == {torch.float32}  # weights and optimiser stay float32
    return seen


def test_bf16_precision_trains_in_bfloat16_with_float32_weights(tmp_path, monkeypatch, capsys):
    assert _fit_recording_dtypes(tmp_path, monkeypatch, "bf16") == {torch.bfloat16}
    assert "training arithmetic: bfloat16 autocast (train.precision=bf16)" in capsys.readouterr().out
    assert _fit_recording_dtypes(tmp_path, monkeypatch, "fp32") == {torch.float32}


def test_auto_precision_uses_bf16_only_where_the_processor_has_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(training.loop, "native_bf16", lambda device: False)
    assert _fit_recording_dtypes(tmp_path, monkeypatch, "auto") == {torch.float32}
    assert "training arithmetic: float32 (train.precision=auto)" in capsys.readouterr().out
    monkeypatch.setattr(training.loop, "native_bf16", lambda device: True)
    assert _fit_recording_dtypes(tmp_path, monkeypatch, "auto") == {torch.bfloat16}
