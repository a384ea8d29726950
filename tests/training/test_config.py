import pytest
from pydantic import ValidationError

from tests.conftest import ROOT
from training.config import AdaptConfig, ConfigError, PseudoConfig, flatten, load_config

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
ADAPT_CONFIGS = sorted((ROOT / "configs/adapt").glob("*.yaml"))
PSEUDO_CONFIGS = sorted((ROOT / "configs/pseudo").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_config_loads(path):
    cfg = load_config(path)
    assert cfg.name == path.stem
    assert cfg.data.label_ids


@pytest.mark.parametrize("path", ADAPT_CONFIGS, ids=[p.stem for p in ADAPT_CONFIGS])
def test_every_adaptation_config_loads(path):
    cfg = load_config(path, schema=AdaptConfig)
    assert cfg.encoder_dir.name == path.stem


@pytest.mark.parametrize("path", PSEUDO_CONFIGS, ids=[p.stem for p in PSEUDO_CONFIGS])
def test_every_pseudo_label_config_loads(path):
    cfg = load_config(path, schema=PseudoConfig)
    assert cfg.path.stem == path.stem and 0 < cfg.target_precision <= 1


def test_pseudo_labels_need_a_file_or_their_config_and_no_context():
    assert load_config(ROOT / "configs/tiny.yaml", ["data.pseudo_labels=.cache/pseudo/news.jsonl"]).data.pseudo_labels
    with pytest.raises(ConfigError, match="neither a file nor a pseudo-label cache"):
        load_config(ROOT / "configs/tiny.yaml", ["data.pseudo_labels=.cache/pseudo/newz.jsonl"])
    with pytest.raises(ConfigError, match="cannot be combined with model.context"):
        load_config(ROOT / "configs/tiny.yaml", ["data.pseudo_labels=.cache/pseudo/news.jsonl",
                                                 "model.context=previous"])


def test_an_adapted_encoder_needs_its_adaptation_config():
    # .cache/encoders/news is named by configs/exp-adapted.yaml and written by configs/adapt/news.yaml,
    # so it loads before it exists; an adapted encoder without a config is a typo.
    assert load_config(ROOT / "configs/tiny.yaml", ["model.encoder=.cache/encoders/news"]).model.encoder
    with pytest.raises(ConfigError, match="nor an adapted encoder under .cache/encoders/ with its config"):
        load_config(ROOT / "configs/tiny.yaml", ["model.encoder=.cache/encoders/newz"])


def test_overrides_use_dotted_keys():
    cfg = load_config(ROOT / "configs/default.yaml", ["train.learning_rate=3e-5", "data.labels=[aid, arms_deal]"])
    assert cfg.train.learning_rate == 3e-5
    assert cfg.data.label_ids == ("arms_deal", "aid")  # taxonomy order
    assert flatten(cfg)["train.learning_rate"] == "3e-05"


def test_config_is_frozen():
    cfg = load_config(ROOT / "configs/tiny.yaml")
    with pytest.raises(ValidationError, match="frozen"):
        cfg.seed = 1


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("train:\n  epochs: 2\n  learning_rte: 0.1\n", r"bad.yaml: train.learning_rte: Extra inputs are not permitted"),
        ("train:\n  epochs: many\n", r"bad.yaml: train.epochs: .*integer"),
        ("data:\n  labels: [state_visit, coup]\n", r"bad.yaml: data.labels: .*coup"),
        ("train: [1, 2\n", r"bad.yaml: not valid YAML"),
        ("train:\n  precision: fp16\n", r"bad.yaml: train.precision: .*'fp32', 'bf16' or 'auto'"),
    ],
)
def test_bad_config_names_file_key_and_reason(tmp_path, yaml_text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="key.sub=value"):
        load_config(ROOT / "configs/tiny.yaml", ["train.epochs"])
    with pytest.raises(ConfigError, match="train.nope"):
        load_config(ROOT / "configs/tiny.yaml", ["train.nope=1"])


def test_cli_fails_before_any_work(tmp_path, capsys):
    from training.train import main

    path = tmp_path / "bad.yaml"
    path.write_text("modle: {}\n")
    assert main(["--config", str(path)]) == 2
    assert "bad.yaml: modle: Extra inputs" in capsys.readouterr().err


@pytest.mark.parametrize("value", [".inf", ".nan", "-.inf"])
def test_non_finite_values_are_refused(tmp_path, value):
    path = tmp_path / "bad.yaml"
    path.write_text(f"train:\n  learning_rate: {value}\n")
    with pytest.raises(ConfigError, match=r"train.learning_rate"):
        load_config(path)


def test_an_unknown_encoder_fails_before_any_run(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(f"model:\n  encoder: {tmp_path / 'no-such-encoder'}\n")
    with pytest.raises(ConfigError, match=r"model.encoder.*neither 'minilm', 'tiny-random', a model directory"):
        load_config(path)
