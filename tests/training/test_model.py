import os

import pytest

from training.config import ModelConfig
from training.model import build_model, encoder_path


def test_tiny_random_model_needs_no_weights():
    model, tokenizer = build_model(ModelConfig(encoder="tiny-random"), ("aid", "arms_deal"), ["Aid was sent."])
    assert model.config.num_labels == 2
    assert model.config.problem_type == "multi_label_classification"
    assert model.config.id2label == {0: "aid", 1: "arms_deal"}
    assert tokenizer("Aid was sent.")["input_ids"][0] == tokenizer.cls_token_id


def test_unknown_encoder_is_named():
    with pytest.raises(FileNotFoundError, match="'no-such-encoder'"):
        encoder_path("no-such-encoder")


@pytest.mark.slow
def test_packaged_minilm_loads_offline():
    model, tokenizer = build_model(ModelConfig(encoder="minilm"), ("aid",), [])
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    out = model(**tokenizer(["Donors pledged aid."], return_tensors="pt"))
    assert tuple(out.logits.shape) == (1, 1)
