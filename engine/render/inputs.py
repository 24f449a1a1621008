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
  it only has to learn what the demosaic gets wrong. A network whose card says
  ``base_below_black`` is given the demosaic of the mosaic with its noise below black kept
  (``below_black``, :func:`engine.render.demosaic_below_black`): the classical render's own
  pixels, which the renderer then reads back (:func:`demosaic_of_input`) for the detail it
  restores instead of demosaicking the frame a second time.

An X-Trans frame's packed planes hold samples by position, not colour
(:func:`engine.render.packing.pack_xtrans`); given its ``pattern``, the input also carries the
12 colour-masked planes (:func:`engine.render.packing.colour_planes`) before the demosaic,
which is then LibRaw's X-Trans interpolation of the same samples.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.io import demosaic as classical_demosaic
from engine.io import demosaic_below_black
from engine.models import COLOUR_PLANES, DEMOSAIC_PLANES
from engine.noise import NoiseLevel
from engine.render.packing import RGGB, colour_planes, unpack_bayer
from engine.render.tiling import (
    bordered_buffer,
    mirror_border,
    mirrors_in_place,
    pad_frame_border,
)


def demosaic_planes(
    packed: np.ndarray,
    pattern: np.ndarray | None = None,
    out: np.ndarray | None = None,
    origin: tuple[int, int] = (0, 0),
    below_black: bool = False,
) -> np.ndarray:
    """The classical demosaic of packed RGGB, at packed resolution.

    Args:
        packed: ``(4, h, w)`` float32 in [0, 1], RGGB geometry (:func:`pack_rggb`), or an
            X-Trans mosaic packed by position (:func:`~engine.render.packing.pack_xtrans`);
            with ``below_black``, a Bayer frame's unclipped planes (``pack_rggb(...,
            clip=False)``), whose noise below black the demosaic keeps down to
            ``-NOISE_FLOOR`` (:func:`engine.render.demosaic_below_black`).
        pattern: the X-Trans pattern of that mosaic's top-left pixel; ``None`` for RGGB.
        out: a ``(12, h, w)`` float32 array (or view) to write into instead of a new one.
        origin: where the unpacked mosaic lies in its file's mosaic (an X-Trans crop is
            demosaicked as the whole mosaic is, :func:`engine.render.demosaic`).

    Returns:
        ``(12, h, w)`` float32 in [0, 1] (``[-NOISE_FLOOR, 1]`` with ``below_black``; ``out``
        when given): plane ``3 * 0 + 2 * i + j`` is
        red at sensor pixel ``(2y + i, 2x + j)``, then green, then blue
        (``torch.nn.functional.pixel_unshuffle`` order, undone by ``pixel_shuffle(planes, 2)``).
    """
    cfa = RGGB if pattern is None else pattern
    mosaic = unpack_bayer(packed[:4], RGGB)  # back on the sensor grid
    if below_black:
        if pattern is not None:
            raise ValueError("the demosaic below black is for Bayer frames only")
        rgb = torch.from_numpy(demosaic_below_black(mosaic, cfa))  # (2h, 2w, 3)
    else:
        rgb = torch.from_numpy(classical_demosaic(mosaic, cfa, origin))
    h, w = rgb.shape[0] // 2, rgb.shape[1] // 2
    # (y, i, x, j, c) -> (c, i, j, y, x): pixel_unshuffle's order, written in one strided copy
    # by torch on every core (numpy's transpose took 4x as long at 12 MP) straight into its
    # place: a reshape first made a second copy (0.4 s at 12 MP).
    if out is None:
        out = np.empty((DEMOSAIC_PLANES, h, w), np.float32)
    target = torch.from_numpy(out).view(3, 2, 2, h, w)
    target.copy_(rgb.view(h, 2, w, 2, 3).permute(4, 1, 3, 0, 2))
    return out


def network_channels(
    packed: np.ndarray,
    ratio: float,
    noise: NoiseLevel | None = None,
    demosaic: bool = False,
    pattern: np.ndarray | None = None,
    binning: float | np.ndarray = 1.0,
    border: int = 0,
    multiple: int = 1,
    origin: tuple[int, int] = (0, 0),
    below_black: np.ndarray | None = None,
) -> np.ndarray:
    """A network's input: ``packed`` ``(4, h, w)``, then its noise map if ``noise`` is given
    (4 planes; ``binning``: :meth:`~engine.noise.NoiseLevel.sigma_map`'s), then for an
    X-Trans ``pattern`` the colour-masked planes (:func:`~engine.render.packing.colour_planes`,
    12), then its demosaic if ``demosaic``
    (12 planes, :func:`demosaic_planes`); float32, ``(4 | 8 | 16 | 20 | 32, h, w)``.

    With ``border`` or ``multiple``, the planes come already mirrored outwards as
    :func:`~engine.render.tiling.pad_frame_border` would (``(C, H, W)``, the frame at
    ``(border, border)``), built in their final place: at 12 MP the concatenation and the
    padding were two more 265 MB copies. ``origin``: :func:`demosaic_planes`'.
    ``below_black``: the same planes as ``packed`` with the noise below black kept, for the
    demosaic of a network that takes it that way (``demosaic_planes(below_black=True)``).
    """
    channels = 4 + 4 * (noise is not None) + COLOUR_PLANES * (pattern is not None)
    channels += DEMOSAIC_PLANES * demosaic
    height, width = packed.shape[1:]
    if not mirrors_in_place(height, width, border, multiple):
        # A frame narrower than its border: built whole, then padded (numpy reflects again).
        plain = network_channels(packed, ratio, noise, demosaic, pattern, binning,
                                 origin=origin, below_black=below_black)  # fmt: skip
        return pad_frame_border(plain, border, multiple)
    buffer, interior = bordered_buffer(channels, height, width, border, multiple)
    interior[:4] = packed
    planes = 4
    if noise is not None:
        interior[planes : planes + 4] = noise.sigma_map(packed, ratio, binning)
        planes += 4
    if pattern is not None:
        colour_planes(packed[:4], pattern, out=interior[planes : planes + COLOUR_PLANES])
        planes += COLOUR_PLANES
    if demosaic:
        source = packed if below_black is None else below_black
        demosaic_planes(source, pattern, out=interior[planes:], origin=origin,
                        below_black=below_black is not None)  # fmt: skip
    if buffer.shape == interior.shape:
        return buffer
    return mirror_border(buffer, border, height, width)


def demosaic_of_input(
    x: np.ndarray, border: int, height: int, width: int, spend_input: bool = False
) -> torch.Tensor:
    """The demosaic planes of a network input built by :func:`network_channels` with
    ``border`` (its last 12 planes, the frame at ``(border, border)``, ``height x width``
    packed pixels), back at full resolution: ``(3, 2 * height, 2 * width)`` float32 in the
    packed frame's RGGB geometry (mirror it back as the network's output); a new tensor, or
    with ``spend_input``, where ``x`` (C-contiguous) has at least 24 planes (X-Trans), written
    over its first planes, which must not be needed again, and a view of ``x``."""
    interior = x[-DEMOSAIC_PLANES:, border : border + height, border : border + width]
    planes = torch.from_numpy(interior)
    if spend_input and x.flags.c_contiguous and x.shape[0] >= 2 * DEMOSAIC_PLANES:
        # The first planes do not overlap the last 12: the picture goes over them instead of
        # into 146 MB more at 12 MP while the input is still held (an X-Trans render's peak).
        size = DEMOSAIC_PLANES * height * width
        out = torch.from_numpy(x).view(-1)[:size].view(3, height, 2, width, 2)
        out.copy_(planes.view(3, 2, 2, height, width).permute(0, 3, 1, 4, 2))
        return out.view(3, 2 * height, 2 * width)
    return torch.pixel_shuffle(planes[None], 2)[0].contiguous()
