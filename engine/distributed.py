"""Training on several processes: the process group ``torchrun`` describes, and who writes.

``torchrun --standalone --nproc_per_node N -m engine.cli train ...`` starts N copies of the
command with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR``/``PORT`` in their
environment. :func:`init_from_env` joins that group once per process (gloo on CPUs, NCCL when
each rank has a CUDA GPU, which it pins to ``LOCAL_RANK`` so that ``"cuda"`` in
:func:`engine.device.select_device` means this rank's GPU); a plain single process gets a
:class:`Distributed` of one and nothing else changes.

Rules every caller follows: only the main rank (:attr:`Distributed.is_main`) writes
checkpoints, weights, cards, logs and progress; decisions that depend on a measurement (a
validation score) are made on the main rank and broadcast (:meth:`Distributed.broadcast`), so
ranks never disagree because their floating point differed in the last bit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from engine.errors import DarkroomError

T = TypeVar("T")


@dataclass(frozen=True)
class Distributed:
    """This process's place in the training group.

    Attributes:
        rank: 0 .. world_size - 1; rank 0 is the one that writes.
        world_size: processes in the group (1: no group).
        local_rank: the rank on this machine (its GPU index).
        backend: ``"gloo"``, ``"nccl"``, or ``""`` without a group.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def broadcast(self, value: T) -> T:
        """The main rank's ``value`` on every rank (picklable objects of the group's own making:
        scores, flags; never data read from a file)."""
        if not self.active:
            return value
        box: list[Any] = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def any_rank(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any rank (a cancel request every rank must obey at the
        same step, or one rank would wait for the others in an all-reduce for ever)."""
        if not self.active:
            return flag
        value = torch.tensor([1.0 if flag else 0.0])
        if self.backend == "nccl":  # NCCL reduces GPU tensors only
            value = value.to(torch.device("cuda", self.local_rank))
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item() > 0)

    def barrier(self) -> None:
        """Wait until every rank gets here (e.g. until the main rank has written a file)."""
        if self.active:
            dist.barrier()


_SINGLE = Distributed()
_current: Distributed = _SINGLE


def launched_by_torchrun() -> bool:
    """Whether this process was started by ``torchrun`` (or another launcher that sets the
    ``env://`` variables) as one of several ranks."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: str = "auto") -> Distributed:
    """Join the process group ``torchrun`` set up, once; a single process gets a group of one.

    Args:
        device: the run's ``--device``: NCCL is used when it allows CUDA and every process on
            this machine has a GPU of its own, gloo otherwise; every rank decides alike (from
            ``LOCAL_WORLD_SIZE``), since a group cannot mix the two.

    Raises:
        DarkroomError: the environment names a group that cannot be joined.
    """
    global _current
    if _current.active or not launched_by_torchrun():
        return _current
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    gpus = torch.cuda.device_count() if device in ("auto", "cuda") else 0
    if device == "cuda" and gpus < local_world:
        raise DarkroomError(f"--device cuda with {local_world} processes on this machine needs "
                            f"{local_world} GPUs, and it has {gpus}")  # fmt: skip
    backend = "nccl" if gpus >= local_world else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    try:
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    except (RuntimeError, ValueError) as exc:
        raise DarkroomError(f"could not join the torchrun process group: {exc}") from None
    _current = Distributed(rank, world, local_rank, backend)
    return _current


def current() -> Distributed:
    """The group this process joined (:func:`init_from_env`), or a group of one."""
    return _current


def shutdown(finished: bool = True) -> None:
    """Leave the process group at the end of a command.

    Args:
        finished: the command ran to its end on this rank, so it waits for every rank
            first (a rank that tears gloo down while another still talks to it can abort:
            "terminate called without an active exception"). After a failure it leaves at
            once: the others may be in a collective this rank will never join, and torchrun
            stops them when this rank exits.
    """
    global _current
    if _current.active and dist.is_initialized():
        try:
            if finished:
                dist.barrier()
        finally:
            dist.destroy_process_group()
    _current = _SINGLE


@contextmanager
def process_group(device: str = "auto") -> Iterator[Distributed]:
    """``with process_group(args.device) as group:`` a command's body as one rank of the
    torchrun group (or a group of one): joined on entry (:func:`init_from_env`), left on exit
    (:func:`shutdown`, waiting for the other ranks only when the body finished)."""
    group = init_from_env(device)
    finished = False
    try:
        yield group
        finished = True
    finally:
        shutdown(finished)
