"""Colour filter array patterns: the colour indices of one CFA period, as
:class:`~engine.io.raw.RawFrame` carries them (``cfa_pattern``), and what is read from them
(Bayer layouts by name, Fujifilm's X-Trans tile at any phase, where a Bayer block's colours
sit, a period tiled over a picture).
"""

from __future__ import annotations

import numpy as np

#: Colour indices used in :attr:`engine.io.raw.RawFrame.cfa_pattern`.
RED, GREEN, BLUE = 0, 1, 2

#: The four 2x2 Bayer layouts (greens on a diagonal), in the order synthetic data draws them.
BAYER_LAYOUTS = ("RGGB", "BGGR", "GRBG", "GBRG")

#: Fujifilm's X-Trans 6x6 colour filter tile (0 = R, 1 = G, 2 = B) as LibRaw stores it for the
#: whole sensor (``xtrans_abs``); a camera's picture starts somewhere inside it, so the
#: pattern of its top-left pixel is this tile rolled by the picture's offset
#: (:func:`xtrans_pattern`).
XTRANS_TILE = np.array(
    [[1, 1, 0, 1, 1, 2],
     [1, 1, 2, 1, 1, 0],
     [2, 0, 1, 0, 2, 1],
     [1, 1, 2, 1, 1, 0],
     [1, 1, 0, 1, 1, 2],
     [0, 2, 1, 2, 0, 1]], dtype=np.int8,
)  # fmt: skip


def xtrans_pattern(top: int = 0, left: int = 0) -> np.ndarray:
    """The X-Trans pattern of a picture starting ``top`` rows and ``left`` columns into
    :data:`XTRANS_TILE`: ``(6, 6)`` int8 colour indices."""
    return np.roll(XTRANS_TILE, (-top, -left), axis=(0, 1))


def cfa_pattern_of(cfa: str | np.ndarray) -> np.ndarray:
    """A Bayer layout's name (``"RGGB"``...) or a ``(2, 2)`` / ``(6, 6)`` array of colour
    indices (0 = R, 1 = G, 2 = B; every colour present) -> the pattern as int8.

    Raises:
        ValueError: anything else.
    """
    if isinstance(cfa, str):
        if cfa.upper() not in BAYER_LAYOUTS:
            raise ValueError(f"not a Bayer layout: {cfa!r} (use one of {', '.join(BAYER_LAYOUTS)})")
        return cfa_from_name(cfa)
    pattern = np.asarray(cfa)
    if pattern.shape not in ((2, 2), (6, 6)) or set(np.unique(pattern).tolist()) != {0, 1, 2}:
        raise ValueError(f"not a 2x2 or 6x6 CFA pattern of R, G and B: {pattern.tolist()}")
    return pattern.astype(np.int8)


def cfa_from_name(name: str) -> np.ndarray:
    """``"RGGB"`` -> ``[[0, 1], [1, 2]]``."""
    name = name.upper()
    if len(name) != 4 or set(name) - set("RGB"):
        raise ValueError(f"not a 2x2 Bayer layout: {name!r}")
    return np.array(["RGB".index(c) for c in name], dtype=np.int8).reshape(2, 2)


def tile_pattern(pattern: np.ndarray, height: int, width: int) -> np.ndarray:
    """A per-position array of one CFA period (colour indices, black levels), ``(n, n)``,
    repeated over ``height`` x ``width`` pixels from the top-left: ``(height, width)``."""
    n_rows, n_cols = np.shape(pattern)
    tiles = (-(-height // n_rows), -(-width // n_cols))
    return np.tile(np.asarray(pattern), tiles)[:height, :width]


def packed_positions(cfa_pattern: np.ndarray) -> list[tuple[int, int]]:
    """Offsets ``(dy, dx)`` inside the 2x2 CFA block of R, G1, B, G2, in that order.

    Args:
        cfa_pattern: ``(2, 2)`` colour indices (0 = R, 1 = G, 2 = B).
    """
    cfa = np.asarray(cfa_pattern)
    if cfa.shape != (2, 2):
        raise ValueError(f"not a Bayer pattern (a {cfa.shape[0]}x{cfa.shape[-1]} CFA tile)")
    (ry, rx), (by, bx) = (tuple(np.argwhere(cfa == c)[0]) for c in (RED, BLUE))
    # Greens sit diagonally to each other; the one sharing the red's row is G1.
    g1 = (int(ry), int(1 - rx))
    g2 = (int(by), int(1 - bx))
    if cfa[g1] != GREEN or cfa[g2] != GREEN:
        raise ValueError(f"not a Bayer pattern: {cfa.tolist()}")
    return [(int(ry), int(rx)), g1, (int(by), int(bx)), g2]


def is_bayer_pattern(pattern: np.ndarray) -> bool:
    """A 2x2 tile with one red, two greens and one blue."""
    values = sorted(pattern.reshape(-1).tolist())
    return pattern.shape == (2, 2) and values == [0, 1, 1, 2]


def is_xtrans_pattern(pattern: np.ndarray) -> bool:
    """A 6x6 tile with X-Trans's counts (8 red, 20 green, 8 blue) and every colour in each of
    its four 3x3 quarters (what its preview bins and highlight map rely on)."""
    if pattern.shape != (6, 6):
        return False
    if np.bincount(pattern.reshape(-1), minlength=3).tolist() != [8, 20, 8]:
        return False
    quarters = (pattern[:3, :3], pattern[:3, 3:], pattern[3:, :3], pattern[3:, 3:])
    return all(len(set(q.reshape(-1).tolist())) == 3 for q in quarters)
