"""Bayer packing after "Learning to See in the Dark" (Chen et al., CVPR 2018).

A ``(H, W)`` Bayer mosaic becomes a ``(4, H/2, W/2)`` tensor whose channels are always
R, G1, B, G2, whatever the sensor's layout: G1 is the green on the red pixel's row, G2 the green
on the blue pixel's row.

Channel order alone does not make layouts alike: in a BGGR mosaic the red sample sits at the
bottom right of its 2x2 block, in RGGB at the top left. Networks therefore get their input from
:func:`pack_rggb`, which mirrors the mosaic into RGGB geometry first (and says how to mirror the
output back), so one model serves RGGB, BGGR, GRBG and GBRG sensors with the same sub-pixel
geometry.

X-Trans mosaics (6x6 period) are packed by position alone (:func:`pack_xtrans`): the same
four planes of each 2x2 block, whatever their colours; which colour each sample is travels
beside them as colour-masked planes (:func:`colour_planes`), so a network is told, not left
to guess, the phase of the pattern (see :mod:`engine.models.fast`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

import numpy as np
import torch

from engine.errors import UnsupportedSensorError
from engine.io import BLUE, GREEN, RED, RawFrame, cfa_from_name, normalise_mosaic, packed_positions

#: The layout networks see every Bayer mosaic in (:func:`pack_rggb`); X-Trans samples are
#: packed in its geometry too (:func:`pack_xtrans`).
RGGB = cfa_from_name("RGGB")
#: Canonical packed channel order, as colour indices.
PACKED_COLOURS: tuple[int, int, int, int] = (RED, GREEN, BLUE, GREEN)


def pack_bayer(frame: RawFrame, ratio: float = 1.0, clip: bool = True) -> np.ndarray:
    """Pack a frame's mosaic for the network.

    Per-position black level is subtracted, the result divided by ``white - black``, multiplied
    by the exposure ``ratio`` and clipped to [0, 1] (as in SID, amplified highlights saturate).

    Returns:
        ``(4, H/2, W/2)`` float32, channels R, G1, B, G2, values in [0, 1] when ``clip``.
    """
    if frame.is_xtrans:
        raise UnsupportedSensorError("X-Trans frames are not packed into Bayer channels")
    pos = packed_positions(frame.cfa_pattern)
    h, w = frame.mosaic.shape
    out = np.empty((4, h // 2, w // 2), dtype=np.float32)
    for ch, (dy, dx) in enumerate(pos):
        plane = frame.mosaic[dy::2, dx::2].astype(np.float32)
        black = np.float32(frame.black_level[dy, dx])
        scale = np.float32(ratio) / (np.float32(frame.white_level) - black)
        plane -= black
        plane *= scale
        out[ch] = plane
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return out


def unpack_bayer(packed: np.ndarray, cfa_pattern: np.ndarray) -> np.ndarray:
    """Inverse of the channel shuffle in :func:`pack_bayer` (levels are not restored).

    Args:
        packed: ``(4, h, w)`` channels R, G1, B, G2.
        cfa_pattern: ``(2, 2)`` layout of the mosaic to produce.

    Returns:
        ``(2h, 2w)`` mosaic of the same dtype.
    """
    _, h, w = packed.shape
    mosaic = np.empty((2 * h, 2 * w), dtype=packed.dtype)
    for ch, (dy, dx) in enumerate(packed_positions(cfa_pattern)):
        mosaic[dy::2, dx::2] = packed[ch]
    return mosaic


#: ``(rows, columns)``: which axes of an image to mirror (see :func:`rggb_mirror`).
Mirror = tuple[bool, bool]
ImageT = TypeVar("ImageT", np.ndarray, torch.Tensor)


def rggb_mirror(cfa_pattern: np.ndarray) -> Mirror:
    """The mirror that gives an even-sized mosaic of this layout RGGB geometry.

    Mirroring an axis of even length swaps the parity of every index along it, so mirroring the
    rows when red sits on an odd row, and the columns when it sits on an odd column, moves red to
    the top left of every 2x2 block (and blue, diagonal to it, to the bottom right) without
    losing a pixel. Without this, a network upsampling packed planes cannot tell where inside
    each block a sample was taken and has to blur by a pixel to cover all four layouts.

    Args:
        cfa_pattern: ``(2, 2)`` colour indices (0 = R, 1 = G, 2 = B).

    Returns:
        ``(rows, columns)``; ``(False, False)`` for RGGB.
    """
    ry, rx = packed_positions(cfa_pattern)[0]
    return bool(ry), bool(rx)


def mirror_image(image: ImageT, mirror: Mirror) -> ImageT:
    """Mirror the last two axes (``rows``, ``columns``) of a ``(..., H, W)`` array or tensor.

    Its own inverse: the network's output goes back to the sensor's orientation through it.
    """
    rows, columns = mirror
    dims = [d for d, on in ((-2, rows), (-1, columns)) if on]
    if not dims:
        return image
    if isinstance(image, torch.Tensor):
        return torch.flip(image, dims)
    return np.ascontiguousarray(np.flip(image, axis=tuple(dims)))


def mirror_frame(frame: RawFrame, mirror: Mirror) -> RawFrame:
    """The frame with its mosaic, CFA pattern and black levels mirrored by ``mirror``."""
    if not any(mirror):
        return frame
    if frame.height % 2 or frame.width % 2:  # mirroring an odd axis keeps parity: crop first
        frame = frame.crop(0, 0, frame.height, frame.width)
    return replace(
        frame,
        mosaic=mirror_image(frame.mosaic, mirror),
        cfa_pattern=mirror_image(np.asarray(frame.cfa_pattern), mirror),
        black_level=mirror_image(np.asarray(frame.black_level), mirror),
    )


def pack_rggb(frame: RawFrame, ratio: float = 1.0, clip: bool = True) -> tuple[np.ndarray, Mirror]:
    """What the networks see: the frame mirrored into RGGB geometry, then :func:`pack_bayer`.

    Returns:
        ``(packed, mirror)``: ``(4, H/2, W/2)`` float32 (as :func:`pack_bayer`) and the mirror
        to apply to the network's ``(C, H, W)`` output (:func:`mirror_image`) to put it back on
        the frame's pixel grid.

    Examples:
        A 2 x 4 GRBG mosaic (green, red / blue, green) with black 0 and white 100: mirroring
        its columns puts red at the top left, so the packed planes are R, G1, B, G2 in RGGB
        geometry, read right to left.

        >>> import numpy as np
        >>> from engine.io import RawFrame, cfa_from_name
        >>> frame = RawFrame(
        ...     mosaic=np.array([[10, 20, 30, 40], [50, 60, 70, 80]], np.float32),
        ...     cfa_pattern=cfa_from_name("GRBG"), black_level=np.zeros((2, 2), np.float32),
        ...     white_level=100.0, wb_gains=np.ones(3, np.float32),
        ...     cam_to_srgb=np.eye(3, dtype=np.float32))
        >>> packed, mirror = pack_rggb(frame, ratio=2.0)
        >>> mirror
        (False, True)
        >>> packed[:, 0].astype(float).round(2).tolist()  # R, G1, B, G2; right block first
        [[0.8, 0.4], [0.6, 0.2], [1.0, 1.0], [1.0, 1.0]]
    """
    mirror = rggb_mirror(frame.cfa_pattern)
    return pack_bayer(mirror_frame(frame, mirror), ratio, clip), mirror


def pack_xtrans(frame: RawFrame, ratio: float = 1.0, clip: bool = True) -> np.ndarray:
    """Pack an X-Trans frame's mosaic by position: black-subtracted, normalised, amplified
    (:func:`normalise_mosaic`), then each 2x2 block's four samples as four planes in packed
    RGGB's geometry (:data:`RGGB`; an odd last row or column is dropped).

    Returns:
        ``(4, H // 2, W // 2)`` float32, in [0, 1] when ``clip``; the colours of the samples
        are the frame's ``cfa_pattern`` (:func:`colour_planes`). :func:`unpack_bayer` with
        :data:`RGGB` puts them back on the sensor grid.
    """
    return pack_xtrans_mosaic(normalise_mosaic(frame, ratio, clip))


def pack_xtrans_mosaic(mosaic: np.ndarray) -> np.ndarray:
    """``(H, W)`` -> ``(4, H // 2, W // 2)``: each 2x2 block's samples where packed RGGB keeps
    them (an odd last row or column is dropped)."""
    h, w = mosaic.shape[0] // 2 * 2, mosaic.shape[1] // 2 * 2
    return np.stack([mosaic[dy:h:2, dx:w:2] for dy, dx in packed_positions(RGGB)])


def colour_planes(
    packed: np.ndarray, pattern: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Each colour's samples of a positionally packed mosaic on their own planes.

    Args:
        packed: ``(4, h, w)`` in packed RGGB's geometry (:func:`pack_xtrans`).
        pattern: the CFA pattern of the mosaic's top-left pixel (``(6, 6)`` or ``(2, 2)``).
        out: a ``(12, h, w)`` float32 array (or view) to write into instead of a new one.

    Returns:
        ``(12, h, w)`` float32: plane ``4 * c + 2 * i + j`` holds colour ``c``'s samples at
        sensor pixel ``(2y + i, 2x + j)`` and 0 elsewhere (``pixel_unshuffle(2)`` order, as the
        demosaic planes).
    """
    _, h, w = packed.shape
    planes = np.zeros((12, h, w), np.float32) if out is None else out
    if out is not None:
        planes[...] = 0.0
    by_site = planes.reshape(3, 2, 2, h, w)
    # A site's colour repeats every period / 2 packed pixels: copy strided blocks, no masks.
    step = pattern.shape[0] // 2
    for k, (i, j) in enumerate(packed_positions(RGGB)):
        for y in range(step):
            for x in range(step):
                colour = int(
                    pattern[(2 * y + i) % pattern.shape[0], (2 * x + j) % pattern.shape[1]]
                )
                by_site[colour, i, j, y::step, x::step] = packed[k, y::step, x::step]
    return planes


def pack_for_network(
    frame: RawFrame, ratio: float = 1.0, clip: bool = True
) -> tuple[np.ndarray, Mirror]:
    """What a network's packed planes are for ``frame``: :func:`pack_rggb` for a Bayer frame,
    :func:`pack_xtrans` (never mirrored) for an X-Trans one.

    Returns:
        ``(packed, mirror)``: ``(4, H/2, W/2)`` float32 and the mirror to undo on the output.
    """
    if frame.is_xtrans:
        return pack_xtrans(frame, ratio, clip), (False, False)
    return pack_rggb(frame, ratio, clip)
