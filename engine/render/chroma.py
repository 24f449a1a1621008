"""Colour noise and false colour out of a network's output, its luminance untouched.

At every ratio most of the default network's error against the truth is in the chroma, not
the luminance: at x1-x4 the demosaic's false colour along fine texture, which the network keeps
with the demosaic it starts from (and the restored detail is grey, so it adds none), and at
x16-x300 colour mottling. Raw developers smooth chroma for the same reason (Lightroom's colour
noise reduction, on by default; LibRaw's median passes; RawTherapee's false colour
suppression). Here each white-balanced channel's difference from the luminance is replaced by
a guided filter of it (He, Sun and Tang, 2010) with the luminance as the guide: in every
``(2r+1)``-pixel square the chroma is fitted as a linear function of the luminance, so a colour
edge that has a luminance edge stays sharp, and chroma that does not follow the luminance
(false colour, colour noise) is averaged away. The luminance (the mean of the balanced
channels) is exactly what it was, so the fine detail is kept.

Real colour can change without the luminance: red and blue stripes of one brightness, which
the fit alone turned to purple-grey. So what the fit does not explain is split in two. Its
pixel-scale part (what a 3x3 mean leaves) goes: a Bayer sensor samples colour at half its
resolution, so colour that changes from one pixel to the next is the demosaic's guess, its
false colour. Its coarser part is kept where its energy over the square stands above the
frame's noise (times :data:`CHROMA_NOISE_FACTOR`), with the same local Wiener weight as
:func:`~engine.render.restore_detail`'s: colour noise goes, painted stripes stay.

Measured on the held-out synthetic pairs with ``fast``'s weights (docs/chroma.md).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import torch

from engine.noise import NoiseLevel

#: Half the side of the squares the chroma is fitted in, output pixels.
CHROMA_RADIUS = 3
#: The guided filter's regulariser, in squared white-balanced linear units: below it a
#: square's luminance variance is too small for the chroma to follow; there it is averaged.
CHROMA_EPS = 1e-5
#: How many times the frame's noise variance (the input's, per pixel, of a balanced channel)
#: the coarse unexplained chroma must exceed over a square to be kept as real colour. Chosen
#: on held-out pairs and a real mural's stripes (docs/chroma.md).
CHROMA_NOISE_FACTOR = 0.25
#: Output pixels the filter reads on each side of a pixel (a region's extra context): the
#: fit's square, the square its coefficients are averaged over, the 3x3 mean of what it does
#: not explain, and the square over which that is measured.
CHROMA_REACH = 3 * CHROMA_RADIUS + 1
#: Rows filtered at a time, to keep the temporary planes small at 12 MP and more.
_BAND_ROWS = 256


def smooth_chroma(
    image: torch.Tensor,
    wb_gains: np.ndarray,
    level: NoiseLevel | None = None,
    ratio: float = 1.0,
    radius: int = CHROMA_RADIUS,
    eps: float = CHROMA_EPS,
) -> torch.Tensor:
    """Replace the chroma of ``image`` by its guided filter on the luminance where the noise
    explains what the luminance does not, in place.

    Args:
        image: ``(3, H, W)`` float32 linear camera RGB (a network's output, possibly with
            restored detail, so slightly outside [0, 1]); changed in place and returned.
        wb_gains: ``(3,)`` or ``(4,)`` the frame's white-balance multipliers (R, G, B first):
            chroma is measured in white-balanced camera RGB, where grey is ``R = G = B``.
        level: the frame's noise level: chroma the fit does not explain is kept where it
            stands above it (see the module docstring); ``None``: the fit everywhere.
        ratio: the amplification ``image`` was rendered at (for ``level``).
        radius: :data:`CHROMA_RADIUS`.
        eps: :data:`CHROMA_EPS`.

    Returns:
        ``image``; each pixel's white-balanced mean of the three channels is unchanged (to
        float32 rounding), and a pixel depends on the input within ``3 * radius + 1`` pixels
        (``2 * radius`` without ``level``).
    """
    out = image.numpy()
    height = out.shape[1]
    gains = np.asarray(wb_gains, np.float32)[:3]
    reach = 3 * radius + 1
    if not 0 <= reach <= _BAND_ROWS:
        raise ValueError(f"radius must be 0 to {(_BAND_ROWS - 1) // 3}, not {radius}")
    bands = [(top, min(height, top + _BAND_ROWS)) for top in range(0, height, _BAND_ROWS)]
    workers = max(1, min(torch.get_num_threads(), len(bands)))  # the process's compute threads
    above: np.ndarray | None = None  # the rows above a group as they were before its write

    def filtered(block: np.ndarray) -> np.ndarray:
        return _filter_block(block, gains, radius, eps, level, ratio)

    # Bands side by side (numpy and OpenCV let go of the GIL): 0.4 s instead of 0.7-1.1 s at
    # 12 MP on two cores.
    with ThreadPoolExecutor(workers, "chroma") as pool:
        for first in range(0, len(bands), workers):
            group = bands[first : first + workers]
            reads = [(max(0, top - reach), min(height, bottom + reach)) for top, bottom in group]
            blocks = [out[:, lo:hi].copy() for lo, hi in reads]  # none of the group written yet
            if above is not None:
                blocks[0][:, :reach] = above
            # Rows the next group reads above itself, saved before this group overwrites them.
            end = group[-1][1]
            above = out[:, end - reach : end].copy() if end < height else None
            results = pool.map(filtered, blocks)
            for (top, bottom), (lo, _), result in zip(group, reads, results, strict=True):
                out[:, top:bottom] = result[:, top - lo : bottom - lo]
    return image


def _filter_block(
    block: np.ndarray,
    gains: np.ndarray,
    radius: int,
    eps: float,
    level: NoiseLevel | None,
    ratio: float,
) -> np.ndarray:
    """:func:`smooth_chroma` of a ``(3, h, W)`` block, edges mirrored; a new array."""
    balanced = block * gains[:, None, None]
    allowance = None if level is None else _noise_allowance(block, gains, level, ratio, radius)
    luminance = balanced.mean(axis=0)
    mean_lum = _box(luminance, radius)
    var_lum = _box(luminance * luminance, radius)
    var_lum -= mean_lum * mean_lum
    np.maximum(var_lum, np.float32(0.0), out=var_lum)  # float rounding in flat bright squares
    var_lum += np.float32(eps)
    filtered = []
    # The three differences sum to zero and the filter is linear in them: two are filtered,
    # the third is minus their sum.
    for c in range(2):
        diff = balanced[c] - luminance
        mean_diff = _box(diff, radius)
        slope = _box(luminance * diff, radius)
        slope -= mean_lum * mean_diff
        slope /= var_lum
        mean_diff -= slope * mean_lum  # the intercept
        fitted = _box(slope, radius) * luminance + _box(mean_diff, radius)
        if allowance is not None:
            # What the fit does not explain, but its pixel-scale part: false colour.
            coarse = _box(np.subtract(diff, fitted, out=diff), 1)
            energy = _box(coarse * coarse, radius)
            # The local Wiener weight of that: 0 where the noise accounts for it, towards 1
            # where it stands far above.
            weight = np.subtract(energy, allowance, out=slope)
            np.maximum(weight, np.float32(0.0), out=weight)
            # The allowance is above 0, so the weight is already 0 wherever the energy is.
            np.divide(weight, energy, out=weight, where=energy > 0)
            fitted += weight * coarse
        filtered.append(fitted)
    filtered.append(-(filtered[0] + filtered[1]))
    for c in range(3):
        filtered[c] += luminance
        filtered[c] /= gains[c]
    return np.stack(filtered)


def _noise_allowance(
    block: np.ndarray, gains: np.ndarray, level: NoiseLevel, ratio: float, radius: int
) -> np.ndarray:
    """:data:`CHROMA_NOISE_FACTOR` times the mean over the square of the balanced channels'
    mean noise variance at each pixel's value. The variance is affine in the signal, so that
    mean is the variance at their ``gain**2``-weighted mean signal, times the mean ``gain**2``:
    one :meth:`~engine.noise.NoiseLevel.variance` instead of three."""
    squares = gains * gains
    signal = block[0] * squares[0]
    signal += block[1] * squares[1]
    signal += block[2] * squares[2]
    signal *= np.float32(1.0 / squares.sum())
    variance = level.variance(signal, ratio, out=signal)
    variance *= np.float32(CHROMA_NOISE_FACTOR * squares.sum() / 3.0)
    return _box(variance, radius)


def _box(plane: np.ndarray, radius: int) -> np.ndarray:
    side = 2 * radius + 1
    return cv2.boxFilter(plane, -1, (side, side), borderType=cv2.BORDER_REFLECT)
