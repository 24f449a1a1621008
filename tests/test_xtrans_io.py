"""X-Trans files (issue 23, parts 1 and 3): 6x6 CFA DNGs written with the engine's own
writer read back by LibRaw and by ``read_raw`` with the same pattern, and LibRaw's X-Trans
demosaic of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rawpy

from engine.io import XTRANS_TILE, libraw_demosaic, read_raw, write_cfa_dng, xtrans_pattern
from tests.conftest import smooth_scene

#: Two phases of the tile (pictures starting at different offsets into it).
PHASES = ((0, 0), (1, 2))


def _mosaic(rgb: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    h, w, _ = rgb.shape
    index = np.tile(pattern, (h // 6 + 1, w // 6 + 1))[:h, :w]
    return np.take_along_axis(rgb, index[..., None].astype(np.intp), axis=2)[..., 0]


def test_the_tile_has_the_x_trans_shape() -> None:
    counts = np.bincount(XTRANS_TILE.reshape(-1), minlength=3)
    assert counts.tolist() == [8, 20, 8]  # 2.5x as many greens as reds or blues
    for block in (XTRANS_TILE[:3, :3], XTRANS_TILE[3:, 3:], XTRANS_TILE[:3, 3:]):
        assert set(block.reshape(-1).tolist()) == {0, 1, 2}  # every 3x3 sees every colour
    assert (xtrans_pattern(6, 12) == XTRANS_TILE).all()


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("size", [(61, 97), (96, 132)])
def test_libraw_reads_back_the_pattern(tmp_path: Path, phase, size) -> None:
    pattern = xtrans_pattern(*phase)
    h, w = size
    mosaic = (512 + _mosaic(smooth_scene(h, w), pattern) * 15000).astype(np.uint16)
    path = tmp_path / "xtrans.dng"
    write_cfa_dng(path, mosaic, pattern, black_level=512, white_level=16383)
    with rawpy.imread(str(path)) as raw:
        assert raw.raw_pattern.shape == (6, 6)
        colours = np.vectorize("RGBG".__getitem__)(raw.raw_pattern)
        assert (np.vectorize("RGB".index)(colours) == pattern).all()
        assert raw.raw_image_visible.shape == (h, w)
        assert (raw.raw_image_visible == mosaic).all()
    frame = read_raw(path)
    assert frame.cfa_name == "X-Trans" and frame.period == 6
    assert (frame.cfa_pattern == pattern).all() and frame.black_level.shape == (6, 6)
    assert frame.mosaic.shape == (h - h % 6, w - w % 6)  # whole periods only


@pytest.mark.parametrize("phase", PHASES)
def test_libraw_demosaics_x_trans(phase) -> None:
    # A smooth colour scene: LibRaw's X-Trans interpolation gives its colours back, at every
    # phase and at a size under its 512-pixel tile (grown for it and cut back).
    pattern = xtrans_pattern(*phase)
    scene = smooth_scene(150, 222, seed=4)
    mosaic = np.rint(_mosaic(scene, pattern) * 65535).astype(np.uint16)
    rgb = libraw_demosaic(mosaic, pattern).astype(np.float64) / 65535
    assert rgb.shape == (150, 222, 3)
    inner = (slice(8, -8), slice(8, -8))
    error = np.abs(rgb[inner] - scene[inner])
    assert error.mean() < 0.01 and np.percentile(error, 99) < 0.05
    # Each pixel keeps its own measured colour.
    at = np.tile(pattern, (26, 38))[:150, :222][inner]
    measured = np.take_along_axis(rgb[inner], at[..., None].astype(np.intp), axis=2)[..., 0]
    assert np.abs(measured - mosaic[inner] / 65535).max() < 2e-4


def test_a_bayer_name_still_works_and_bad_patterns_are_refused() -> None:
    mosaic = np.full((40, 40), 30000, np.uint16)
    assert libraw_demosaic(mosaic, "GRBG").shape == (40, 40, 3)
    with pytest.raises(ValueError, match="6x6"):
        libraw_demosaic(mosaic, np.zeros((3, 3), np.int8))
