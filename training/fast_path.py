"""The fast path of a model directory: ONNX export, int8, PyTorch bf16, the cascade, and parity against PyTorch fp32.

    python -m training.fast_path MODEL_DIR [--corpus build/corpus.jsonl] [--threads N] [--alpha A]

Training calls :func:`prepare_fast_path` on the model it stages; the command does the same
for an existing directory. Parity (issue 10), on the test split, against PyTorch fp32: label
decisions agree on at least 99.5% of (sentence, label) pairs, sentence macro-F1 drops by at
most 0.01, and no score moves by more than 0.05. The default backend becomes the fastest one
that passes, timed here at batch 32 on dev sentences (:func:`measure_rates`); one less than
``SPEED_MARGIN`` faster than a backend earlier in ``PREFERENCE`` does not displace it
(:func:`fastest`). The cascade is switched on only if it passes too and rules out at least
``MIN_SKIP_SHARE`` of dev. Every measurement is written to ``classifier.json`` under ``parity``.

The int8 model is chosen by a ladder: smoothed per-channel int8 with the feed-forward blocks
of the first k layers kept fp32, for k = 0, 1, ... up to every layer; the first k that passes
parity on dev and then on test becomes ``model.int8.onnx``. Without one, the plain
per-channel int8 export stays there and int8 is not the default.

Example:
    >>> parity(np.array([[0.9, 0.1]]), np.array([[0.88, 0.12]]), np.array([[1, 0]]), {"a": 0.5, "b": 0.5}, ("a", "b"))
    Parity(agreement=1.0, max_score_diff=0.02, macro_f1_reference=1.0, macro_f1=1.0, passed=True)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from inference.artifact import (
    CASCADE_FILE,
    ONNX_FILES,
    ArtifactError,
    add_to_artifact,
    load_artifact,
    onnx_files,
    read_meta,
    write_cascade,
)
from inference.backends import Encoder, OnnxBackend, native_bf16
from inference.cascade import BUCKETS, hashed_features
from inference.classifier import Classifier
from inference.export import ALPHA, Quantization, export_onnx, int8_source, quantize, spaced
from inference.load import load_classifier
from training.evaluate import decide, evaluate
from training.loop import Split

MIN_AGREEMENT = 0.995
MAX_F1_DROP = 0.01
MAX_SCORE_DIFF = 0.05
# The cascade may rule out at most this share of the transformer's positive decisions on dev.
MAX_POSITIVE_DROP = 0.005
# ... and must rule out at least this share of dev to be switched on: below it the first stage
# costs more than the transformer passes it saves (r4 seed 14 passed parity ruling out 1% of dev).
MIN_SKIP_SHARE = 0.10
# The quantisation every model gets, chosen by the variant table in docs/BENCHMARKS.md: per-channel
# scales agreed best with fp32 on the real model among the all-int8 variants.
QUANTIZATION = Quantization(per_channel=True)
# What the ladder varies fp32_ffn_layers of: smoothing flattens the activation outliers that
# cost per-channel int8 its score bound on the real model (docs/BENCHMARKS.md).
LADDER = replace(QUANTIZATION, smooth_alpha=ALPHA)
CALIBRATION_SENTENCES = 256
# The backends that may serve, in the order that wins a tie: ONNX Runtime loads in a tenth of
# PyTorch's time and half its memory (docs/BENCHMARKS.md), so it is kept unless PyTorch is
# clearly faster. PyTorch fp32 is the reference, so it always passes. PyTorch bf16 comes last:
# it is tried only where the processor has native bf16 (:func:`candidates`), and it must then
# beat the others by the margin, since it also pays PyTorch's cold start and memory.
PREFERENCE = ("onnx", "onnx-fp32", "torch", "torch-bf16")
# Differences under about 20% are noise on a shared 2-core machine (docs/BENCHMARKS.md).
SPEED_MARGIN = 0.20
SPEED_SENTENCES = 512
SPEED_ROUNDS = 3


@dataclass(frozen=True)
class Parity:
    """How far one way of scoring is from the reference, on the same sentences."""

    agreement: float
    max_score_diff: float
    macro_f1_reference: float
    macro_f1: float
    passed: bool


def parity(reference: np.ndarray, scores: np.ndarray, gold: np.ndarray, thresholds: dict[str, float],
           labels: tuple[str, ...]) -> Parity:
    """Compare ``scores`` with the ``reference`` scores (PyTorch fp32) against the issue's three bounds."""
    expected, got = decide(reference, thresholds, labels), decide(scores, thresholds, labels)
    agreement = float((expected == got).mean()) if expected.size else 1.0
    diff = float(np.abs(reference - scores).max()) if reference.size else 0.0
    doc_ids = [str(i) for i in range(len(gold))]
    f1_ref = evaluate(reference, gold, thresholds, labels, doc_ids).macro_f1
    f1 = evaluate(scores, gold, thresholds, labels, doc_ids).macro_f1
    passed = agreement >= MIN_AGREEMENT and diff <= MAX_SCORE_DIFF and f1_ref - f1 <= MAX_F1_DROP
    return Parity(round(agreement, 5), round(diff, 5), round(f1_ref, 5), round(f1, 5), passed)


def measure_rates(scorers: dict[str, Callable[[list[str]], object]], texts: list[str],
                  rounds: int = SPEED_ROUNDS) -> dict[str, float]:
    """Sentences/s of each scorer on ``texts``: the median of ``rounds`` interleaved rounds, after a warm-up.

    Interleaving spreads the machine's noise over every scorer alike.

    Example:
        >>> rates = measure_rates({"copy": lambda texts: list(texts)}, ["a", "b"], rounds=1)
        >>> sorted(rates) == ["copy"] and rates["copy"] > 0
        True
    """
    if not texts:
        raise ValueError("measure_rates needs at least one sentence")
    for score in scorers.values():
        score(texts[:32])
    seconds: dict[str, list[float]] = {name: [] for name in scorers}
    for _ in range(rounds):
        for name, score in scorers.items():
            started = time.perf_counter()
            score(texts)
            seconds[name].append(time.perf_counter() - started)
    return {name: round(len(texts) / max(float(np.median(values)), 1e-9), 1) for name, values in seconds.items()}


def fastest(rates: dict[str, float], order: Iterable[str], margin: float = SPEED_MARGIN) -> str:
    """The fastest of ``order`` by ``rates``; a later one must beat the best so far by ``margin``.

    Example:
        >>> fastest({"onnx-fp32": 230.0, "torch": 290.0}, ("onnx-fp32", "torch"))
        'torch'
        >>> fastest({"onnx-fp32": 250.0, "torch": 290.0}, ("onnx-fp32", "torch"))
        'onnx-fp32'
    """
    names = [name for name in order if name in rates]
    if not names:
        raise ValueError("fastest needs the rate of at least one backend")
    best = names[0]
    for name in names[1:]:
        if rates[name] > rates[best] * (1 + margin):
            best = name
    return best


def candidates(bf16: bool) -> tuple[str, ...]:
    """The backends measured against PyTorch fp32: every other one of ``PREFERENCE``, bf16 only if native.

    Emulated bfloat16 is slower than float32, so without it ``torch-bf16`` could only lose.

    Example:
        >>> candidates(bf16=False)
        ('onnx', 'onnx-fp32')
    """
    return tuple(name for name in PREFERENCE if name != "torch" and (bf16 or name != "torch-bf16"))


def fit_cascade(train: Split, labels: tuple[str, ...], seed: int = 0, buckets: int = BUCKETS
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per-label logistic regressions over hashed n-grams: ``(weights (buckets, labels), bias (labels,))``.

    Balanced class weights: the first stage must not miss rare labels, so it errs towards
    passing sentences on.
    """
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    rows = hashed_features(train.texts, buckets)
    matrix = csr_matrix((rows.data, rows.indices, rows.indptr), shape=rows.shape)
    weights = np.zeros((buckets, len(labels)), dtype=np.float32)
    bias = np.full(len(labels), -10.0, dtype=np.float32)  # a label never seen in training is ruled out
    for j in range(len(labels)):
        target = train.gold[:, j].astype(int)
        if 0 < target.sum() < len(target):
            model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=200, random_state=seed)
            model.fit(matrix, target)
            weights[:, j], bias[j] = model.coef_[0], model.intercept_[0]
    return weights, bias


def tune_cutoff(first_stage: np.ndarray, decisions: np.ndarray, ceiling: float,
                max_drop: float = MAX_POSITIVE_DROP) -> float:
    """The highest cut-off (at most ``ceiling``) that rules out at most ``max_drop`` of the positive decisions.

    ``first_stage`` holds the cascade's probabilities and ``decisions`` the transformer's 0/1
    decisions, both ``(sentences, labels)``. A sentence is ruled out when its highest
    first-stage probability is below the cut-off, and with it all its positive decisions.

    Example:
        >>> tune_cutoff(np.array([[0.9], [0.3], [0.01]]), np.array([[1], [1], [0]]), ceiling=0.5, max_drop=0.0)
        0.3
    """
    gate = first_stage.max(axis=1, initial=0.0)
    positives = decisions.sum(axis=1)
    allowed = max_drop * positives.sum()
    order = np.argsort(gate)
    dropped = np.cumsum(positives[order])
    # Ruling out the k lowest sentences is allowed while the positives they hold stay within bounds.
    k = int(np.searchsorted(dropped, allowed, side="right"))
    cutoff = float(gate[order[k]]) if k < len(gate) else ceiling
    return min(cutoff, ceiling)


@dataclass(frozen=True)
class Trial:
    """One rung of the int8 ladder measured on one split."""

    fp32_ffn_layers: int
    split: str
    parity: Parity

    def to_json(self) -> dict:
        return {"fp32_ffn_layers": self.fp32_ffn_layers, "split": self.split, **asdict(self.parity)}


def climb(rungs: Iterable[int], check: Callable[[int, str], Parity]) -> tuple[int | None, list[Trial]]:
    """The first rung that passes ``check`` on dev and then on test (``None``: none), with every trial made.

    A rung is tried on test only once it passed dev, and one that fails test sends the
    ladder on up: test confirms a choice dev made, it does not pick among rungs.

    Example:
        >>> chosen, trials = climb(range(4), lambda k, split: Parity(1.0, 0.0, 1.0, 1.0, passed=k >= 2))
        >>> chosen, [(t.fp32_ffn_layers, t.split) for t in trials]
        (2, [(0, 'dev'), (1, 'dev'), (2, 'dev'), (2, 'test')])
    """
    trials = []
    for rung in rungs:
        for split in ("dev", "test"):
            trials.append(Trial(rung, split, check(rung, split)))
            if not trials[-1].parity.passed:
                break
        else:
            return rung, trials
    return None, trials


def int8_ladder(model_dir: Path, splits: dict[str, Split], references: dict[str, np.ndarray],
                calibration: list[str], base: Quantization = LADDER, threads: int | None = None,
                judge: Callable[..., Parity] = parity) -> tuple[Quantization | None, list[Trial]]:
    """Climb the fp32-FFN ladder on ``splits["dev"]`` and ``splits["test"]``; install the chosen int8 model.

    ``references`` holds PyTorch fp32 scores of both splits; ``judge`` (:func:`parity`, or a
    stand-in in tests) compares a rung's scores with them. Each rung's int8 file is made in a
    temporary folder beside the model; only the chosen one becomes ``model.int8.onnx``.
    Returns the chosen quantisation (``None`` when no rung passed) and every trial.
    """
    model_dir = Path(model_dir)
    model, tokenizer, meta = load_artifact(model_dir)
    source, tokenizer_json, pad = onnx_files(model_dir, "onnx-fp32")
    encoder = Encoder.from_file(tokenizer_json, meta.max_length, pad)
    layers = model.config.num_hidden_layers
    with tempfile.TemporaryDirectory(prefix=f".{model_dir.name}.ladder-", dir=model_dir.parent) as work:
        source, outliers = int8_source(model, tokenizer, source, base, calibration, meta.max_length, Path(work))

        def rung_file(k: int) -> Path:
            path = Path(work) / f"int8-ffn{k}.onnx"
            return path if path.is_file() else quantize(source, path, replace(base, fp32_ffn_layers=k), outliers)

        def check(k: int, split: str) -> Parity:
            engine = OnnxBackend(rung_file(k), threads=threads, spinning=False)
            scores = Classifier(engine, encoder, meta).score(splits[split].texts)
            return judge(references[split], scores, splits[split].gold, meta.thresholds, meta.labels)

        chosen, trials = climb(range(layers + 1), check)
        if chosen is None:
            return None, trials
        add_to_artifact(model_dir, {ONNX_FILES["onnx"]: rung_file(chosen)}, read_meta(model_dir))
    return replace(base, fp32_ffn_layers=chosen), trials


@dataclass(frozen=True)
class FastPathReport:
    """What :func:`prepare_fast_path` measured and chose."""

    backends: dict[str, Parity]
    cascade: Parity
    cascade_cutoff: float
    cascade_skip_share_dev: float
    cascade_backend: str
    default: str
    # The int8 ladder: every trial, and the quantisation it chose (None: plain per-channel int8 stayed).
    int8_trials: tuple[Trial, ...] = ()
    int8_quantization: Quantization | None = None
    # Sentences/s at batch 32 on dev of each backend that passed parity, as :func:`fastest` read them.
    speeds: dict[str, float] | None = None
    # The test split's scores as the model directory now serves them (default backend, cascade
    # setting), so training reports them without scoring test once more; not part of the JSON.
    test_scores: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def cascade_on(self) -> bool:
        """The cascade serves only when it passed parity and rules out enough of dev to save time."""
        return self.cascade.passed and self.cascade_skip_share_dev >= MIN_SKIP_SHARE

    def to_json(self) -> dict:
        chosen = None if self.int8_quantization is None else asdict(self.int8_quantization)
        return {"backends": {name: asdict(p) for name, p in self.backends.items()}, "cascade": asdict(self.cascade),
                "cascade_backend": self.cascade_backend, "cascade_skip_share_dev": self.cascade_skip_share_dev,
                "int8_ladder": [trial.to_json() for trial in self.int8_trials], "int8_quantization": chosen,
                "speeds": self.speeds}

    def summary(self) -> str:
        lines = [f"int8 ladder, fp32 FFN in layers 0..{t.fp32_ffn_layers - 1} on {t.split}: {_line(t.parity)}"
                 if t.fp32_ffn_layers else f"int8 ladder, every FFN int8, on {t.split}: {_line(t.parity)}"
                 for t in self.int8_trials]
        q = self.int8_quantization
        lines.append("int8 chosen: none passed; plain per-channel int8 kept" if q is None else
                     f"int8 chosen: smoothing alpha {q.smooth_alpha}, FFN of the first {q.fp32_ffn_layers} "
                     f"layer(s) in fp32")
        lines += [f"{name}: {_line(p)}" for name, p in self.backends.items()]
        if "torch-bf16" not in self.backends:
            lines.append("torch-bf16: not tried (this processor has no native bfloat16)")
        if self.speeds:
            rates = ", ".join(f"{name} {rate:.0f}/s" for name, rate in self.speeds.items())
            lines.append(f"speed at batch 32 on dev, backends at parity: {rates} (a later one must be "
                         f"{SPEED_MARGIN:.0%} faster to win)")
        lines.append(f"cascade on {self.cascade_backend} (cut-off {self.cascade_cutoff:.4f}, rules out "
                     f"{self.cascade_skip_share_dev:.0%} of dev): {_line(self.cascade)}")
        why = "" if self.cascade_on or not self.cascade.passed else f" (it rules out under {MIN_SKIP_SHARE:.0%} of dev)"
        lines.append(f"default backend: {self.default}; cascade {'on' if self.cascade_on else 'off'}{why}")
        return "\n".join(lines)


def _line(p: Parity) -> str:
    return (f"agreement {p.agreement:.2%}, max score diff {p.max_score_diff:.3f}, macro-F1 {p.macro_f1:.4f} "
            f"(fp32 {p.macro_f1_reference:.4f}) -> {'passes' if p.passed else 'fails'} parity")


def prepare_fast_path(model_dir: Path, train: Split, dev: Split, test: Split, seed: int = 0,
                      quantization: Quantization = QUANTIZATION, ladder: Quantization | None = LADDER,
                      threads: int | None = None, dev_reference: np.ndarray | None = None) -> FastPathReport:
    """Export and quantise, climb the int8 ladder, fit and tune the cascade, measure parity, record the defaults.

    ``quantization`` makes the plain int8 model; ``ladder`` (``None``: no ladder) is the base
    the ladder varies. ``threads`` bounds the CPU threads of every scoring pass.
    ``dev_reference`` holds PyTorch fp32 scores of ``dev.texts`` that the caller already has
    (training scores dev to tune the thresholds); without it dev is scored here.
    """
    model_dir = Path(model_dir)
    calibration = spaced(train.texts, CALIBRATION_SENTENCES)
    export_onnx(model_dir, quantization, calibration=calibration)
    meta = read_meta(model_dir)
    torch_model = load_classifier(model_dir, backend="torch", cascade=False, threads=threads)
    if dev_reference is not None and dev_reference.shape != (len(dev.texts), len(meta.labels)):
        raise ValueError(f"dev_reference has shape {dev_reference.shape}, expected "
                         f"{(len(dev.texts), len(meta.labels))}: one row of scores per dev sentence")
    references = {"dev": torch_model.score(dev.texts) if dev_reference is None else dev_reference,
                  "test": torch_model.score(test.texts)}
    reference = references["test"]
    chosen, trials = None, []
    if ladder is not None:
        chosen, trials = int8_ladder(model_dir, {"dev": dev, "test": test}, references, calibration, ladder,
                                     threads)
    served = {name: load_classifier(model_dir, backend=name, cascade=False, threads=threads, spinning=False)
              for name in candidates(native_bf16())}
    test_scores = {name: clf.score(test.texts) for name, clf in served.items()} | {"torch": reference}
    backends = {name: parity(reference, test_scores[name], test.gold, meta.thresholds, meta.labels)
                for name in served}
    served["torch"] = torch_model
    passing = [name for name in PREFERENCE if name == "torch" or name in backends and backends[name].passed]
    speeds = measure_rates({name: served[name].score for name in passing}, spaced(dev.texts, SPEED_SENTENCES))
    default = fastest(speeds, PREFERENCE)

    weights, bias = fit_cascade(train, meta.labels, seed)
    plain = load_classifier(model_dir, backend=default, cascade=False, threads=threads, spinning=False)
    # The cut-off guards the decisions of the backend that will serve: tuned on its dev decisions.
    probabilities = 1.0 / (1.0 + np.exp(-(hashed_features(dev.texts, weights.shape[0]).dot(weights) + bias)))
    decisions = decide(plain.score(dev.texts), meta.thresholds, meta.labels)
    cutoff = tune_cutoff(probabilities, decisions, ceiling=min(meta.thresholds.values()))
    skipped = float((probabilities.max(axis=1, initial=0.0) < cutoff).mean()) if len(dev.texts) else 0.0
    cascade_file = write_cascade(model_dir.parent / f".{model_dir.name}.{CASCADE_FILE}", weights, bias)
    add_to_artifact(model_dir, {CASCADE_FILE: cascade_file}, replace(meta, cascade_cutoff=cutoff))
    with_cascade = load_classifier(model_dir, backend=default, cascade=True, threads=threads,
                                   spinning=False).score(test.texts)
    cascade = parity(reference, with_cascade, test.gold, meta.thresholds, meta.labels)

    report = FastPathReport(backends, cascade, cutoff, round(skipped, 4), default, default, tuple(trials), chosen,
                            speeds)
    report = replace(report, test_scores=with_cascade if report.cascade_on else test_scores[default])
    add_to_artifact(model_dir, {}, replace(read_meta(model_dir), backend=default, cascade_enabled=report.cascade_on,
                                           parity=report.to_json()))
    return report


def corpus_splits(corpus: Path, labels: tuple[str, ...]) -> dict[str, Split]:
    """Train, dev and test splits of the built corpus, with gold labels in ``labels`` order."""
    from training.corpus import ensure_built, load_records, multi_hot

    records = load_records(ensure_built(corpus))
    splits = {}
    for name in ("train", "dev", "test"):
        part = [r for r in records if r.split == name]
        gold = np.array([multi_hot(r.labels, labels) for r in part], dtype=np.float32).reshape(len(part), len(labels))
        splits[name] = Split([r.text for r in part], gold, [r.doc_id for r in part], [r.source for r in part])
    return splits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.fast_path", description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path, help="an existing model directory")
    parser.add_argument("--corpus", type=Path, default=Path("build/corpus.jsonl"))
    parser.add_argument("--threads", type=int, default=None, help="CPU threads per scoring pass (default: all)")
    parser.add_argument("--alpha", type=float, default=LADDER.smooth_alpha,
                        help=f"the int8 ladder's smoothing strength (default {LADDER.smooth_alpha})")
    args = parser.parse_args(argv)
    try:
        labels = read_meta(args.model_dir).labels
        splits = corpus_splits(args.corpus, labels)
        report = prepare_fast_path(args.model_dir, splits["train"], splits["dev"], splits["test"],
                                   ladder=replace(LADDER, smooth_alpha=args.alpha), threads=args.threads)
    except ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
