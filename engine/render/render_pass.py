"""What one render is, and the small pieces every render path shares: the frame's colour
matrix for exports, the Amount check, and the classical render (whole, or as a binned proxy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.io import XYZ_TO_SRGB, RawFrame, classical_linear, take_made_ahead
from engine.jobs import CancelToken, ProgressCallback
from engine.noise import NoiseLevel
from engine.render.packing import Mirror, mirror_image


def camera_xyz_matrix(frame: RawFrame) -> np.ndarray:
    """XYZ -> unbalanced camera RGB implied by the frame's white balance and colour matrix."""
    cam_from_srgb = np.linalg.inv(frame.cam_to_srgb.astype(np.float64))
    return (np.diag(1.0 / frame.wb_gains.astype(np.float64)) @ cam_from_srgb @ XYZ_TO_SRGB).astype(
        np.float32
    )


def check_amount(amount: float) -> float:
    """``amount`` as a float in [0, 1] (see :meth:`engine.render.Enhancer.render`).

    Raises:
        ValueError: not a number in [0, 1].
    """
    value = float(amount)
    if not 0.0 <= value <= 1.0:  # NaN fails both comparisons
        raise ValueError(f"amount must be between 0 and 1 (0-100 %), got {amount!r}")
    return value


@dataclass(frozen=True)
class RenderPass:
    """One render: the frame and what applies to it."""

    frame: RawFrame
    ratio: float
    amount: float
    level: NoiseLevel | None
    progress: ProgressCallback
    cancel: CancelToken | None


def classical_of(job: RenderPass) -> torch.Tensor:
    """The classical render's linear camera RGB of the whole frame, ``(3, H, W)`` (made
    ahead, :class:`~engine.io.ClassicalAhead`, where it was)."""
    linear = take_made_ahead(job.frame, job.ratio)
    if linear is None:
        linear = classical_linear(job.frame, job.ratio, keep_negative=True, follow_origin=True)
    return torch.from_numpy(linear).permute(2, 0, 1)


def binned_classical(packed: np.ndarray, mirror: Mirror) -> torch.Tensor:
    """The classical preview proxy of binned packed pixels: each bin's colour (greens
    averaged) repeated over its 2x2 output pixels, on the frame's grid; ``(3, 2h, 2w)``."""
    r, g1, b, g2 = (torch.from_numpy(c) for c in packed[:4])
    rgb = torch.stack([r, (g1 + g2) / 2, b])
    return mirror_image(rgb.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2), mirror)
