"""The picture a file defines: LibRaw's active area and a DNG's default crop, under every
orientation and CFA phase, checked against rawpy/LibRaw's own reading of the same files."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rawpy

from engine.errors import UnsupportedSensorError
from engine.io import (
    DngFraming,
    ExportOptions,
    cfa_from_name,
    orient_rect,
    read_dng_framing,
    read_raw,
    unorient_rect,
    write_cfa_dng,
)
from engine.render import Enhancer, preview_frame
from engine.train import PairFiles, load_pair
from tests.conftest import LAYOUTS, mosaic_from_rgb

BLACK, WHITE = 64, 4095
#: ``(stored height, width, ActiveArea, DefaultCrop)``: odd crop offsets and sizes, an active
#: area with masked borders, and a crop flush with the far edges.
CASES = {
    "odd crop": (70, 100, None, (3, 5, 41, 71)),
    "active area + odd crop": (70, 100, (4, 6, 60, 88), (1, 3, 51, 77)),
    "crop to the far edge": (64, 96, (2, 2, 60, 92), (7, 9, 53, 83)),
}


def _write(path: Path, cfa: str, case: str, orientation: int = 1, **framing: object) -> Path:
    """A DNG of random 3 x 3 colour blocks (a scene whose misplacement by even a pixel shows),
    with the case's framing."""
    height, width, active, crop = CASES[case]
    rng = np.random.default_rng(len(case))
    blocks = rng.uniform(0.1, 0.9, (height // 3 + 1, width // 3 + 1, 3)).astype(np.float32)
    rgb = np.repeat(np.repeat(blocks, 3, axis=0), 3, axis=1)[:height, :width]
    mosaic = BLACK + mosaic_from_rgb(rgb, cfa) * (WHITE - BLACK)
    write_cfa_dng(path, np.rint(mosaic).astype(np.uint16), cfa, black_level=BLACK,
                  white_level=WHITE, orientation=orientation,
                  framing=DngFraming(active_area=active, crop=crop, **framing))  # fmt: skip
    return path


@pytest.mark.parametrize(("cfa", "case"), itertools.product(LAYOUTS, CASES))
def test_frame_is_the_active_area_and_the_crop_is_exact(
    tmp_path: Path, cfa: str, case: str
) -> None:
    path = _write(tmp_path / "f.dng", cfa, case)
    frame = read_raw(path)
    _, _, active, crop = CASES[case]
    with rawpy.imread(str(path)) as raw:
        visible = raw.raw_image_visible.copy()  # LibRaw's buffers go with the handle
        sizes = raw.sizes
        colours = raw.raw_colors_visible.copy()
        developed = raw.postprocess().shape[:2]
        # LibRaw's own crop: whole CFA periods, in stored-image coordinates.
        libraw_crop = (sizes.crop_top_margin - sizes.top_margin,
                       sizes.crop_left_margin - sizes.left_margin)  # fmt: skip
    # The mosaic is LibRaw's active area (cut to whole CFA periods), the size it develops.
    height, width = CASES[case][:2]
    assert visible.shape == (active[2:] if active else (height, width))
    assert read_dng_framing(path) == DngFraming(active_area=active, crop=crop)
    assert frame.mosaic.shape == (visible.shape[0] // 2 * 2, visible.shape[1] // 2 * 2)
    assert developed == visible.shape
    np.testing.assert_array_equal(frame.mosaic, visible[: frame.height, : frame.width])
    # The default crop is the tags' exactly; LibRaw's rounds the origin to the CFA period.
    assert frame.default_crop == crop
    assert all(0 <= lib - ours <= 1 for lib, ours in zip(libraw_crop, crop[:2], strict=True))
    # The picture alone keeps the colour of every photosite: the CFA phase follows an odd crop.
    picture = frame.visible()
    top, left = crop[:2]
    assert picture.height == crop[2] // 2 * 2 and picture.width == crop[3] // 2 * 2
    expected = colours[top : top + 2, left : left + 2]
    assert [["RGBG"[c] for c in row] for row in expected] == [
        ["RGB"[c] for c in row] for row in picture.cfa_pattern
    ]
    np.testing.assert_array_equal(picture.mosaic, visible[top : top + picture.height,
                                                          left : left + picture.width])  # fmt: skip


@pytest.mark.parametrize("orientation", range(1, 9))
def test_render_is_the_crop_oriented(tmp_path: Path, orientation: int) -> None:
    """The export is the default crop, cut on the sensor grid, then oriented: the same pixels
    as LibRaw's own oriented development of the whole active area, cut where the crop lands."""
    path = _write(tmp_path / "o.dng", "GRBG", "active area + odd crop", orientation)
    frame = read_raw(path)
    with rawpy.imread(str(path)) as raw:
        assert frame.orientation == raw.sizes.flip
        libraw = raw.postprocess(output_bps=8, no_auto_bright=True, gamma=(1, 1)).astype(float)
    crop = frame.default_crop
    assert crop is not None
    rendered = Enhancer("none", device="cpu").render(frame, 1.0)
    oriented = orient_rect((0, 0, crop[2], crop[3]), crop[2], crop[3], frame.orientation)
    assert rendered.srgb.shape[:2] == oriented[2:]
    # Same scene as cropping LibRaw's own oriented development of the whole active area: of
    # that cut and the ones a pixel off in any direction, ours matches the right one best.
    h, w = frame.height, frame.width
    where = orient_rect(crop, h, w, frame.orientation)
    ours = rendered.srgb.mean(axis=2).ravel()

    def match(dy: int, dx: int) -> float:
        top, left = where[0] + dy, where[1] + dx
        cut = libraw[top : top + where[2], left : left + where[3]].mean(axis=2)
        assert cut.shape == rendered.srgb.shape[:2]
        return float(np.corrcoef(ours, cut.ravel())[0, 1])

    scores = {(dy, dx): match(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    assert max(scores, key=scores.__getitem__) == (0, 0), scores
    assert scores[(0, 0)] > 0.6
    assert unorient_rect(where, h, w, frame.orientation) == crop


def test_linear_dng_export_says_where_the_picture_is(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.dng", "BGGR", "odd crop", orientation=6)
    frame = read_raw(path)
    rendered = Enhancer("none", device="cpu").render(frame, 1.0)
    out = tmp_path / "out.dng"
    from engine.io import write_rendered

    write_rendered(rendered, out, ExportOptions(fmt="dng"), exif=frame.exif)
    framing = read_dng_framing(out)
    assert framing is not None and framing.crop == rendered.linear_crop
    crop = frame.default_crop
    assert crop is not None
    # Written upright (Orientation 1): the crop turned with the pixels.
    assert framing.crop == orient_rect(crop, frame.height, frame.width, frame.orientation)
    with rawpy.imread(str(out)) as raw:
        assert raw.raw_image.shape[:2] == rendered.linear.shape[:2]
    # The JPEG is the picture only.
    jpeg = write_rendered(rendered, tmp_path / "out.jpg", ExportOptions())
    from PIL import Image

    with Image.open(jpeg) as image:
        assert image.size == (crop[2], crop[3])  # transposed by orientation 6


def test_non_square_pixels_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "wide.dng", "RGGB", "odd crop", scale=(2.0, 1.0))
    with pytest.raises(UnsupportedSensorError, match="non-square pixels") as info:
        read_raw(path)
    assert "\n" not in str(info.value)


def test_preview_regions_are_in_picture_coordinates(tmp_path: Path) -> None:
    frame = read_raw(_write(tmp_path / "p.dng", "GBRG", "active area + odd crop"))
    crop = frame.default_crop
    assert crop is not None
    enhancer = Enhancer("none", device="cpu")
    whole = enhancer.render_preview(frame, 1.0, max_side=4096)
    assert whole.srgb.shape[:2] == crop[2:]
    region = (3, 5, 21, 33)  # odd: cut on whole CFA periods, then exactly
    part = enhancer.render_preview(frame, 1.0, max_side=4096, region=region)
    assert part.srgb.shape[:2] == region[2:]
    assert part.covers == region
    # At 100 % (max_side = the region's side) an odd region is not binned for its extra
    # edge pixels: one output pixel per sensor pixel.
    actual = enhancer.render_preview(frame, 1.0, max_side=max(region[2:]), region=region)
    assert actual.srgb.shape[:2] == region[2:]
    sub, picture = preview_frame(frame, region)
    assert picture == region
    assert sub.default_crop is not None and sub.visible_rect[2:] == region[2:]
    # Binned previews stay within a pixel of the region's size.
    small = enhancer.render_preview(frame, 1.0, max_side=16)
    h, w = small.srgb.shape[:2]
    assert abs(h / w - crop[2] / crop[3]) < 0.1
    assert small.covers is not None and small.covers[:2] == (0, 0)
    # One binning factor for both axes: the rows and columns covered per output pixel agree.
    assert abs(small.covers[2] / h - small.covers[3] / w) < 0.5


def test_training_pairs_use_the_picture(tmp_path: Path) -> None:
    from engine.io import ExifInfo

    files = []
    for name, seconds in (("short.dng", 0.01), ("long.dng", 1.0)):
        path = _write(tmp_path / name, "RGGB", "odd crop")
        frame = read_raw(path)
        write_cfa_dng(path, frame.mosaic, "RGGB", black_level=BLACK, white_level=WHITE,
                      exif=ExifInfo(make="Sony", model="A", exposure_time=seconds, iso=100),
                      framing=DngFraming(crop=CASES["odd crop"][3]))  # fmt: skip
        files.append(path)
    pair = load_pair(PairFiles(files[0], files[1]))
    crop = CASES["odd crop"][3]
    assert pair.dark.mosaic.shape == (crop[2] // 2 * 2, crop[3] // 2 * 2)
    assert pair.target.shape[:2] == pair.dark.mosaic.shape
    assert pair.dark.default_crop is None
    assert pair.dark.cfa_pattern.tolist() == np.roll(cfa_from_name("RGGB"), (-1, -1),
                                                     axis=(0, 1)).tolist()  # fmt: skip


def test_auto_ratio_looks_at_the_picture_only(tmp_path: Path) -> None:
    """A black stripe outside the default crop must not make Auto brighten the picture."""
    from engine.render import estimate_ratio

    path = _write(tmp_path / "a.dng", "RGGB", "odd crop")
    frame = read_raw(path)
    dark = BLACK + (frame.mosaic.astype(np.float32) - BLACK) / 50  # a dark exposure
    stored = np.rint(dark).astype(np.uint16)
    stored[:, frame.width // 2 :] = BLACK  # half the active area black, all outside the crop
    crop = (3, 5, 41, frame.width // 2 - 5)
    write_cfa_dng(path, stored, "RGGB", black_level=BLACK, white_level=WHITE,
                  framing=DngFraming(crop=crop))  # fmt: skip
    cropped = read_raw(path)
    assert estimate_ratio(cropped) == pytest.approx(estimate_ratio(cropped.visible()))
    whole = cropped.crop(0, 0, cropped.height, cropped.width)
    assert estimate_ratio(replace(whole, default_crop=None)) > 1.5 * estimate_ratio(cropped)
