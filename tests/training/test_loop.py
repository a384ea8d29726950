import numpy as np
import pytest

from tests.conftest import ROOT, TOKENIZER_TEXTS
from training.config import load_config
from training.loop import Split, TrainingError, fit, positive_weights
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
    checkpoint = tmp_path / "tiny" / "last.pt"
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
