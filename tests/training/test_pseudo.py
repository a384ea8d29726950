"""Self-training: the confidence cut-off comes from dev, uncertain sentences are dropped, no annotated text is used."""

from __future__ import annotations

import json

import numpy as np
import pytest

import training.config as config_module
from tests.conftest import ROOT, make_model_dir
from training.config import load_config
from training.corpus import load_records
from training.pseudo import (
    Cutoff,
    PseudoLabelError,
    confident_rows,
    ensure_pseudo_labels,
    read_pseudo_labels,
    select_rows,
    tune_cutoffs,
)
from training.train import load_splits

LABELS = ("aid", "sanctions")
THRESHOLDS = {"aid": 0.5, "sanctions": 0.3}


def test_each_label_gets_the_lowest_cut_off_precise_enough_on_dev_or_none():
    scores = np.array([[0.9, 0.1], [0.62, 0.1], [0.58, 0.1], [0.1, 0.7], [0.1, 0.4], [0.1, 0.35]])
    gold = np.array([[1, 0], [1, 0], [0, 0], [0, 1], [0, 0], [0, 0]])
    cuts = tune_cutoffs(scores, gold, THRESHOLDS, LABELS, target_precision=0.95, min_decisions=1)
    # aid: at 0.5 the 0.58 is wrong (2 of 3); from 0.6 it is left out. sanctions (threshold 0.3):
    # the 0.4 and 0.35 are wrong until the cut-off passes them.
    assert (cuts["aid"].cutoff, cuts["aid"].precision, cuts["aid"].recall, cuts["aid"].decisions) == (0.6, 1.0, 1.0, 2)
    assert cuts["sanctions"].cutoff == 0.5 and cuts["sanctions"].decisions == 1
    # Asking for two decisions at least: sanctions has only one precise one, so it gets none.
    cuts = tune_cutoffs(scores, gold, THRESHOLDS, LABELS, target_precision=0.95, min_decisions=2)
    assert cuts["aid"].cutoff == 0.6 and cuts["sanctions"] is None
    assert tune_cutoffs(scores, 1 - gold, THRESHOLDS, LABELS, 0.9, min_decisions=1) == {"aid": None, "sanctions": None}


def test_a_sentence_with_an_uncertain_label_is_dropped_and_negatives_follow_the_ratio():
    scores = np.array([[0.9, 0.05], [0.9, 0.5], [0.02, 0.03], [0.04, 0.01], [0.05, 0.05], [0.3, 0.01]])
    cuts = {"aid": Cutoff(0.8, 0.9, 0.5, 20), "sanctions": Cutoff(0.8, 0.9, 0.5, 20)}
    kept, decided = confident_rows(scores, THRESHOLDS, LABELS, cuts, max_negative_score=0.1)
    # Row 1: sanctions at 0.5 is above its threshold but below the cut-off; row 5: aid at 0.3.
    assert kept.tolist() == [True, False, True, True, True, False]
    assert decided[0].tolist() == [1, 0]
    assert select_rows(kept, decided, negatives_per_positive=2.0, seed=0)[0] == 0
    assert len(select_rows(kept, decided, negatives_per_positive=2.0, seed=0)) == 3
    assert select_rows(kept, decided, negatives_per_positive=0.0, seed=0) == [0]
    # A label without a cut-off is never positive: its 0.9 makes row 0 uncertain too.
    kept, decided = confident_rows(scores, THRESHOLDS, LABELS, {**cuts, "aid": None}, max_negative_score=0.1)
    assert kept.tolist() == [False, False, True, True, True, False] and decided[:, 0].sum() == 0


def test_a_malformed_pseudo_label_row_is_refused_with_its_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"text": "Aid arrived.", "labels": ["aid"]}\n{"text": "x", "labels": ["aidd"]}\n')
    with pytest.raises(PseudoLabelError, match=r"p.jsonl:2: .*unknown: \['aidd'\]"):
        read_pseudo_labels(path, LABELS)
    path.write_text('{"text": "Aid arrived.", "labels": ["aid", "state_visit"]}\n')
    texts, gold = read_pseudo_labels(path, LABELS)
    assert texts == ["Aid arrived."] and gold.tolist() == [[1.0, 0.0]]  # labels outside the run's are dropped


@pytest.mark.slow
def test_pseudo_labels_come_from_unannotated_documents_and_a_training_config_adds_them(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    teacher = confident_teacher(tmp_path / "teacher")
    configs, caches = tmp_path / "configs", tmp_path / "pseudo"
    configs.mkdir()
    # The teacher calls every sentence aid, which is right on a few dev sentences: a low bar.
    (configs / "smoke.yaml").write_text(f"teacher: {teacher}\noutput_dir: {caches}\nmax_sentences: 300\n"
                                        "target_precision: 0.01\nmin_decisions: 1\nthreads: 1\n")
    monkeypatch.setattr(config_module, "PSEUDO_CONFIGS", configs)
    monkeypatch.setattr(config_module, "PSEUDO_LABELS", caches)
    path = caches / "smoke.jsonl"
    ensure_pseudo_labels(path)  # what training does before a run that names it
    stamp = json.loads(path.with_suffix(".json").read_text())
    texts, gold = read_pseudo_labels(path, TAXONOMY_IDS)
    assert stamp["scored"] == 300 and stamp["written"] == len(texts) == 300
    assert gold[:, TAXONOMY_IDS.index("aid")].all() and gold.sum() == 300
    corpus_texts = {r.text for r in load_records(ROOT / "build/corpus.jsonl")}
    assert not corpus_texts & set(texts)  # no annotated sentence, of any split, gets a second label

    cfg = load_config(ROOT / "configs/tiny.yaml", [f"data.pseudo_labels={path}"])
    bare = load_config(ROOT / "configs/tiny.yaml")
    with_pseudo = load_splits(cfg, cfg.data.label_ids)["train"]
    without = load_splits(bare, bare.data.label_ids)["train"]
    assert len(with_pseudo.texts) == len(without.texts) + len(texts)
    assert with_pseudo.sources.count("pseudo") == len(texts) and with_pseudo.texts[-len(texts):] == texts


TAXONOMY_IDS = load_config(ROOT / "configs/tiny.yaml").data.label_ids


def confident_teacher(directory):
    """A tiny random model whose head says aid (score ~0.95) and nothing else (~0.05) for every sentence."""
    import torch
    from safetensors.torch import load_file, save_file

    make_model_dir(directory)
    weights = load_file(directory / "model.safetensors")
    weights["classifier.weight"] = torch.zeros_like(weights["classifier.weight"])
    weights["classifier.bias"] = torch.tensor([3.0 if label == "aid" else -3.0 for label in TAXONOMY_IDS])
    save_file(weights, directory / "model.safetensors", metadata={"format": "pt"})
    return directory
