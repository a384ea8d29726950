"""Where logits come from: PyTorch (fp32, the reference, or bf16 autocast) or ONNX Runtime (int8 or fp32).

A backend turns token ids into logits and nothing else; tokenisation, batching and
thresholds stay in :class:`inference.Classifier`, so every backend serves the same contract.
The ONNX backends import neither torch nor transformers, which keeps their cold start short.

Example:
    >>> encoder = Encoder(clf.tokenizer.tokenizer, max_length=32)   # the loaded classifier's word pieces
    >>> batch = encoder(["The EU extended sanctions.", "Talks."])
    >>> TorchBackend(clf.backend.model).logits(batch).shape
    (2, 9)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
# The PyTorch backends and the precision each runs in (one mapping: artifact and load read it too).
TORCH_BACKENDS = {"torch": "fp32", "torch-bf16": "bf16"}


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Backend(Protocol):
    name: str

    def logits(self, encoded: dict[str, np.ndarray]) -> np.ndarray:
        """Logits, shape ``(batch, labels)``, for one padded batch of token ids."""
        ...


class Encoder:
    """Word pieces for a batch: truncated to ``max_length``, padded to the batch's longest text.

    Built on a copy of the ``tokenizers`` tokenizer with truncation and padding set once, so
    a call changes no state and needs no lock (the Rust tokenizer is safe to share between
    threads, and releases the GIL while it works).
    """

    def __init__(self, tokenizer: Any, max_length: int, pad_token: str = "[PAD]") -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_str(tokenizer.to_str())  # a private copy: its settings are ours
        pad_id = self.tokenizer.token_to_id(pad_token)
        if pad_id is None:
            raise ValueError(f"the tokenizer has no padding token {pad_token!r}")
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)

    @classmethod
    def from_transformers(cls, tokenizer: Any, max_length: int) -> Encoder:
        """The encoder inside a transformers tokenizer (its ``backend_tokenizer``)."""
        return cls(tokenizer.backend_tokenizer, max_length, tokenizer.pad_token)

    @classmethod
    def from_file(cls, path: Path, max_length: int, pad_token: str = "[PAD]") -> Encoder:
        """An encoder from a ``tokenizer.json`` file, without importing transformers."""
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(path)), max_length, pad_token)

    def __call__(self, texts: list[str], contexts: list[str] | None = None) -> dict[str, np.ndarray]:
        """Token ids of ``texts``; with ``contexts``, each text is a pair (the text, then its context).

        Truncation trims the longer segment first (as training's tokenizer does), so a
        sentence keeps at least half of ``max_length`` however long its context.
        """
        encodings = self.tokenizer.encode_batch(texts if contexts is None else list(zip(texts, contexts)))
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }


class TorchBackend:
    """The fine-tuned transformers model in PyTorch: fp32, the reference every other backend is held to, or bf16.

    ``precision="bf16"`` runs the forward pass under bfloat16 autocast: the matrix products
    take bfloat16 inputs (oneDNN's AVX-512 BF16 or AMX kernels where :func:`native_bf16`),
    while weights, layer norms, softmax and the residual stream stay float32, which is what
    keeps its scores within parity of fp32 (docs/BENCHMARKS.md).
    """

    def __init__(self, model: Any, threads: int | None = None, precision: str = "fp32") -> None:
        import inspect

        names = {p: name for name, p in TORCH_BACKENDS.items()}
        if precision not in names:
            raise ValueError(f"precision is {precision!r}; expected one of {', '.join(names)}")
        if threads:
            import torch

            torch.set_num_threads(threads)  # torch has one intra-op pool per process
        self.model = model.eval()
        self.precision = precision
        self.name = names[precision]
        accepted = inspect.signature(self.model.forward).parameters
        self._inputs = tuple(name for name in INPUT_NAMES if name in accepted)

    def logits(self, encoded: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        bf16 = self.precision == "bf16"
        with torch.inference_mode(), torch.autocast(self.model.device.type, dtype=torch.bfloat16, enabled=bf16):
            # A model trained on a GPU stays there: inputs go to its device, logits come back.
            out = self.model(**{name: torch.from_numpy(encoded[name]).to(self.model.device)
                                for name in self._inputs}).logits
        return out.float().cpu().numpy()


def native_bf16(device: Any = "cpu") -> bool:
    """Whether ``device`` computes bfloat16 in hardware (on a CPU: oneDNN's AVX-512 BF16 or AMX kernels).

    Elsewhere bfloat16 is emulated and slower than float32.

    Example:
        >>> isinstance(native_bf16("cpu"), bool)
        True
    """
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


class OnnxBackend:
    """An exported model run by ONNX Runtime on the CPU, with one thread per available core.

    ``spinning=False`` makes idle threads sleep instead of spin-waiting between operations:
    a little latency on an idle machine, but far more throughput on one whose cores other
    processes hold (see :func:`inference.env.sleep_between_operations`).
    ``InferenceSession.run`` is safe to call from several threads at once. ``profile_prefix``
    turns on onnxruntime's profiler (for ``benchmarks/onnx_profile.py``): the trace goes to
    ``PREFIX_<date>.json`` when ``session.end_profiling()`` is called.
    """

    def __init__(self, path: Path, name: str = "onnx", threads: int | None = None, spinning: bool = True,
                 profile_prefix: str | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # Intra-op threads split each matrix product; one inter-op thread, since a BERT graph
        # is a chain with little to run side by side.
        options.intra_op_num_threads = threads or available_cpus()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if profile_prefix:
            options.enable_profiling = True
            options.profile_file_prefix = profile_prefix
        self.name = name
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = tuple(i.name for i in self.session.get_inputs())

    def logits(self, encoded: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, {name: encoded[name] for name in self._inputs})[0]
