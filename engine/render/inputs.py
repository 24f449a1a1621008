"""What a network is given: the packed mosaic and the extra planes its contract asks for.

One function, :func:`network_channels`, builds the input of every network from a packed RGGB
frame, for rendering, previews, training and fine-tuning alike, so a model sees in use exactly
what it was trained on:

* the 4 packed channels (R, G1, B, G2), amplified and clipped to [0, 1];
* with ``noise``, their 4-channel noise map (:meth:`engine.noise.NoiseLevel.sigma_map`);
* with ``demosaic``, the classical demosaic of those same channels (LibRaw's DHT, the
  classical path's own, :func:`engine.render.demosaic`) as 12 planes: full-resolution linear
  camera RGB, space-to-depth'ed back to packed resolution (``pixel_unshuffle(2)`` order), so
  the tiled runner cuts, pads and blends it like the mosaic itself. A network that starts from
  it only has to learn what the demosaic gets wrong.

An X-Trans frame's packed planes hold samples by position, not colour
(:func:`engine.render.packing.pack_xtrans`); given its ``pattern``, the input also carries the
12 colour-masked planes (:func:`engine.render.packing.colour_planes`) before the demosaic,
which is then LibRaw's X-Trans interpolation of the same samples.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias

from engine.noise import NoiseLevel
from engine.render.colour import demosaic as classical_demosaic
from engine.render.packing import RGGB, colour_planes, unpack_bayer

#: Planes :func:`demosaic_planes` adds: 3 colours x 2 x 2 sensor pixels per packed pixel.
DEMOSAIC_PLANES = 12


def demosaic_planes(
    packed: np.ndarray, pattern: np.ndarray | None = None, mosaic: np.ndarray | None = None
) -> np.ndarray:
    """The classical demosaic of packed RGGB, at packed resolution.

    Args:
        packed: ``(4, h, w)`` float32 in [0, 1], RGGB geometry (:func:`pack_rggb`), or an
            X-Trans mosaic packed by position (:func:`~engine.render.packing.pack_xtrans`).
        pattern: the X-Trans pattern of that mosaic's top-left pixel; ``None`` for RGGB.
        mosaic: ``packed`` already back on the sensor grid (``unpack_bayer(packed, RGGB)``),
            when the caller has it.

    Returns:
        ``(12, h, w)`` float32 in [0, 1]: plane ``3 * 0 + 2 * i + j`` is red at sensor pixel
        ``(2y + i, 2x + j)``, then green, then blue (``torch.nn.functional.pixel_unshuffle``
        order, undone by ``pixel_shuffle(planes, 2)``).
    """
    cfa = RGGB if pattern is None else pattern
    if mosaic is None:
        mosaic = unpack_bayer(packed[:4], RGGB)
    rgb = torch.from_numpy(classical_demosaic(mosaic, cfa))  # (2h, 2w, 3)
    # torch's unshuffle copies on every core; numpy's transpose took 4x as long on 12 MP.
    return F.pixel_unshuffle(rgb.permute(2, 0, 1)[None], 2)[0].numpy()


def network_channels(
    packed: np.ndarray,
    ratio: float,
    noise: NoiseLevel | None = None,
    demosaic: bool = False,
    pattern: np.ndarray | None = None,
    binning: float | np.ndarray = 1.0,
) -> np.ndarray:
    """A network's input: ``packed`` ``(4, h, w)``, then its noise map if ``noise`` is given
    (4 planes; ``binning``: :meth:`~engine.noise.NoiseLevel.sigma_map`'s), then for an
    X-Trans ``pattern`` the colour-masked planes (:func:`~engine.render.packing.colour_planes`,
    12), then its demosaic if ``demosaic``
    (12 planes, :func:`demosaic_planes`); float32, ``(4 | 8 | 16 | 20 | 32, h, w)``."""
    parts = [packed]
    if noise is not None:
        parts.append(noise.sigma_map(packed, ratio, binning))
    # Back on the sensor grid once, for both (a full-resolution copy at 12 MP).
    mosaic = unpack_bayer(packed[:4], RGGB) if pattern is not None or demosaic else None
    if pattern is not None:
        parts.append(colour_planes(packed, pattern, mosaic))
    if demosaic:
        parts.append(demosaic_planes(packed, pattern, mosaic))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
