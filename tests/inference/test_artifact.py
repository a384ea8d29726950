import json
import shutil

import pytest

from inference import ArtifactError, load_classifier
from inference.artifact import META_FILE, WEIGHTS_FILE, ArtifactMeta, read_meta, save_artifact
from inference.taxonomy import TAXONOMY


def _copy(src, tmp_path):
    return shutil.copytree(src, tmp_path / "model")


def test_classifier_json_is_self_describing(tiny_model_dir):
    meta = json.loads((tiny_model_dir / META_FILE).read_text())
    assert meta["labels"] == list(TAXONOMY.ids)
    for key in ("thresholds", "max_length", "normalization_version", "taxonomy_version", "package_version",
                "mlflow_run_id"):
        assert key in meta


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        load_classifier(tmp_path / "nowhere")


@pytest.mark.parametrize("name", [META_FILE, WEIGHTS_FILE, "config.json"])
def test_missing_file_is_named(tiny_model_dir, tmp_path, name):
    model = _copy(tiny_model_dir, tmp_path)
    (model / name).unlink()
    with pytest.raises(ArtifactError, match=name.replace(".", r"\.")):
        load_classifier(model)


def test_corrupt_classifier_json_is_named(tiny_model_dir, tmp_path):
    model = _copy(tiny_model_dir, tmp_path)
    (model / META_FILE).write_text("{not json")
    with pytest.raises(ArtifactError, match="classifier.json: not valid JSON"):
        load_classifier(model)


def test_corrupt_weights_are_named(tiny_model_dir, tmp_path):
    model = _copy(tiny_model_dir, tmp_path)
    (model / WEIGHTS_FILE).write_bytes(b"garbage")
    with pytest.raises(ArtifactError, match=WEIGHTS_FILE):
        load_classifier(model)


def test_unknown_taxonomy_version_says_which_was_expected(tiny_model_dir, tmp_path):
    model = _copy(tiny_model_dir, tmp_path)
    meta = json.loads((model / META_FILE).read_text())
    meta["taxonomy_version"] = "0.9"
    (model / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"'0.9'.*expects version '1.1'"):
        load_classifier(model)


def test_threshold_missing_for_a_label(tiny_model_dir, tmp_path):
    model = _copy(tiny_model_dir, tmp_path)
    meta = json.loads((model / META_FILE).read_text())
    del meta["thresholds"]["aid"]
    (model / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="no threshold for label"):
        read_meta(model)


def test_failed_save_leaves_old_model_and_no_partial_directory(tiny_model_dir, tmp_path):
    model_dir = _copy(tiny_model_dir, tmp_path)
    before = (model_dir / META_FILE).read_text()

    class Broken:
        def save_pretrained(self, path, **kwargs):
            (path / "half-written").write_text("x")
            raise RuntimeError("disk full")

    meta = ArtifactMeta(labels=("aid",), thresholds={"aid": 0.5}, max_length=16)
    with pytest.raises(RuntimeError, match="disk full"):
        save_artifact(model_dir, Broken(), Broken(), meta)
    assert (model_dir / META_FILE).read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m["thresholds"].update(aid="high"), "threshold of aid is 'high'"),
        (lambda m: m["thresholds"].update(aid=1.5), "threshold of aid is 1.5"),
        (lambda m: m.update(max_length="64"), "max_length is '64'"),
        (lambda m: m.update(format_version=2), "format_version is 2"),
        (lambda m: m.update(normalization_version="0"), "normalization_version is '0'"),
        (lambda m: m.update(labels=m["labels"] + ["aid"]), "aid listed more than once"),
        (lambda m: m.update(labels=list(reversed(m["labels"]))), "not in the order of the model's outputs"),
    ],
)
def test_a_bad_or_reordered_classifier_json_is_refused(tiny_model_dir, tmp_path, change, message):
    model = _copy(tiny_model_dir, tmp_path)
    meta = json.loads((model / META_FILE).read_text())
    change(meta)
    (model / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=message):
        load_classifier(model)


def test_a_registry_uri_outside_the_project_leaves_no_stray_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(ArtifactError, match="there is no MLflow store at .*mlflow.db"):
        load_classifier("models:/diplomatic-events@champion")
    assert list(tmp_path.iterdir()) == []
