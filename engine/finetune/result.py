"""What a fine-tune leaves behind: :class:`FinetuneResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.finetune.data import SuspectPair
from engine.finetune.noise_fit import NoiseFit
from engine.models import ModelCard


@dataclass
class FinetuneResult:
    """What a finished fine-tune produced.

    Attributes:
        name: the model's name in the library.
        weights_path: its ``.safetensors`` file (card beside it).
        card: its model card.
        psnr_before, psnr_after: validation PSNR of the base and the fine-tuned model, dB.
        psnr_gain: validation PSNR of plain amplification (the classical pipeline), dB.
        validation: what was scored, e.g. ``"1 held-out pair"``.
        iterations: training steps done.
        elapsed_s: training time over all sessions, seconds.
        train_pairs, validation_pairs: pair counts (validation 0: scored on training pairs).
        noise_fit: the fitted noise model (``None`` without synthetic pairs).
        history: ``(iteration, psnr)`` of every validation, the base model's at iteration 0.
        losses: L1 of every step.
        notes: assumptions and warnings, one line each.
        suspects: validation pairs the base model scored below plain gain on.
    """

    name: str
    weights_path: Path
    card: ModelCard
    psnr_before: float
    psnr_after: float
    psnr_gain: float
    validation: str
    iterations: int
    elapsed_s: float
    train_pairs: int
    validation_pairs: int
    noise_fit: NoiseFit | None
    history: list[tuple[int, float]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    suspects: list[SuspectPair] = field(default_factory=list)


def json_safe(value: object) -> object:
    """JSON-safe card metrics: non-finite floats as strings ("nan", "inf"), containers walked."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
