"""Training checkpoints: everything needed to resume a run bit-for-bit in sequence.

A checkpoint holds the model, the optimiser, the scheduler, the strategy's own state (a
discriminator), the step, the loss history, the elapsed time and the numpy and torch RNG
states. It is our own file, written atomically with :func:`engine.files.atomic_file` and read
back with ``torch.load(weights_only=True)``, which cannot run code; a file that cannot be read
is reported in one line.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.errors import DarkroomError
from engine.files import atomic_file


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """A numpy generator's state as plain str/int containers (``weights_only``-loadable)."""
    state = rng.bit_generator.state
    inner = state["state"]
    return {
        "bit_generator": state["bit_generator"],
        "state": str(inner["state"]),
        "inc": str(inner["inc"]),
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def set_rng_state(rng: np.random.Generator, saved: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    rng.bit_generator.state = {
        "bit_generator": saved["bit_generator"],
        "state": {"state": int(saved["state"]), "inc": int(saved["inc"])},
        "has_uint32": saved["has_uint32"],
        "uinteger": saved["uinteger"],
    }


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (missing folders are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as fh:
        torch.save(state, fh)


class CheckpointError(DarkroomError):
    """A checkpoint that cannot be resumed from (truncated, corrupt, not ours)."""


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        CheckpointError: the file is truncated, corrupt, or not one of ours (a pickle that
            ``weights_only`` refuses); one line.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # weights_only refused what the file asked to build
        raise CheckpointError(
            f"{path}: not a Darkroom checkpoint (refused to unpickle it)"
        ) from None
    except (OSError, RuntimeError, ValueError, EOFError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: unreadable checkpoint ({first[:120]})") from None
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise CheckpointError(f"{path}: not a Darkroom checkpoint")
    return state
