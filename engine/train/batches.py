"""Training batches and the L1 loss the trainer minimises.

A :class:`Batch` stacks random crops from a pair source, each mirrored into RGGB geometry as at
inference; :func:`training_loss` compares the network's output with the clean target either on
the developed sRGB image (what the photographer sees and the evaluation scores) or on linear
camera RGB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias

from engine.errors import DarkroomError
from engine.noise import NoiseLevel
from engine.render import develop_batch, highlight_gains
from engine.train.synthesis import TrainingPair, crop_pair, to_rggb


class PairSource(Protocol):
    """Anything that hands out random training pairs."""

    def sample(self, rng: np.random.Generator) -> TrainingPair: ...

    def __len__(self) -> int: ...


#: Spaces the L1 loss can be computed in (see :class:`TrainConfig`).
LOSS_SPACES = ("srgb", "linear")
#: How the crops of a batch share the objective (see :func:`weighted_objective`).
LOSS_WEIGHTINGS = ("mean", "log")
#: ``log`` weighting's floor on a crop's L1, about half a level of 255: a flat or clipped crop
#: whose error is already below it gets no more than ``1 / LOG_L1_FLOOR`` times the weight.
LOG_L1_FLOOR = 2e-3
#: A noise-aware model is trained on the noise map the app would give it: half the time the
#: level measured on the dark frame itself (as for a camera without a profile), otherwise the
#: pair's true level with a log-normal error of this standard deviation (a profile's mean
#: read noise is not the frame's).
MEASURED_NOISE_FRACTION = 0.5
NOISE_LEVEL_JITTER = 0.15


@dataclass
class Batch:
    """One training batch.

    Attributes:
        inputs: ``(B, 4, h, w)`` packed, amplified, clipped to [0, 1]; then the noise map
            (4 planes) for noise-aware models and the demosaic (12 planes) for models that
            take it (:func:`engine.render.network_channels`).
        targets: ``(B, 3, 2h, 2w)`` clean linear camera RGB in [0, 1].
        wb_gains: ``(B, 3)`` each dark frame's white balance, scaled so the smallest gain is 1.
        cam_to_srgb: ``(B, 3, 3)`` each dark frame's camera -> sRGB matrix.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    wb_gains: torch.Tensor
    cam_to_srgb: torch.Tensor

    def to(self, device: torch.device) -> Batch:
        return Batch(*(t.to(device, non_blocking=True) for t in
                       (self.inputs, self.targets, self.wb_gains, self.cam_to_srgb)))  # fmt: skip


def training_noise_level(pair: TrainingPair, rng: np.random.Generator) -> NoiseLevel:
    """The noise level a noise-aware model is shown for ``pair`` in training (see
    :data:`MEASURED_NOISE_FRACTION`)."""
    if pair.noise is None or rng.random() < MEASURED_NOISE_FRACTION:
        return pair.measured_noise()
    return pair.noise.scaled(float(np.exp(rng.normal(0.0, NOISE_LEVEL_JITTER))))


def make_batch(
    source: PairSource,
    rng: np.random.Generator | Sequence[np.random.Generator],
    size: int,
    noise_input: bool = False,
    demosaic_input: bool = False,
    below_black: bool = False,
) -> Batch:
    """``size`` random pairs from ``source`` as one :class:`Batch` (cut to their common size);
    with ``noise_input``, each input carries its noise map (:func:`training_noise_level`), with
    ``demosaic_input`` its classical demosaic (:func:`engine.render.demosaic_planes`), of the
    mosaic with its noise below black kept with ``below_black``.

    ``rng`` is one stream for the whole batch, or one generator per crop (``size`` of them).
    """
    rngs = [rng] * size if isinstance(rng, np.random.Generator) else list(rng)
    if len(rngs) != size:
        raise ValueError(f"{len(rngs)} generators for a batch of {size}")
    # Every Bayer layout is mirrored into RGGB geometry, as at inference
    # (engine.render.packing.pack_rggb); X-Trans pairs stay as they are.
    pairs = [to_rggb(source.sample(r)) for r in rngs]
    # Crops of small photos can be smaller than asked; cut the batch to the common size.
    h = min(p.dark.height for p in pairs)
    w = min(p.dark.width for p in pairs)
    inputs, targets = [], []
    for p, r in zip(pairs, rngs, strict=True):
        if (p.dark.height, p.dark.width) != (h, w):
            p = crop_pair(p, 0, 0, h, w)
        noise = training_noise_level(p, r) if noise_input else None
        inputs.append(torch.from_numpy(p.network_input(noise, demosaic_input, below_black)))
        targets.append(torch.from_numpy(np.ascontiguousarray(p.target.transpose(2, 0, 1))))
    gains = np.stack([highlight_gains(p.dark.wb_gains) for p in pairs])
    matrices = np.stack([np.asarray(p.dark.cam_to_srgb, np.float32) for p in pairs])
    return Batch(torch.stack(inputs), torch.stack(targets), torch.from_numpy(gains),
                 torch.from_numpy(matrices))  # fmt: skip


def training_loss(
    out: torch.Tensor, batch: Batch, loss_space: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L1 loss, output, target), the two images in the space the loss compares them in.

    ``srgb`` develops both with each frame's own white balance and matrix
    (:func:`engine.render.colour.develop_batch`), i.e. L1 on what the photographer sees and what the
    evaluation scores; ``linear`` compares clean linear camera RGB directly.
    """
    if loss_space == "srgb":
        shown = develop_batch(out.float(), batch.wb_gains, batch.cam_to_srgb)
        wanted = develop_batch(batch.targets, batch.wb_gains, batch.cam_to_srgb)
    elif loss_space == "linear":
        shown, wanted = out.float(), batch.targets
    else:
        check_choice("loss space", loss_space, LOSS_SPACES)
    return F.l1_loss(shown, wanted), shown, wanted


def weighted_objective(shown: torch.Tensor, wanted: torch.Tensor, weighting: str) -> torch.Tensor:
    """The objective the optimiser minimises from ``(B, 3, H, W)`` output and target.

    ``mean`` is the batch's L1. ``log`` is the mean over crops of ``log(L1_crop + floor)``: each
    crop's gradient is its L1's divided by that L1, so every crop asks for the same *relative*
    improvement, as the evaluation's mean PSNR over photos counts it. Under plain L1 a
    near-clean x1 crop, whose error is 20-50x smaller than an x300 one's, hardly moves the
    weights; under ``log`` it counts as much.
    """
    check_choice("loss weighting", weighting, LOSS_WEIGHTINGS)
    if weighting == "mean":
        return F.l1_loss(shown, wanted)
    per_crop = (shown - wanted).abs().flatten(1).mean(dim=1)
    return torch.log(per_crop + LOG_L1_FLOOR).mean()


def check_choice(kind: str, name: str, choices: tuple[str, ...]) -> None:
    """Refuse, in one line, a ``kind`` of loss (``"loss space"``, ``"loss weighting"``) whose
    ``name`` is not one of ``choices`` (:data:`LOSS_SPACES`, :data:`LOSS_WEIGHTINGS`)."""
    if name not in choices:
        raise DarkroomError(f"unknown {kind} {name!r} (choose from {', '.join(choices)})")
