"""The ONNX backends and the cascade: parity with PyTorch on a small model, loading rules, thread safety."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from inference import ArtifactError, load_classifier
from inference.artifact import ONNX_FILES, ArtifactMeta, load_artifact, save_artifact
from inference.backends import Encoder
from inference.export import (
    Quantization,
    export_fp32,
    export_onnx,
    export_smoothed,
    ffn_nodes,
    matrix_products,
    quantize,
)
from inference.taxonomy import TAXONOMY
from inference.text import normalize
from tests.conftest import TOKENIZER_TEXTS
from training.config import ModelConfig
from training.corpus import ensure_built, load_records
from training.fast_path import (
    LADDER,
    MAX_SCORE_DIFF,
    MIN_AGREEMENT,
    MIN_SKIP_SHARE,
    PREFERENCE,
    QUANTIZATION,
    FastPathReport,
    Parity,
    candidates,
    climb,
    corpus_splits,
    fastest,
    int8_ladder,
    parity,
    prepare_fast_path,
)
from training.loop import Split
from training.model import build_model


def real_test_sentences(limit: int = 300) -> list[str]:
    """Real news sentences of the test split, read at run time (never stored in the repository)."""
    return [r.text for r in load_records(ensure_built()) if r.split == "test" and r.is_real][:limit]


@pytest.fixture(scope="module")
def spread_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT with its head scaled up, exported and quantised as training does it.

    A random head gives every sentence about 0.5 on every label; scaled up, the scores
    spread out and magnify what int8 changes in the encoder (by 40 times on the logits).
    """
    labels = TAXONOMY.ids
    model, tokenizer = build_model(ModelConfig(encoder="tiny-random"), labels, TOKENIZER_TEXTS, seed=0)
    with torch.no_grad():
        model.classifier.weight.mul_(40.0)
    meta = ArtifactMeta(labels=labels, thresholds=dict.fromkeys(labels, 0.5), max_length=64)
    directory = save_artifact(tmp_path_factory.mktemp("spread") / "model", model, tokenizer, meta)
    export_onnx(directory, QUANTIZATION)
    return directory


def test_the_encoder_gives_the_transformers_tokenizer_s_ids(tiny_classifier, tiny_model_dir):
    from transformers import AutoTokenizer

    texts = real_test_sentences(40) + ["", "a " * 500]
    hf = AutoTokenizer.from_pretrained(tiny_model_dir)(texts, padding=True, truncation=True, max_length=32,
                                                       return_tensors="np")
    ours = Encoder.from_transformers(AutoTokenizer.from_pretrained(tiny_model_dir), 32)(texts)
    assert set(hf) <= set(ours)
    for name in hf:
        np.testing.assert_array_equal(ours[name], hf[name], err_msg=name)


def test_int8_and_fp32_onnx_keep_parity_with_pytorch_on_real_sentences(spread_model_dir):
    texts = real_test_sentences()
    reference = load_classifier(spread_model_dir, backend="torch").score(texts)
    assert reference.std() > 0.05, "the test model's scores should spread out, or parity would prove little"
    meta = load_classifier(spread_model_dir, backend="torch").meta
    gold = (reference >= 0.5).astype(int)  # any labels do: parity compares decisions, not quality
    fp32 = load_classifier(spread_model_dir, backend="onnx-fp32").score(texts)
    assert np.abs(fp32 - reference).max() < 2e-3  # float rounding only (the rescaled head magnifies it)
    int8 = load_classifier(spread_model_dir, backend="onnx").score(texts)
    result = parity(reference, int8, gold, meta.thresholds, meta.labels)
    assert result.agreement >= MIN_AGREEMENT and result.max_score_diff <= MAX_SCORE_DIFF, result
    assert result.passed
    assert not np.array_equal(int8, reference)  # int8 really ran: its scores are close, not identical


def test_pytorch_bf16_runs_the_products_in_bfloat16_and_keeps_parity(spread_model_dir, monkeypatch):
    import inference.load

    monkeypatch.setattr(inference.load, "native_bf16", lambda device: True)  # no warning on any processor
    texts = real_test_sentences()
    fp32 = load_classifier(spread_model_dir, backend="torch")
    bf16 = load_classifier(spread_model_dir, backend="torch-bf16")
    assert bf16.backend.name == "torch-bf16"
    seen = []
    first_product = bf16.backend.model.bert.encoder.layer[0].attention.self.query
    handle = first_product.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    scores = bf16.score(texts)
    handle.remove()
    assert seen and set(seen) == {torch.bfloat16}  # autocast really ran the products in bfloat16
    assert all(p.dtype == torch.float32 for p in bf16.backend.model.parameters())  # the weights stay fp32
    reference = fp32.score(texts)
    assert not np.array_equal(scores, reference)
    result = parity(reference, scores, (reference >= 0.5).astype(int), fp32.meta.thresholds, fp32.meta.labels)
    assert result.passed, result


def test_pytorch_bf16_warns_where_bfloat16_is_emulated(tiny_model_dir, monkeypatch):
    import inference.load

    monkeypatch.setattr(inference.load, "native_bf16", lambda device: False)
    with pytest.warns(RuntimeWarning, match="no native bfloat16"):
        clf = load_classifier(tiny_model_dir, backend="torch-bf16")
    assert clf.predict(["The EU extended sanctions on Minsk."])[0].scores  # slow there, but it serves


def test_bf16_is_a_candidate_only_with_native_bf16():
    assert "torch-bf16" in candidates(bf16=True) and "torch-bf16" not in candidates(bf16=False)
    assert "torch" not in candidates(bf16=True)  # the reference is not measured against itself


def test_parity_fails_when_scores_move(spread_model_dir):
    meta = load_classifier(spread_model_dir, backend="torch").meta
    reference = np.array([[0.9] * 9, [0.1] * 9])
    moved = reference.copy()
    moved[0, 0] = 0.4  # one decision flips out of 18 and one score moves by 0.5
    result = parity(reference, moved, (reference > 0.5).astype(int), meta.thresholds, meta.labels)
    assert not result.passed and result.agreement == pytest.approx(17 / 18, abs=1e-4) and result.max_score_diff == 0.5


def test_the_onnx_backend_serves_the_same_contract(spread_model_dir):
    clf = load_classifier(spread_model_dir, backend="onnx")
    predictions = clf.predict(["The EU extended sanctions on Minsk.", "", "   "])
    assert [len(p.scores) for p in predictions] == [9, 9, 9]
    assert predictions[1].labels == () and predictions[2].labels == ()
    with pytest.raises(TypeError):
        clf.predict("a bare string")
    doc = clf.classify_document("Putin arrived in Hanoi. " * 3)
    assert len(doc.sentences) == 3


def test_the_onnx_backend_is_safe_to_share_between_threads(spread_model_dir):
    clf = load_classifier(spread_model_dir, backend="onnx")
    texts = real_test_sentences(64)
    alone = clf.score(texts, batch_size=8)
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda _: clf.score(texts, batch_size=8), range(4)))
    for scores in together:
        np.testing.assert_allclose(scores, alone, atol=1e-6)


def test_a_directory_without_onnx_files_loads_in_pytorch(tiny_model_dir):
    assert load_classifier(tiny_model_dir).backend.name == "torch"
    with pytest.raises(ArtifactError, match="python -m inference.export"):
        load_classifier(tiny_model_dir, backend="onnx")
    with pytest.raises(ArtifactError, match="no cascade"):
        load_classifier(tiny_model_dir, cascade=True)
    with pytest.raises(ArtifactError, match="unknown backend"):
        load_classifier(tiny_model_dir, backend="tensorrt")


@pytest.mark.parametrize("change, message", [
    ({"backend": "tensorrt"}, "backend is 'tensorrt'"),
    ({"cascade_cutoff": 0.9}, "cascade_cutoff is 0.9"),
    ({"cascade_enabled": True}, "no cascade_cutoff"),
])
def test_classifier_json_with_a_bad_fast_path_setting_is_refused(tiny_model_dir, tmp_path, change, message):
    copy = shutil.copytree(tiny_model_dir, tmp_path / "model")
    data = json.loads((copy / "classifier.json").read_text())
    (copy / "classifier.json").write_text(json.dumps({**data, **change}))
    with pytest.raises(ArtifactError, match=message):
        load_classifier(copy)


@pytest.mark.slow
def test_prepare_fast_path_records_parity_and_a_default_that_passed(spread_model_dir, tmp_path, monkeypatch):
    import training.fast_path

    # bf16 is measured on every processor here (emulated where not native: slower, same arithmetic).
    monkeypatch.setattr(training.fast_path, "native_bf16", lambda: True)
    directory = shutil.copytree(spread_model_dir, tmp_path / "model")
    splits = corpus_splits(ensure_built(), TAXONOMY.ids)
    small = {name: split.select(list(range(0, len(split.texts), max(1, len(split.texts) // 300))))
             for name, split in splits.items()}
    report = prepare_fast_path(directory, small["train"], small["dev"], small["test"])
    meta = json.loads((directory / "classifier.json").read_text())
    assert meta["backend"] == report.default
    assert report.default == "torch" or report.backends[report.default].passed
    # The default is the fastest backend at parity, timed: every passing one was, no failing one.
    passing = {"torch"} | {name for name, p in report.backends.items() if p.passed}
    assert set(meta["parity"]["speeds"]) == passing and all(rate > 0 for rate in report.speeds.values())
    assert report.default == fastest(report.speeds, PREFERENCE)
    assert meta["parity"]["backends"]["onnx"] == {**report.backends["onnx"].__dict__}
    assert set(report.backends) == set(candidates(bf16=True))
    ladder, chosen = meta["parity"]["int8_ladder"], meta["parity"]["int8_quantization"]
    assert ladder == [trial.to_json() for trial in report.int8_trials] and ladder[0]["fp32_ffn_layers"] == 0
    if chosen is not None:  # the last trial is the choice, confirmed on test
        assert ladder[-1] == {**ladder[-1], "split": "test", "passed": True,
                              "fp32_ffn_layers": chosen["fp32_ffn_layers"]}
        assert chosen["smooth_alpha"] == LADDER.smooth_alpha and chosen["per_channel"]
    else:
        assert all(not trial["passed"] or trial["split"] == "dev" for trial in ladder)
    assert meta["cascade_enabled"] == (report.cascade.passed and report.cascade_skip_share_dev >= MIN_SKIP_SHARE)
    assert 0.0 <= meta["cascade_cutoff"] <= 0.5
    clf = load_classifier(directory, cascade=True)
    texts = small["test"].texts
    with_cascade = clf.score(texts)
    ruled_out = ~clf.cascade.keep(clf.cascade.probabilities([normalize(t) for t in texts]))
    # A ruled-out sentence keeps its first-stage scores, below every threshold: no labels.
    assert all(p.labels == () for p, out in zip(clf.predict(texts), ruled_out) if out)
    assert (with_cascade[ruled_out] < meta["cascade_cutoff"]).all()
    # The report carries the test scores as the directory now serves them: training reports those.
    served = load_classifier(directory).score(texts)
    np.testing.assert_allclose(report.test_scores, served, atol=1e-5)


def test_prepare_fast_path_refuses_a_dev_reference_of_the_wrong_shape(spread_model_dir, tmp_path):
    directory = shutil.copytree(spread_model_dir, tmp_path / "model")
    splits = corpus_splits(ensure_built(), TAXONOMY.ids)
    small = {name: split.select(list(range(20))) for name, split in splits.items()}
    with pytest.raises(ValueError, match="one row of scores per dev sentence"):
        prepare_fast_path(directory, small["train"], small["dev"], small["test"],
                          dev_reference=np.zeros((19, len(TAXONOMY.ids))))


@pytest.mark.parametrize(("passed", "skipped", "on"), [(True, 0.01, False), (True, 0.3, True), (False, 0.3, False)])
def test_the_cascade_serves_only_when_it_passes_and_saves_work(passed, skipped, on):
    result = Parity(1.0, 0.0, 1.0, 1.0, passed=passed)
    report = FastPathReport({"onnx": result}, result, 0.001, skipped, "onnx", "onnx")
    assert report.cascade_on is on
    reason = f" (it rules out under {MIN_SKIP_SHARE:.0%} of dev)" if passed and not on else ""
    assert report.summary().endswith(f"cascade {'on' if on else 'off'}{reason}")


@pytest.mark.parametrize(("rates", "default"), [
    ({"onnx-fp32": 230.0, "torch": 290.0}, "torch"),          # PyTorch clearly faster: it serves
    ({"onnx-fp32": 250.0, "torch": 290.0}, "onnx-fp32"),      # inside the margin: ONNX keeps it
    ({"onnx": 400.0, "onnx-fp32": 250.0, "torch": 290.0}, "onnx"),
    ({"torch": 120.0}, "torch"),                              # nothing else passed parity
    ({"onnx-fp32": 169.0, "torch": 148.0, "torch-bf16": 275.0}, "torch-bf16"),  # 2026-12-06, AVX-512 BF16
    ({"onnx-fp32": 250.0, "torch": 148.0, "torch-bf16": 280.0}, "onnx-fp32"),
])
def test_the_default_backend_is_the_clearly_fastest_at_parity(rates, default):
    assert fastest(rates, PREFERENCE) == default
    report = FastPathReport({}, Parity(1.0, 0.0, 1.0, 1.0, passed=False), 0.0, 0.0, default, default, speeds=rates)
    assert report.to_json()["speeds"] == rates
    assert f"{default} {rates[default]:.0f}/s" in report.summary()


def test_the_cascade_cut_off_keeps_the_positive_decisions_it_promises():
    from training.fast_path import tune_cutoff

    rng = np.random.default_rng(0)
    first_stage = rng.random((1000, 3))
    decisions = (rng.random((1000, 3)) < first_stage).astype(int)  # positives where the first stage is high
    cutoff = tune_cutoff(first_stage, decisions, ceiling=0.9, max_drop=0.01)
    dropped = decisions[first_stage.max(axis=1) < cutoff].sum()
    assert dropped <= 0.01 * decisions.sum()
    assert cutoff > 0.1  # and it does rule something out


def test_smoothing_leaves_the_fp32_outputs_unchanged(tiny_model_dir):
    from inference.smoothing import SmoothedLinear, encoder_linears, smoothed

    model, tokenizer, _ = load_artifact(tiny_model_dir)
    texts = real_test_sentences(64)
    smooth = smoothed(model, tokenizer, texts, alpha=0.5, max_length=32)
    layers = encoder_linears(smooth)
    assert len(layers) == 6 * model.config.num_hidden_layers and all(isinstance(m, SmoothedLinear)
                                                                     for m in layers.values())
    # Scales far from 1 on every layer: a scale applied to one side only would show in the outputs.
    assert min(float((m.inv_scale.log()).abs().max()) for m in layers.values()) > 0.5
    assert not any(isinstance(m, SmoothedLinear) for m in model.modules())  # the original is untouched
    batch = tokenizer(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    with torch.no_grad():
        before, after = model(**batch, output_hidden_states=True), smooth(**batch, output_hidden_states=True)
    assert float((before.logits - after.logits).abs().max()) < 1e-4
    # The logits of a random head barely move; the encoder's output, of unit scale, shows any error.
    assert float((before.hidden_states[-1] - after.hidden_states[-1]).abs().max()) < 1e-4


def test_the_ffn_helper_selects_exactly_the_feed_forward_products(tiny_model_dir, tmp_path):
    model, tokenizer, meta = load_artifact(tiny_model_dir)
    products = matrix_products(export_fp32(model, tokenizer, tmp_path / "model.onnx"))
    layers = model.config.num_hidden_layers
    for k in range(layers + 1):
        chosen = [name for name in products if any(part in name for part in ffn_nodes(k))]
        assert len(chosen) == 2 * k, chosen
        assert not any("attention" in name for name in chosen)
        assert {name.split("/layer.")[1].split("/")[0] for name in chosen} == {str(i) for i in range(k)}
    # Smoothing keeps the node names (and adds no matrix product), so the substrings still apply.
    smoothed = export_smoothed(model, tokenizer, real_test_sentences(16), 0.5, 32, tmp_path / "smoothed.onnx")
    assert matrix_products(smoothed) == products
    int8 = quantize(smoothed, tmp_path / "int8.onnx", Quantization(per_channel=True, fp32_ffn_layers=1))
    fp32_products = {node.name for node in onnx.load(str(int8)).graph.node if node.op_type == "MatMul"}
    assert set(p for p in products if any(part in p for part in ffn_nodes(1))) <= fp32_products
    assert not fp32_products & {p for p in products if "/layer.1/intermediate/dense/" in p}  # layer 1 is int8


def test_the_ladder_stops_at_the_first_rung_that_passes_dev_then_test():
    calls = []

    def check(k: int, split: str) -> Parity:
        calls.append((k, split))
        passed = k >= 2 or (k == 1 and split == "dev")  # rung 1 passes dev but fails test
        return Parity(0.999, 0.01 if passed else 0.3, 0.5, 0.5, passed)

    chosen, trials = climb(range(5), check)
    assert chosen == 2
    assert [(t.fp32_ffn_layers, t.split, t.parity.passed) for t in trials] == [
        (0, "dev", False), (1, "dev", True), (1, "test", False), (2, "dev", True), (2, "test", True)]
    assert calls == [(t.fp32_ffn_layers, t.split) for t in trials]  # rungs 3 and 4 never ran
    none, tried = climb(range(3), lambda k, split: Parity(0.9, 0.3, 0.5, 0.4, False))
    assert none is None and [(t.fp32_ffn_layers, t.split) for t in tried] == [(0, "dev"), (1, "dev"), (2, "dev")]


def test_the_int8_ladder_installs_the_chosen_rung_and_records_every_trial(spread_model_dir, tmp_path):
    directory = shutil.copytree(spread_model_dir, tmp_path / "model")
    before = (directory / ONNX_FILES["onnx"]).read_bytes()
    texts = real_test_sentences(120)
    reference = load_classifier(directory, backend="torch").score(texts)
    gold = (reference >= 0.5).astype(int)
    splits = {name: Split(texts[part], gold[part], ["doc"] * 60) for name, part in
              (("dev", slice(0, 60)), ("test", slice(60, 120)))}
    references = {"dev": reference[:60], "test": reference[60:]}
    verdicts = iter([False, True, False, True, True])  # rung 0 fails dev, rung 1 fails test, rung 2 passes

    def judge(*args) -> Parity:
        measured = parity(*args)
        return Parity(**{**measured.__dict__, "passed": next(verdicts)})

    chosen, trials = int8_ladder(directory, splits, references, texts, LADDER, threads=1, judge=judge)
    assert chosen is not None and chosen.fp32_ffn_layers == 2 and chosen.smooth_alpha == LADDER.smooth_alpha
    assert [(t.fp32_ffn_layers, t.split) for t in trials] == [(0, "dev"), (1, "dev"), (1, "test"), (2, "dev"),
                                                              (2, "test")]
    assert all(t.parity.max_score_diff < 1.0 for t in trials)  # real measurements, not the stand-in's
    installed = onnx.load(str(directory / ONNX_FILES["onnx"]))
    assert (directory / ONNX_FILES["onnx"]).read_bytes() != before
    kept = [node.name for node in installed.graph.node if node.op_type == "MatMul"
            and any(part in node.name for part in ffn_nodes(2))]
    assert len(kept) == 4  # both FFN products of both layers stayed fp32
    assert not list(tmp_path.glob(".model.ladder-*"))  # the rungs' files are gone


def test_the_benchmark_reads_a_plausible_peak_memory():
    from benchmarks.backends import CHILD, peak_rss_mb

    peak = peak_rss_mb()
    status = Path("/proc/self/status").read_text()
    current = int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024
    assert 10 < current <= peak < 100_000  # this process has torch loaded: tens of MB at least
    compile(CHILD, "<child>", "exec")  # the pasted-in reader leaves the child's script valid


def test_the_benchmark_child_times_the_split_apart_from_the_whole_article(tiny_model_dir, tmp_path):
    from benchmarks.backends import in_subprocess

    article = tmp_path / "article.txt"
    article.write_text("Kim met Putin in Vladivostok. The EU extended sanctions on Minsk. " * 1000, encoding="utf-8")
    row = in_subprocess(tiny_model_dir, "torch", "off", article, threads=1)
    assert row["article_sentences"] == 2000
    assert 0 < row["article_split_s"] <= row["article_s"]  # the split is part of the whole article's time
