"""Bayer packing after "Learning to See in the Dark" (Chen et al., CVPR 2018).

A ``(H, W)`` Bayer mosaic becomes a ``(4, H/2, W/2)`` tensor whose channels are always
R, G1, B, G2, whatever the sensor's layout: G1 is the green on the red pixel's row, G2 the green
on the blue pixel's row. One model therefore serves RGGB, BGGR, GRBG and GBRG sensors alike.
"""

from __future__ import annotations

import numpy as np

from engine.raw_io import BLUE, GREEN, RED, RawFrame

#: Canonical packed channel order, as colour indices.
PACKED_COLOURS: tuple[int, int, int, int] = (RED, GREEN, BLUE, GREEN)


def packed_positions(cfa_pattern: np.ndarray) -> list[tuple[int, int]]:
    """Offsets ``(dy, dx)`` inside the 2x2 CFA block of R, G1, B, G2, in that order.

    Args:
        cfa_pattern: ``(2, 2)`` colour indices (0 = R, 1 = G, 2 = B).
    """
    cfa = np.asarray(cfa_pattern)
    (ry, rx), (by, bx) = (tuple(np.argwhere(cfa == c)[0]) for c in (RED, BLUE))
    # Greens sit diagonally to each other; the one sharing the red's row is G1.
    g1 = (int(ry), int(1 - rx))
    g2 = (int(by), int(1 - bx))
    if cfa[g1] != GREEN or cfa[g2] != GREEN:
        raise ValueError(f"not a Bayer pattern: {cfa.tolist()}")
    return [(int(ry), int(rx)), g1, (int(by), int(bx)), g2]


def normalise_mosaic(frame: RawFrame, ratio: float = 1.0, clip: bool = True) -> np.ndarray:
    """Black-subtract, scale to [0, 1] of the sensor's range, amplify by ``ratio``.

    Returns:
        ``(H, W)`` float32; clipped to [0, 1] when ``clip``.
    """
    mosaic = frame.mosaic
    black = frame.black_map()
    scale = (np.float32(ratio) / (np.float32(frame.white_level) - black)).astype(np.float32)
    out = mosaic.astype(np.float32)
    out -= black
    out *= scale
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return out


def pack_bayer(frame: RawFrame, ratio: float = 1.0, clip: bool = True) -> np.ndarray:
    """Pack a frame's mosaic for the network.

    Per-position black level is subtracted, the result divided by ``white - black``, multiplied
    by the exposure ``ratio`` and clipped to [0, 1] (as in SID, amplified highlights saturate).

    Returns:
        ``(4, H/2, W/2)`` float32, channels R, G1, B, G2, values in [0, 1] when ``clip``.
    """
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
