"""Synthetic RAW files for benchmarks and smoke tests (no downloads, deterministic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.io.cfa import cfa_from_name, tile_pattern
from engine.io.dng import write_cfa_dng

#: The Sony A7S2 sensor size SID used (4256 x 2848, 12.1 MP).
SONY_12MP = (2848, 4256)


def synthetic_scene(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like linear scene: smooth gradients, soft blobs and hard-edged shapes.

    Returns:
        ``(height, width, 3)`` float32 in [0, 1].
    """
    rng = np.random.default_rng(seed)
    # Build at 1/8 scale and upsample: cheap for 12 MP and still smooth where it should be.
    h8, w8 = max(height // 8, 2), max(width // 8, 2)
    yy, xx = np.mgrid[0:h8, 0:w8].astype(np.float32)
    yy /= h8 - 1
    xx /= w8 - 1
    small = np.empty((h8, w8, 3), np.float32)
    for c in range(3):
        a, b = rng.uniform(-0.2, 0.2, 2)
        small[..., c] = 0.25 + a * xx + b * yy
    for _ in range(24):
        cy, cx, radius = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.02, 0.2)
        colour = rng.uniform(-0.2, 0.5, 3).astype(np.float32)
        mask = ((yy - cy) ** 2 + (xx - cx) ** 2) < radius**2
        small[mask] += colour * 0.5
    import cv2

    big = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(big, 0.0, 1.0)


def write_synthetic_dng(
    path: str | Path,
    height: int = SONY_12MP[0],
    width: int = SONY_12MP[1],
    cfa: str = "RGGB",
    ratio: float = 100.0,
    black: int = 512,
    white: int = 16383,
    read_noise: float = 3.0,
    gain: float = 2.0,
    seed: int = 0,
) -> Path:
    """Write a dark, noisy Bayer DNG of :func:`synthetic_scene` darkened by ``ratio``."""
    rng = np.random.default_rng(seed)
    scene = synthetic_scene(height, width, seed)
    pattern = cfa_from_name(cfa)
    idx = tile_pattern(pattern, height, width)
    mosaic = np.take_along_axis(scene, idx[..., None].astype(np.intp), axis=2)[..., 0]
    electrons = mosaic * ((white - black) / ratio / gain)
    dn = rng.poisson(electrons).astype(np.float32) * gain
    dn += rng.normal(0.0, read_noise, dn.shape).astype(np.float32) + black
    out = np.clip(np.rint(dn), 0, white).astype(np.uint16)
    path = Path(path)
    write_cfa_dng(path, out, cfa=cfa, black_level=black, white_level=white,
                  wb_gains=(2.0, 1.0, 1.6))  # fmt: skip
    return path
