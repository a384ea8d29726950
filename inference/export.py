"""Add the ONNX backends to a model directory: an fp32 export and its int8 quantisation.

    python -m inference.export MODEL_DIR [--per-channel] [--keep-fp32 NODE ...] [--fp32-ffn-layers K]
        [--smooth [ALPHA] | --per-token [--outliers THRESHOLD]] [--calibration N --corpus build/corpus.jsonl]

The export uses ``torch.onnx.export`` (optimum would downgrade transformers); quantisation
is onnxruntime's dynamic int8 (weights int8 ahead of time, activations quantised per batch),
or with ``per_token`` :mod:`inference.pertoken`'s rewrite (activations quantised per token,
outlier channels optionally in fp32), with the nodes listed in :class:`Quantization`
``keep_fp32`` and the feed-forward blocks of its first ``fp32_ffn_layers`` layers left in fp32.
With ``smooth_alpha`` the int8 model is made from a smoothed copy of the model
(:mod:`inference.smoothing`, calibrated on training sentences); ``model.onnx`` (fp32) is
always the plain export. Exporting does not make ONNX the default backend:
``python -m training.fast_path`` measures parity on the real test split and records the
default in ``classifier.json``.

Example:
    >>> from inference import load_classifier
    >>> added = export_onnx(model_dir)
    >>> sorted(added), load_classifier(model_dir, backend="onnx").backend.name
    (['onnx', 'onnx-fp32'], 'onnx')
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from inference.artifact import ONNX_FILES, TOKENIZER_JSON, ArtifactError, add_to_artifact, load_artifact, read_meta
from inference.backends import INPUT_NAMES

# SmoothQuant's migration strength. 0.85 rather than the paper's usual 0.5: on the real model
# (docs/BENCHMARKS.md, 2026-12-02) 0.5 kept a dev score diff above 0.05 with every FFN in fp32,
# while 0.85 brought it under.
ALPHA = 0.85

OPSET = 17


@dataclass(frozen=True)
class Quantization:
    """How the int8 model is made.

    ``keep_fp32`` holds substrings of node names (e.g. ``"classifier"``, ``"layer.5/"``): every
    matrix product whose name contains one stays fp32. ``per_channel`` gives each output
    channel of a weight its own scale; ``reduce_range`` uses 7-bit weights, which avoids the
    saturation of the u8 x s8 multiply on processors without VNNI.
    """

    per_channel: bool = False
    reduce_range: bool = False
    keep_fp32: tuple[str, ...] = ()
    # SmoothQuant's migration strength; None quantises the plain export.
    smooth_alpha: float | None = None
    # The feed-forward blocks (both products) of layers 0..k-1 stay fp32: their inputs hold the outliers.
    fp32_ffn_layers: int = 0
    # One activation scale per token (inference.pertoken) instead of onnxruntime's one per batch;
    # weights get one scale per output column whatever per_channel says.
    per_token: bool = False
    # With per_token: input channels whose calibration maximum exceeds this are multiplied in fp32.
    outlier_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.outlier_threshold is not None and not self.per_token:
            raise ValueError("outlier_threshold needs per_token: onnxruntime's int8 cannot split channels")
        if self.outlier_threshold is not None and self.smooth_alpha is not None:
            raise ValueError("choose smoothing or fp32 outlier channels: both handle the same outliers")

    @property
    def needs_calibration(self) -> bool:
        """Whether making the int8 model needs training sentences to measure activations on."""
        return self.smooth_alpha is not None or self.outlier_threshold is not None

    def fp32_nodes(self) -> tuple[str, ...]:
        """Every substring that keeps a matrix product in fp32."""
        return self.keep_fp32 + ffn_nodes(self.fp32_ffn_layers)


def ffn_nodes(layers: int) -> tuple[str, ...]:
    """Node-name substrings of the feed-forward products of encoder layers ``0..layers-1``.

    They match the TorchScript exporter's names (``/bert/encoder/layer.0/intermediate/dense/MatMul``
    and ``.../layer.0/output/dense/MatMul``) but not the attention's ``layer.0/attention/output/dense``,
    and the closing slash keeps ``layer.1/`` from matching ``layer.10/``.

    Example:
        >>> ffn_nodes(1)
        ('/layer.0/intermediate/dense/', '/layer.0/output/dense/')
    """
    return tuple(f"/layer.{i}/{part}/" for i in range(layers) for part in ("intermediate/dense", "output/dense"))


def export_onnx(model_dir: Path, quantization: Quantization = Quantization(), make_default: str | None = None,
                calibration: Sequence[str] = ()) -> dict[str, Path]:
    """Write ``model.onnx`` (fp32) and ``model.int8.onnx`` into ``model_dir``; return {backend: file}.

    ``make_default`` names the backend ``classifier.json`` should make the default (``None``
    leaves it as it is). ``calibration`` holds the training sentences smoothing measures
    activations on (needed only with ``quantization.smooth_alpha``). A ``tokenizer.json`` is
    written too when the directory lacks one, since the ONNX backends read only that file.
    """
    model_dir = Path(model_dir)
    model, tokenizer, meta = load_artifact(model_dir)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=model_dir.parent) as work:
        work_dir = Path(work)
        fp32 = export_fp32(model, tokenizer, work_dir / ONNX_FILES["onnx-fp32"])
        source, outliers = int8_source(model, tokenizer, fp32, quantization, calibration, meta.max_length, work_dir)
        int8 = quantize(source, work_dir / ONNX_FILES["onnx"], quantization, outliers)
        files = {ONNX_FILES["onnx-fp32"]: fp32, ONNX_FILES["onnx"]: int8}
        if not (model_dir / TOKENIZER_JSON).is_file():
            tokenizer.backend_tokenizer.save(str(work_dir / TOKENIZER_JSON))
            files[TOKENIZER_JSON] = work_dir / TOKENIZER_JSON
        add_to_artifact(model_dir, files, replace(meta, backend=make_default or meta.backend))
    return {backend: model_dir / name for backend, name in ONNX_FILES.items()}


def export_fp32(model, tokenizer, path: Path) -> Path:
    """Trace the model to ONNX with dynamic batch and sequence axes; the graph returns logits."""
    import torch

    class Logits(torch.nn.Module):
        """The model with positional inputs and the logits alone as output, as ONNX wants them."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits

    sample = tokenizer(["The EU extended sanctions on Minsk.", "Talks."], padding=True, return_tensors="pt")
    sample.setdefault("token_type_ids", torch.zeros_like(sample["input_ids"]))
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUT_NAMES}
    # The TorchScript exporter (dynamo=False): it writes one self-contained file in seconds,
    # where the dynamo exporter takes half a minute and splits off the weights.
    torch.onnx.export(Logits(model.eval()), tuple(sample[name] for name in INPUT_NAMES), str(path),
                      input_names=list(INPUT_NAMES), output_names=["logits"],
                      dynamic_axes={**axes, "logits": {0: "batch"}}, opset_version=OPSET, dynamo=False)
    return path


def export_smoothed(model, tokenizer, calibration: Sequence[str], alpha: float, max_length: int, path: Path) -> Path:
    """Export a smoothed copy of ``model`` (scales measured on ``calibration``) to ``path``, for int8 only."""
    from inference.smoothing import smoothed

    return export_fp32(smoothed(model, tokenizer, calibration, alpha, max_length), tokenizer, path)


def matrix_products(path: Path) -> list[str]:
    """The names of the ``MatMul`` and ``Gemm`` nodes of an ONNX file: what quantisation may turn int8."""
    import onnx

    return [node.name for node in onnx.load(str(path)).graph.node if node.op_type in ("MatMul", "Gemm")]


def int8_source(model, tokenizer, fp32: Path, settings: Quantization, calibration: Sequence[str], max_length: int,
                work_dir: Path) -> tuple[Path, dict[str, list[int]] | None]:
    """What ``quantize`` starts from: the graph (``fp32``, or a smoothed export written into
    ``work_dir``) and the fp32 outlier channels (``None`` without ``outlier_threshold``)."""
    source, outliers = fp32, None
    if settings.smooth_alpha is not None:
        source = export_smoothed(model, tokenizer, calibration, settings.smooth_alpha, max_length,
                                 work_dir / "smoothed.onnx")
    if settings.outlier_threshold is not None:
        outliers = calibrate_outliers(model, tokenizer, calibration, settings.outlier_threshold, max_length, fp32)
    return source, outliers


def calibrate_outliers(model, tokenizer, calibration: Sequence[str], threshold: float, max_length: int,
                       fp32: Path) -> dict[str, list[int]]:
    """The input channels of each weight product of ``fp32`` that exceed ``threshold`` on ``calibration``."""
    import onnx

    from inference.pertoken import outlier_channels, weight_products

    if not any(text.strip() for text in calibration):
        raise ValueError("fp32 outlier channels need calibration sentences (training-corpus text)")
    names = [node.name for node in weight_products(onnx.load(str(fp32)).graph)]
    return outlier_channels(model, tokenizer, calibration, threshold, names, max_length)


def quantize(fp32: Path, path: Path, settings: Quantization, outliers: dict[str, list[int]] | None = None) -> Path:
    """Int8 quantisation of the matrix products, except those ``settings.fp32_nodes()`` names.

    onnxruntime's dynamic quantisation, or with ``settings.per_token`` :mod:`inference.pertoken`'s
    rewrite, which keeps the ``outliers`` channels of each product in fp32.
    """
    kept = settings.fp32_nodes()
    if settings.per_token:
        from inference.pertoken import quantize_per_token

        return quantize_per_token(fp32, path, kept, outliers)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    excluded = [name for name in matrix_products(fp32) if any(part in name for part in kept)]
    # onnxruntime warns that pre-processing may help; for this graph it changes nothing measurable.
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))
    quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8, per_channel=settings.per_channel,
                     reduce_range=settings.reduce_range, nodes_to_exclude=excluded,
                     op_types_to_quantize=["MatMul", "Gemm"])
    return path


def calibration_texts(corpus: Path, count: int) -> list[str]:
    """``count`` training-split sentences of a built corpus (JSON Lines), evenly spaced through it.

    Read directly from the file: ``inference`` must not import ``training`` (which builds it).
    """
    with Path(corpus).open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    texts = [record["text"] for record in records if record.get("split") == "train"]
    return spaced(texts, count)


def spaced(texts: Sequence[str], count: int) -> list[str]:
    """At most ``count`` of ``texts``, evenly spaced (the corpus is ordered by document).

    Example:
        >>> spaced(["a", "b", "c", "d"], 2)
        ['a', 'c']
    """
    return list(texts[:: max(1, len(texts) // max(1, count))][:count])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path, help="an existing model directory (it gains the ONNX files)")
    parser.add_argument("--per-channel", action="store_true", help="one int8 scale per weight channel")
    parser.add_argument("--reduce-range", action="store_true", help="7-bit weights (processors without VNNI)")
    parser.add_argument("--keep-fp32", nargs="*", default=[], metavar="NODE",
                        help="keep the matrix products whose node name contains NODE in fp32")
    parser.add_argument("--fp32-ffn-layers", type=int, default=0, metavar="K",
                        help="keep the feed-forward blocks of encoder layers 0..K-1 in fp32")
    parser.add_argument("--smooth", type=float, nargs="?", const=ALPHA, default=None, metavar="ALPHA",
                        help=f"smooth activation outliers into the weights before int8 (alpha {ALPHA} if omitted)")
    parser.add_argument("--per-token", action="store_true",
                        help="one activation scale per token rather than per batch (inference.pertoken)")
    parser.add_argument("--outliers", type=float, default=None, metavar="THRESHOLD",
                        help="with --per-token: multiply in fp32 the input channels that exceed THRESHOLD "
                             "on the calibration sentences")
    parser.add_argument("--calibration", type=int, default=256, metavar="N",
                        help="training sentences --smooth and --outliers measure activations on (default 256)")
    parser.add_argument("--corpus", type=Path, default=Path("build/corpus.jsonl"),
                        help="the built corpus the calibration sentences come from")
    args = parser.parse_args(argv)
    try:
        settings = Quantization(args.per_channel, args.reduce_range, tuple(args.keep_fp32), args.smooth,
                                args.fp32_ffn_layers, args.per_token, args.outliers)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        read_meta(args.model_dir)
        calibration = []
        if settings.needs_calibration:
            if not args.corpus.is_file():
                raise ArtifactError(f"--smooth and --outliers need calibration sentences: no corpus at "
                                    f"{args.corpus} (build it with: python -m training.corpus build)")
            calibration = calibration_texts(args.corpus, args.calibration)
        added = export_onnx(args.model_dir, settings, calibration=calibration)
    except ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for backend, path in added.items():
        print(f"{backend}: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(f"the default backend is unchanged; measure parity and choose it with: python -m training.fast_path "
          f"{args.model_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
