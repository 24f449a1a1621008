"""LibRaw's DHT and X-Trans demosaics, run deterministically in row bands.

With its own OpenMP threads LibRaw refined rows near a thread's boundary from neighbours
another thread was rewriting: the same mosaic came out differently from run to run, and a crop
differed from the whole frame. One OpenMP thread per band makes a pixel depend on its
neighbourhood alone, so any number of bands gives the same picture.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import rawpy

from engine.io import libraw
from engine.io.cfa import xtrans_pattern
from engine.io.libraw import (
    BAND_MARGIN,
    XTRANS_BAND_LEAD,
    XTRANS_TILE_STEP,
    demosaic_bands,
    libraw_demosaic,
    xtrans_bands,
)
from tests.conftest import LAYOUTS


def _noisy_mosaic(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Edges, gradients and noise: every DHT direction decision and hot-pixel check fires."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    scene = 0.3 + 0.25 * np.sin(x / 7.0) * np.cos(y / 11.0) + 0.3 * ((x // 40 + y // 30) % 2)
    scene += rng.normal(0.0, 0.05, scene.shape)
    return np.clip(scene * 65535, 0, 65535).astype(np.uint16)


def test_bands_cover_the_rows_on_even_cuts() -> None:
    assert demosaic_bands(100, 4) == [(0, 100)]  # too short for a second band
    bands = demosaic_bands(2848, 3)
    assert bands[0][0] == 0 and bands[-1][1] == 2848 and len(bands) == 3
    assert all(a[1] == b[0] and a[1] % 2 == 0 for a, b in itertools.pairwise(bands))


@pytest.mark.parametrize("cfa", LAYOUTS)
def test_any_number_of_bands_gives_the_same_picture(monkeypatch, cfa) -> None:
    monkeypatch.setattr(libraw, "MIN_BAND_ROWS", 48)  # several bands on a small mosaic
    mosaic = _noisy_mosaic(301, 157, seed=LAYOUTS.index(cfa))
    one = libraw_demosaic(mosaic, cfa, workers=1)
    for workers in (2, 3, 6):
        assert len(demosaic_bands(301, workers)) == workers
        np.testing.assert_array_equal(libraw_demosaic(mosaic, cfa, workers=workers), one)


def test_a_crop_with_the_margin_is_the_whole_frame_s_rows(monkeypatch) -> None:
    mosaic = _noisy_mosaic(400, 120, seed=7)
    whole = libraw_demosaic(mosaic, "GRBG", workers=1)
    top, bottom = 150, 260  # even, as the CFA period requires
    crop = libraw_demosaic(mosaic[top - BAND_MARGIN : bottom + BAND_MARGIN], "GRBG", workers=1)
    np.testing.assert_array_equal(crop[BAND_MARGIN:-BAND_MARGIN], whole[top:bottom])


@pytest.mark.skipif(not rawpy.flags.get("OPENMP"), reason="this LibRaw has no OpenMP")
def test_band_threads_run_openmp_alone_and_leave_the_caller_as_it_was() -> None:
    # The races need two threads and show on a fraction of 12 MP runs (15 rows of 2848 on
    # this machine), too rarely on a test-sized mosaic to catch; the thread count is what
    # decides them.
    runtimes = libraw.openmp_runtimes()
    assert runtimes  # rawpy's bundled runtime at least
    before = [runtime.omp_get_max_threads() for runtime in runtimes]
    with ThreadPoolExecutor(1, initializer=libraw._one_openmp_thread) as pool:
        inside = pool.submit(lambda: [rt.omp_get_max_threads() for rt in runtimes]).result()
    assert inside == [1] * len(runtimes)
    assert [runtime.omp_get_max_threads() for runtime in runtimes] == before


def test_xtrans_bands_start_where_libraw_tiles_start() -> None:
    assert xtrans_bands(1007, 4) == [(0, 1007)]  # a second band would read under 512 lines
    for length, workers in ((1008, 2), (2844, 2), (4160, 3), (4160, 8)):
        bands = xtrans_bands(length, workers)
        assert bands[0][0] == 0 and bands[-1][1] == length and len(bands) == workers
        for (_, cut), after in itertools.pairwise(bands):
            assert cut == after[0] and (cut - XTRANS_BAND_LEAD) % XTRANS_TILE_STEP == 0
        assert length - (bands[-1][0] - XTRANS_BAND_LEAD) >= 512


@pytest.mark.parametrize(("height", "width"), [(1100, 1100), (520, 1100)])
def test_xtrans_bands_give_the_one_band_picture(height: int, width: int) -> None:
    """A LibRaw X-Trans tile reads its overlap from what the tile before it wrote; bands read
    from the whole picture's tile starts (rows, or columns for a wide picture), on any phase of
    the pattern, with tiles meeting across the band too, reproduce it exactly (read from
    elsewhere, pixels differed by up to 3,000/65535), and do so run after run."""
    mosaic = _noisy_mosaic(height, width, seed=3)
    pattern = xtrans_pattern()
    one = libraw_demosaic(mosaic, pattern, workers=1)
    for workers in (2, 3):
        np.testing.assert_array_equal(libraw_demosaic(mosaic, pattern, workers=workers), one)
    np.testing.assert_array_equal(libraw_demosaic(mosaic, pattern, workers=2), one)


def test_an_xtrans_cut_with_its_origin_is_the_whole_mosaic_s_pixels() -> None:
    """Demosaicked with its ``origin``, a cut lies on the whole mosaic's LibRaw tiles: its
    pixels are the whole mosaic's, but for :data:`XTRANS_BAND_LEAD` lines at a side where the
    cut is not the mosaic's own edge. Short cuts (under LibRaw's 512 lines) and cuts at the far
    edges too."""
    size = 1100
    mosaic, pattern = _noisy_mosaic(size, size, seed=5), xtrans_pattern()
    whole = libraw_demosaic(mosaic, pattern)
    lead = XTRANS_BAND_LEAD
    cuts = [(402, 420, 660, 600), (96, 900, 700, 200), (702, 6, 398, 300), (0, 0, 300, size),
            (992, 100, 108, 400), (96, 1000, 400, 100)]  # fmt: skip
    for top, left, h, w in cuts:
        cut_pattern = np.roll(pattern, (-(top % 6), -(left % 6)), axis=(0, 1))
        got = libraw_demosaic(mosaic[top : top + h, left : left + w], cut_pattern,
                              origin=(top, left))  # fmt: skip
        t0, l0 = (0 if top == 0 else lead), (0 if left == 0 else lead)
        t1, l1 = (h if top + h == size else h - lead), (w if left + w == size else w - lead)
        expected = whole[top + t0 : top + t1, left + l0 : left + l1]
        np.testing.assert_array_equal(got[t0:t1, l0:l1], expected)
