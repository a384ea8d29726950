"""Per-token int8 matrix products: rewrite an exported fp32 ONNX graph for int8 arithmetic.

onnxruntime's dynamic quantisation gives a product's activations one scale per tensor: the
whole batch, padding included, shares the range of its largest value. A sentence's int8 score
then depends on the sentences batched with it, and MiniLM's few outlier channels (up to ~28
where typical values stay under ~2) coarsen every other value of the batch. Here each
``MatMul`` whose second input is a weight becomes, for activations ``x`` of shape
``(..., K)`` and a weight ``w`` of shape ``(K, N)``::

    s = max|x| per token / 127                       # one scale per row (token), never per batch
    q = uint8(round(x / s) + 128)                    # symmetric, stored with zero point 128
    y = float(MatMulInteger(q, w8, 128)) * s * w_scale

with ``w8 = round(w / w_scale)`` in int8 and one symmetric scale per output column. With
``outliers`` for a product (the input channels that reached high values on calibration
sentences), those channels are zeroed before the int8 product and multiplied in fp32 instead
(LLM.int8()'s decomposition): the per-token scale then follows the ordinary channels only.

Example:
    >>> from inference.export import export_onnx
    >>> fp32 = export_onnx(model_dir)["onnx-fp32"]
    >>> int8 = quantize_per_token(fp32, tmp / "per-token.int8.onnx")
    >>> import onnx; sorted({n.op_type for n in onnx.load(str(int8)).graph.node} & {"MatMul", "MatMulInteger"})
    ['MatMul', 'MatMulInteger']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ZERO_POINT = 128
LEVELS = 127.0
# A row of zeros (a silent token) must not divide by zero; any positive floor gives q = 128 there.
MIN_RANGE = 1e-8


def weight_products(graph) -> list:
    """The ``MatMul`` nodes whose second input is a 2-D initializer: the products int8 may replace."""
    weights = {init.name: init for init in graph.initializer}
    return [node for node in graph.node if node.op_type == "MatMul" and node.input[1] in weights
            and len(weights[node.input[1]].dims) == 2]


def quantize_weight(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(int8 weight, float32 scale per output column)`` of a ``(K, N)`` weight, symmetric.

    Example:
        >>> q, scale = quantize_weight(np.array([[1.0, -0.5], [-2.0, 0.25]], dtype=np.float32))
        >>> q.tolist(), [round(float(v), 4) for v in scale]
        ([[64, -127], [-127, 64]], [0.0157, 0.0039])
    """
    scale = np.abs(weight).max(axis=0) / LEVELS
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    return np.clip(np.round(weight / scale), -LEVELS, LEVELS).astype(np.int8), scale


@dataclass(frozen=True)
class Activations:
    """The graph pieces that quantise one product's input per token, and the names of what they compute."""

    nodes: list
    initializers: list
    quantized: str  # uint8 activations, zero point 128
    scale: str  # one scale per token, shape (..., 1)
    fp32_channels: str | None  # the outlier channels gathered for the fp32 product (None: no outliers)


def quantize_activations(x: str, name: str, channels: tuple[int, ...], width: int) -> Activations:
    """The nodes that quantise activations ``x`` (``width`` channels) per token, named after product ``name``.

    With ``channels``, those input channels are zeroed before quantising and gathered for
    the fp32 product.
    """
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, fp32_part = [], [], None
    if channels:
        keep = np.ones(width, dtype=np.float32)
        keep[list(channels)] = 0.0
        inits += [numpy_helper.from_array(keep, f"{name}/pt_keep"),
                  numpy_helper.from_array(np.array(channels, dtype=np.int64), f"{name}/pt_channels")]
        nodes += [helper.make_node("Mul", [x, f"{name}/pt_keep"], [f"{name}/pt_x"], name=f"{name}/pt_mask"),
                  helper.make_node("Gather", [x, f"{name}/pt_channels"], [f"{name}/pt_xo"], axis=-1,
                                   name=f"{name}/pt_gather")]
        x, fp32_part = f"{name}/pt_x", f"{name}/pt_xo"
    nodes += [
        helper.make_node("Abs", [x], [f"{name}/pt_abs"], name=f"{name}/pt_abs"),
        helper.make_node("ReduceMax", [f"{name}/pt_abs"], [f"{name}/pt_max"], axes=[-1], keepdims=1,
                         name=f"{name}/pt_reducemax"),
        helper.make_node("Max", [f"{name}/pt_max", "pt/min_range"], [f"{name}/pt_range"], name=f"{name}/pt_floor"),
        helper.make_node("Div", [f"{name}/pt_range", "pt/levels"], [f"{name}/pt_s"], name=f"{name}/pt_scale"),
        helper.make_node("Div", [x, f"{name}/pt_s"], [f"{name}/pt_xs"], name=f"{name}/pt_div"),
        helper.make_node("Round", [f"{name}/pt_xs"], [f"{name}/pt_xr"], name=f"{name}/pt_round"),
        helper.make_node("Add", [f"{name}/pt_xr", "pt/zero_point_f"], [f"{name}/pt_xz"], name=f"{name}/pt_shift"),
        helper.make_node("Cast", [f"{name}/pt_xz"], [f"{name}/pt_q"], to=TensorProto.UINT8, name=f"{name}/pt_cast"),
    ]
    return Activations(nodes, inits, f"{name}/pt_q", f"{name}/pt_s", fp32_part)


def quantize_per_token(fp32: Path, path: Path, exclude: Sequence[str] = (),
                       outliers: Mapping[str, Sequence[int]] | None = None) -> Path:
    """Write ``path``: ``fp32`` with its weight products int8 per token; return ``path``.

    Products whose node name contains an ``exclude`` part stay fp32. ``outliers`` maps a node
    name to the input channels that product keeps in fp32.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(fp32))
    graph = model.graph
    outliers = outliers or {}
    weights = {init.name: init for init in graph.initializer}
    shared = [
        numpy_helper.from_array(np.array(ZERO_POINT, dtype=np.uint8), "pt/zero_point"),
        numpy_helper.from_array(np.array(LEVELS, dtype=np.float32), "pt/levels"),
        numpy_helper.from_array(np.array(MIN_RANGE, dtype=np.float32), "pt/min_range"),
        numpy_helper.from_array(np.array(float(ZERO_POINT), dtype=np.float32), "pt/zero_point_f"),
    ]
    replaced: dict[str, list] = {}
    # q, k and v read the same activations with the same outliers: quantise them once for all three.
    quantized: dict[tuple[str, tuple[int, ...]], Activations] = {}
    for node in weight_products(graph):
        if any(part in node.name for part in exclude):
            continue
        name = node.name
        weight = numpy_helper.to_array(weights[node.input[1]]).astype(np.float32)
        channels = tuple(sorted(set(int(c) for c in outliers.get(name, ()))))
        key = (node.input[0], channels)
        nodes, inits = [], []
        if key not in quantized:  # the first product to read them carries the quantising nodes
            quantized[key] = quantize_activations(node.input[0], name, channels, weight.shape[0])
            nodes, inits = list(quantized[key].nodes), list(quantized[key].initializers)
        activations = quantized[key]
        q, scale, fp32_part = activations.quantized, activations.scale, activations.fp32_channels
        if channels:
            inits.append(numpy_helper.from_array(weight[list(channels)], f"{name}/pt_w_outliers"))
            nodes.append(helper.make_node("MatMul", [fp32_part, f"{name}/pt_w_outliers"], [f"{name}/pt_yo"],
                                          name=f"{name}/pt_outliers/MatMul"))
            weight = weight.copy()
            weight[list(channels)] = 0.0  # their share is the fp32 product's: no int8 range spent on them
        q_weight, w_scale = quantize_weight(weight)
        inits += [numpy_helper.from_array(q_weight, f"{name}/pt_w8"),
                  numpy_helper.from_array(w_scale, f"{name}/pt_w_scale")]
        int8_out = f"{name}/pt_y" if channels else node.output[0]
        nodes += [
            helper.make_node("MatMulInteger", [q, f"{name}/pt_w8", "pt/zero_point"], [f"{name}/pt_acc"],
                             name=f"{name}/MatMulInteger"),
            helper.make_node("Cast", [f"{name}/pt_acc"], [f"{name}/pt_accf"], to=TensorProto.FLOAT,
                             name=f"{name}/pt_acc_float"),
            helper.make_node("Mul", [f"{name}/pt_accf", scale], [f"{name}/pt_rows"], name=f"{name}/pt_rows"),
            helper.make_node("Mul", [f"{name}/pt_rows", f"{name}/pt_w_scale"], [int8_out], name=f"{name}/pt_cols"),
        ]
        if channels:
            nodes.append(helper.make_node("Add", [int8_out, f"{name}/pt_yo"], [node.output[0]], name=f"{name}/pt_sum"))
        replaced[name] = nodes
        graph.initializer.extend(inits)
    rewritten = []
    for node in graph.node:
        rewritten.extend(replaced.get(node.name, [node]))
    del graph.node[:]
    graph.node.extend(rewritten)
    # The fp32 weights of replaced products are dead now; dropping them keeps the file int8-sized.
    referenced = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    kept = [init for init in graph.initializer if init.name in referenced]
    del graph.initializer[:]
    graph.initializer.extend(kept + shared)
    onnx.save(model, str(path))
    return path


def module_name(node_name: str) -> str:
    """The PyTorch module a product node was exported from (the exporter wraps the model as ``inner``).

    Example:
        >>> module_name("/inner/bert/encoder/layer.0/attention/self/query/MatMul")
        'bert.encoder.layer.0.attention.self.query'
    """
    return node_name.removeprefix("/inner/").removesuffix("/MatMul").replace("/", ".")


def outlier_channels(model, tokenizer, texts: Sequence[str], threshold: float, node_names: Sequence[str],
                     max_length: int = 128) -> dict[str, list[int]]:
    """For each product node, the input channels whose ``max |x|`` over ``texts`` exceeds ``threshold``.

    Measured with PyTorch on the fp32 model (export time only). Nodes whose module is not an
    encoder linear layer (none today) get no outliers.
    """
    from inference.smoothing import activation_maxima

    maxima = activation_maxima(model, tokenizer, texts, max_length)
    found = {}
    for name in node_names:
        seen = maxima.get(module_name(name))
        if seen is not None:
            found[name] = [int(i) for i in (seen > threshold).nonzero().flatten().tolist()]
    return found
