"""The colour pipeline shared by every path: classical (``--model none``), network and training.

Linear camera RGB (what the default models output, and what demosaicking a clean RAW gives)
goes through white balance, highlight clipping, the camera->sRGB matrix and the sRGB transfer
curve, all from the file's own metadata. Training targets are made with the same functions, so a
model + this pipeline aims at exactly what ``--model none`` shows for a clean exposure.

Tensors stay float32 from the mosaic to the encoder; no 8-bit step happens before export.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.io import (
    NOISE_FLOOR,
    RawFrame,
    orient_image,
)
from engine.render.packing import Mirror, pack_for_network


def split_below_black(unclipped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unclipped normalised samples (a mosaic, packed planes or their bins) as
    ``(clipped, below_black)``: a copy clipped to [0, 1], what the networks' mosaic planes
    take, and ``unclipped`` itself clipped in place to ``[-NOISE_FLOOR, 1]``, the noise below
    black that the classical render keeps (:func:`classical_linear`)."""
    clipped = np.clip(unclipped, 0.0, 1.0)
    return clipped, np.clip(unclipped, -NOISE_FLOOR, 1.0, out=unclipped)


def pack_with_below_black(
    frame: RawFrame, ratio: float, below_black: bool
) -> tuple[np.ndarray, Mirror, np.ndarray | None]:
    """:func:`~engine.render.packing.pack_for_network`'s ``(packed, mirror)`` and, when
    ``below_black`` (a network that takes its demosaic that way), the same planes with their
    noise below black kept (:func:`split_below_black`), else ``None``: packed unclipped only
    then, so other networks pay nothing for it."""
    packed, mirror = pack_for_network(frame, ratio, clip=not below_black)
    if not below_black:
        return packed, mirror, None
    packed, below = split_below_black(packed)
    return packed, mirror, below


def highlight_gains(wb_gains: np.ndarray) -> np.ndarray:
    """White-balance gains scaled so the smallest is 1 (as dcraw does).

    With every gain >= 1, a pixel saturated in all channels stays >= 1 in all channels after
    white balance, so clipping turns blown highlights white instead of magenta.
    """
    gains = np.asarray(wb_gains, dtype=np.float32)
    return gains / gains.min()


def srgb_encode(linear: torch.Tensor) -> torch.Tensor:
    """sRGB transfer curve (IEC 61966-2-1); input clipped to [0, 1]. Same shape, new tensor."""
    curve = linear.clamp(0.0031308, 1.0).pow_(1 / 2.4).mul_(1.055).sub_(0.055)
    return torch.where(linear <= 0.0031308, linear.clamp(min=0.0) * 12.92, curve)


def srgb_decode(encoded: torch.Tensor) -> torch.Tensor:
    """Inverse sRGB transfer curve; input clipped to [0, 1]."""
    x = encoded.clamp(0.0, 1.0)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055).pow(2.4))


# Rows per strip: a strip of a 4000-px-wide frame stays in the CPU caches between the passes.
_STRIP_ROWS = 128


def develop(
    linear_camera: torch.Tensor, wb_gains: np.ndarray, cam_to_srgb: np.ndarray
) -> torch.Tensor:
    """Linear camera RGB -> display sRGB.

    White balance (gains scaled so the smallest is 1), highlight clip at 1, camera->sRGB
    matrix, clip, sRGB transfer curve.

    Args:
        linear_camera: ``(..., 3, H, W)`` float linear camera RGB, nominal range [0, 1] (values
            above 1 are clipped as highlights), on any device.
        wb_gains: ``(3,)`` as-shot white balance multipliers.
        cam_to_srgb: ``(3, 3)`` white-balanced camera RGB -> linear sRGB.

    Returns:
        Same shape, float32, sRGB-encoded, in [0, 1].

    Examples:
        Mid grey under a 2x red / 1.5x blue white balance comes out neutral: the gains are
        applied before the matrix, and 18 % linear is 46 % on the sRGB curve.

        >>> import numpy as np, torch
        >>> grey = torch.tensor([0.09, 0.18, 0.12]).view(3, 1, 1)
        >>> develop(grey, np.array([2.0, 1.0, 1.5]), np.eye(3)).flatten().round(decimals=3)
        tensor([0.4610, 0.4610, 0.4610])
        >>> develop(torch.full((3, 1, 1), 2.0), np.ones(3), np.eye(3)).flatten().round(decimals=3)
        tensor([1., 1., 1.])
    """
    dev, dt = linear_camera.device, torch.float32
    gains = torch.as_tensor(highlight_gains(wb_gains), device=dev, dtype=dt).view(3, 1, 1)
    matrix = torch.as_tensor(np.asarray(cam_to_srgb, dtype=np.float32), device=dev)
    out = torch.empty(linear_camera.shape, dtype=dt, device=dev)
    height = linear_camera.shape[-2]
    step = height if dev.type != "cpu" else _STRIP_ROWS
    for top in range(0, height, step):
        rows = slice(top, top + step)
        # Highlights clip before the matrix; values below black (the classical render's noise)
        # go through it and are clipped by the transfer curve, so they average out.
        balanced = (linear_camera[..., rows, :].to(dt) * gains).clamp_(max=1.0)
        srgb_linear = torch.einsum("ij,...jhw->...ihw", matrix, balanced)
        out[..., rows, :] = srgb_encode(srgb_linear)
    return out


#: Gradient that :func:`leaky_clamp` lets through outside [0, 1]. 1 (a straight-through clamp)
#: let out-of-range pixels, amplified by the sRGB curve's slope of 12.92 near black, swamp the
#: rest: a tiny network's L1 fell 10 % in 60 steps instead of 26 % with a plain clamp; 0.1 gave
#: 34 % (tests/test_training.py's run, lr 3e-3).
CLAMP_LEAK = 0.1


def leaky_clamp(x: torch.Tensor, leak: float = CLAMP_LEAK) -> torch.Tensor:
    """``x`` clipped to [0, 1] in the forward pass; gradient 1 inside, ``leak`` outside.

    A plain clamp has zero gradient outside [0, 1]: a network output that went negative in a
    shadow (or above 1 where the target is not clipped) then gets no signal from a loss on the
    developed image and stays crushed to black. The leak lets the loss pull it back; where the
    target is clipped too, forward values agree and L1's gradient is zero anyway.
    """
    clipped = x.clamp(0.0, 1.0)
    if not x.requires_grad:
        # Targets (developed every training step) and inference: nothing to leak into.
        return clipped
    return clipped + leak * (x - x.detach()) * (clipped != x)


def develop_batch(
    linear_camera: torch.Tensor, wb_gains: torch.Tensor, cam_to_srgb: torch.Tensor
) -> torch.Tensor:
    """:func:`develop` for a batch with one colour rendering per image, differentiable.

    The trainer's loss compares images in this space: camera RGB hides most of a colour in
    small differences between highly correlated channels, which the camera->sRGB matrix then
    amplifies, so an L1 loss on camera RGB lets a network desaturate colours cheaply.

    Args:
        linear_camera: ``(B, 3, H, W)`` float linear camera RGB, nominal range [0, 1].
        wb_gains: ``(B, 3)`` white-balance gains, already scaled by :func:`highlight_gains`.
        cam_to_srgb: ``(B, 3, 3)`` white-balanced camera RGB -> linear sRGB.

    Returns:
        ``(B, 3, H, W)`` float32 sRGB-encoded in [0, 1]. The clips leak gradients
        (:func:`leaky_clamp`), so an output pushed below black or above white still learns its
        way back.
    """
    x = linear_camera.float() * wb_gains.float()[:, :, None, None]
    srgb_linear = torch.einsum("bij,bjhw->bihw", cam_to_srgb.float(), leaky_clamp(x))
    srgb_linear = leaky_clamp(srgb_linear)
    # Not srgb_encode: its in-place ops would overwrite what autograd keeps for backward.
    curve = 1.055 * srgb_linear.clamp(min=0.0031308).pow(1 / 2.4) - 0.055
    return torch.where(srgb_linear <= 0.0031308, 12.92 * srgb_linear, curve)


def develop_numpy(linear_camera: np.ndarray, frame: RawFrame) -> np.ndarray:
    """:func:`develop` for ``(H, W, 3)`` float32 arrays; returns ``(H, W, 3)`` float32."""
    chw = torch.from_numpy(np.ascontiguousarray(linear_camera)).permute(2, 0, 1)
    out = develop(chw, frame.wb_gains, frame.cam_to_srgb)
    return out.permute(1, 2, 0).contiguous().numpy()


def apply_orientation(image: np.ndarray, flip: int) -> np.ndarray:
    """Rotate/mirror an ``(H, W, ...)`` image as LibRaw's ``flip`` code says.

    LibRaw (after dcraw) mirrors columns for bit 0, rows for bit 1, then transposes for bit 2.
    The one implementation is :func:`engine.io.orient_image`, shared with the embedded
    thumbnails, so a filmstrip thumbnail and the render always face the same way.
    """
    return orient_image(image, flip)
