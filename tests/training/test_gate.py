"""The promotion gate: paired bootstrap of candidate minus champion over documents."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluate import paired_bootstrap
from training.gate import compare


def _systems(seed: int = 0, docs: int = 60, per_doc: int = 8, labels: int = 3):
    rng = np.random.default_rng(seed)
    gold = (rng.random((docs * per_doc, labels)) < 0.2).astype(int)
    doc_ids = [f"d{i // per_doc:03d}" for i in range(docs * per_doc)]
    noise = rng.random(gold.shape)
    good = np.where(noise < 0.1, 1 - gold, gold)      # 10% of decisions wrong
    bad = np.where(noise < 0.3, 1 - gold, gold)       # 30% wrong, a superset of good's errors
    return gold, good, bad, doc_ids


def test_identical_systems_differ_by_exactly_zero_and_pass():
    gold, good, _, doc_ids = _systems()
    verdict = compare(gold, good, good, doc_ids, margin=0.0, resamples=300)
    assert verdict.passed
    assert verdict.evidence.count("+0.0000 [+0.0000, +0.0000] ok") == 2


def test_a_clearly_worse_candidate_is_refused_and_a_better_one_passes():
    gold, good, bad, doc_ids = _systems()
    refused = compare(gold, bad, good, doc_ids, resamples=300)
    assert not refused.passed and "WORSE beyond the margin" in refused.evidence
    assert compare(gold, good, bad, doc_ids, resamples=300).passed


def test_the_interval_is_paired_and_contains_the_observed_difference():
    gold, good, bad, doc_ids = _systems(seed=3)
    delta, lo, hi = paired_bootstrap(gold, good, bad, doc_ids, resamples=500, seed=1)["micro_f1"]
    assert lo <= delta <= hi and delta > 0
    # Paired: every resample has good above bad (bad's errors include good's), so even lo > 0.
    assert lo > 0


def test_the_margin_decides_a_small_drop():
    gold, good, _, doc_ids = _systems(seed=5, docs=200)
    slightly = good.copy()
    positives = np.flatnonzero(gold[:, 0] & good[:, 0])
    slightly[positives[:3], 0] = 0                     # three true positives lost
    assert compare(gold, slightly, good, doc_ids, margin=0.05, resamples=300).passed
    assert not compare(gold, slightly, good, doc_ids, margin=0.0, resamples=300).passed


def test_the_evidence_names_the_label_a_candidate_is_better_on_without_changing_the_verdict():
    gold, good, bad, doc_ids = _systems(seed=7)
    mixed = good.copy()
    mixed[:, 1:] = bad[:, 1:]                          # better than bad on the first label only
    first = bad.copy()
    first[:, 1:] = mixed[:, 1:]                        # level with mixed on the other two
    verdict = compare(gold, mixed, first, doc_ids, margin=0.0, resamples=300, labels=("a", "b", "c"))
    lines = [line.strip() for line in verdict.evidence.splitlines()]
    assert "per label, sentence F1 (reported, not judged):" in lines
    assert [line.split(":")[0].strip() for line in lines[-3:]] == ["a", "b", "c"]
    assert lines[-3].endswith("better")
    assert lines[-2].endswith("+0.0000 [+0.0000, +0.0000] inside the interval")
    assert verdict.passed == compare(gold, mixed, first, doc_ids, margin=0.0, resamples=300).passed
    assert "per label" not in compare(gold, mixed, first, doc_ids, resamples=300).evidence


def test_mismatched_decisions_are_an_error():
    gold, good, _, doc_ids = _systems()
    with pytest.raises(ValueError, match="do not match"):
        compare(gold, good[:-1], good, doc_ids)


def test_the_command_compares_any_two_model_directories(tmp_path, capsys):
    from inference.taxonomy import TAXONOMY
    from tests.conftest import make_model_dir
    from training.gate import main

    model = make_model_dir(tmp_path / "a")
    # Thresholds of 0: every sentence gets every label (micro-F1 well above 0); of 1.0: none (micro-F1 0).
    everything = make_model_dir(tmp_path / "b", thresholds=dict.fromkeys(TAXONOMY.ids, 0.0))
    nothing = make_model_dir(tmp_path / "c", thresholds=dict.fromkeys(TAXONOMY.ids, 1.0))
    assert main(["--candidate", str(model), "--champion", str(model), "--resamples", "50"]) == 0
    assert "sentence micro-F1: candidate - champion = +0.0000 [+0.0000, +0.0000] ok" in capsys.readouterr().out
    assert main(["--candidate", str(nothing), "--champion", str(everything), "--resamples", "50"]) == 1
    out = capsys.readouterr().out
    assert "on real dev" in out and "document micro-F1" in out and out.rstrip().endswith("WORSE beyond the margin")
