"""Multi-process training under ``torchrun`` (or ``accelerate launch``): ranks, process group, shards.

    torchrun --nproc_per_node=2 -m training.train --config configs/default.yaml

The launcher sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without them (a plain
``python -m training.train``) everything here is a no-op and training runs as one
process. With them, each process trains on its own shard of the training sentences, the
model is wrapped in ``DistributedDataParallel`` (gradients averaged across processes every
step: gloo on CPUs, NCCL on CUDA GPUs), rank 0's dev figures decide early stopping for all,
and only rank 0 writes checkpoints, logs to MLflow and saves and registers the model.

Example:
    >>> rank(), world_size(), is_main(), is_distributed()   # a single process
    (0, 1, True, False)
    >>> shard_rows(10, rank=1, world=4)   # 10 rows over 4 ranks: 3 each, rows 0-1 seen twice
    [1, 5, 9]
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


def rank() -> int:
    """This process's rank among all training processes (0 when not launched by torchrun)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """How many training processes there are (1 when not launched by torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_rank() -> int:
    """This process's rank on its own machine: which GPU it uses."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_distributed() -> bool:
    return world_size() > 1


def is_main() -> bool:
    """True in the one process that logs, evaluates, saves and registers (rank 0)."""
    return rank() == 0


def device() -> torch.device:
    """Where this process trains: its own GPU under CUDA, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank())
    return torch.device("cpu")


def setup() -> None:
    """Join the process group when launched by torchrun: NCCL on CUDA GPUs, gloo on CPUs."""
    if not is_distributed() or dist.is_initialized():
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")


def teardown() -> None:
    """Leave the process group (a no-op when there is none)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def shard_rows(size: int, rank: int, world: int) -> list[int]:
    """The row indices rank ``rank`` of ``world`` trains on: every ``world``-th row from ``rank``.

    Every rank gets the same number of rows (the first ones are reused to fill up, as
    ``DistributedSampler`` does), so all ranks take the same number of steps: a rank that
    stopped early would leave the others waiting for its gradients forever.
    """
    per_rank = math.ceil(size / world)
    padded = list(range(size)) + list(range(per_rank * world - size))
    return padded[rank::world]


def shard(split: T) -> T:
    """This process's share of a training split (the whole split in a single process)."""
    if not is_distributed():
        return split
    rows = shard_rows(len(split.texts), rank(), world_size())
    print(f"rank {rank()}/{world_size()}: training on {len(rows)} of {len(split.texts)} sentences")
    return split.select(rows)


def wrap(model: Any) -> Any:
    """The model for the training forward pass: wrapped in DistributedDataParallel when distributed.

    Optimiser, checkpoints and evaluation keep using the bare model; DDP shares its parameters.
    """
    if not is_distributed():
        return model
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank()] if device().type == "cuda"
                                                     else None)


def from_main(value: T) -> T:
    """Rank 0's ``value`` on every rank, so decisions such as early stopping agree everywhere."""
    if not is_distributed():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first and the others after it: one process builds a shared file, the rest read it."""
    if is_distributed() and not is_main():
        dist.barrier()
    yield
    if is_distributed() and is_main():
        dist.barrier()
