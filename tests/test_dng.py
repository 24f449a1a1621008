"""engine.io.dng: DNG files written with tifffile must read back exactly through rawpy/LibRaw."""

from __future__ import annotations

import time
from pathlib import Path

import exifread
import numpy as np
import pytest
import rawpy
import tifffile

from engine.io import XYZ_TO_SRGB, ExifInfo, cam_to_srgb_from_xyz, dng, read_raw
from engine.io.dng import DEFAULT_XYZ_TO_CAM, write_cfa_dng, write_linear_dng

LAYOUTS = ("RGGB", "BGGR", "GRBG", "GBRG")
EXIF = ExifInfo(
    make="Canon",
    model="Canon EOS R6",
    lens="RF24-105mm F4 L IS USM",
    iso=3200,
    exposure_time=1 / 125,
    f_number=2.8,
    focal_length=50.0,
    datetime="2024:01:02 03:04:05",
)
# A deliberately unusual matrix, so a match cannot come from a LibRaw table.
XYZ_TO_CAM = np.array([[0.9, -0.3, -0.1], [-0.4, 1.25, 0.2], [-0.05, 0.15, 0.7]])


def random_mosaic(height: int, width: int, low: int, high: int, seed: int = 0) -> np.ndarray:
    """(height, width) uint16 with values in [low, high]."""
    rng = np.random.default_rng(seed)
    return rng.integers(low, high, (height, width), endpoint=True).astype(np.uint16)


def layout_from_rawpy(raw: rawpy.RawPy) -> str:
    """rawpy's raw_pattern + color_desc ("RGBG": index 3 is the second green) -> "RGGB" etc."""
    desc = raw.color_desc.decode()
    return "".join(desc[i] for i in np.asarray(raw.raw_pattern).reshape(-1))


@pytest.mark.parametrize("cfa", LAYOUTS)
@pytest.mark.parametrize(
    ("size", "black", "white"),
    [
        ((22, 22), [510, 512, 514, 511], 4095),  # LibRaw's minimum size, 12-bit
        ((23, 37), [1020, 1000, 1010, 990], 16383),  # odd sizes, 14-bit
        ((40, 30), 0, 65535),  # full 16-bit data, scalar black
        ((32, 48), 2048, 65535),
    ],
)
def test_cfa_dng_reads_back_in_rawpy(
    tmp_path: Path, cfa: str, size: tuple[int, int], black: int | list[int], white: int
) -> None:
    blacks = np.broadcast_to(np.asarray(black), (4,)).reshape(2, 2)
    mosaic = random_mosaic(*size, low=int(blacks.min()), high=white)
    gains = (2.1, 1.0, 1.45)
    path = tmp_path / f"{cfa}.dng"
    write_cfa_dng(
        path, mosaic, cfa=cfa, black_level=black, white_level=white, wb_gains=gains,
        xyz_to_cam=XYZ_TO_CAM,
    )  # fmt: skip
    with rawpy.imread(str(path)) as raw:
        assert raw.raw_type == rawpy.RawType.Flat
        assert layout_from_rawpy(raw) == cfa
        # black_level_per_channel is per colour index; look each CFA position's index up.
        per_channel = np.asarray(raw.black_level_per_channel)
        np.testing.assert_array_equal(per_channel[np.asarray(raw.raw_pattern)], blacks)
        assert raw.white_level == white
        wb = np.asarray(raw.camera_whitebalance[:3], dtype=np.float64)
        np.testing.assert_allclose(wb / wb[1], np.asarray(gains) / gains[1], rtol=1e-5)
        # LibRaw turns ColorMatrix1 into camera->sRGB the dcraw way (see engine.io.dng docs).
        np.testing.assert_allclose(
            np.asarray(raw.color_matrix)[:3, :3], cam_to_srgb_from_xyz(XYZ_TO_CAM), atol=1e-4
        )
        visible = raw.raw_image_visible
        assert visible.dtype == np.uint16
        np.testing.assert_array_equal(visible, mosaic)


@pytest.mark.parametrize("cfa", LAYOUTS)
def test_read_raw_on_written_dng(tmp_path: Path, cfa: str) -> None:
    mosaic = random_mosaic(30, 44, 500, 4095, seed=3)
    path = tmp_path / "x.dng"
    write_cfa_dng(
        path, mosaic, cfa=cfa, black_level=[510, 512, 514, 511], white_level=4095,
        wb_gains=(1.9, 1.0, 1.7), xyz_to_cam=XYZ_TO_CAM, exif=EXIF,
    )  # fmt: skip
    frame = read_raw(path)
    assert frame.cfa_name == cfa
    np.testing.assert_array_equal(frame.black_level, [[510, 512], [514, 511]])
    assert frame.white_level == 4095
    np.testing.assert_allclose(frame.wb_gains, [1.9, 1.0, 1.7], rtol=1e-5)
    np.testing.assert_allclose(frame.cam_to_srgb, cam_to_srgb_from_xyz(XYZ_TO_CAM), atol=1e-4)
    np.testing.assert_array_equal(frame.mosaic, mosaic[:30, :44])
    assert frame.orientation == 0
    ex = frame.exif
    assert (ex.make, ex.model) == ("Canon", "Canon EOS R6")
    assert ex.iso == 3200
    assert ex.exposure_time == pytest.approx(1 / 125, rel=1e-6)
    assert ex.f_number == pytest.approx(2.8, rel=1e-6)
    assert ex.focal_length == pytest.approx(50.0)
    assert ex.lens == "RF24-105mm F4 L IS USM"
    assert ex.datetime == "2024:01:02 03:04:05"


def test_defaults_make_a_readable_file(tmp_path: Path) -> None:
    mosaic = random_mosaic(24, 26, 0, 65535)
    path = tmp_path / "d.dng"
    write_cfa_dng(path, mosaic)
    with rawpy.imread(str(path)) as raw:
        assert layout_from_rawpy(raw) == "RGGB"
        assert list(raw.black_level_per_channel) == [0, 0, 0, 0]
        assert raw.white_level == 65535
        np.testing.assert_allclose(
            np.asarray(raw.color_matrix)[:3, :3],
            cam_to_srgb_from_xyz(DEFAULT_XYZ_TO_CAM),
            atol=1e-4,
        )
        assert raw.sizes.flip == 0
    frame = read_raw(path)
    assert (frame.exif.make, frame.exif.model) == ("Darkroom", "Synthetic")
    assert frame.exif.iso is None and frame.exif.exposure_time is None


def test_make_model_arguments_and_odd_size_read_raw(tmp_path: Path) -> None:
    path = tmp_path / "m.dng"
    write_cfa_dng(path, random_mosaic(25, 31, 0, 1000), make="Acme", model="Nightcam 1")
    frame = read_raw(path)
    assert (frame.exif.make, frame.exif.model) == ("Acme", "Nightcam 1")
    assert frame.mosaic.shape == (24, 30)  # read_raw keeps whole CFA periods only


@pytest.mark.parametrize(("orientation", "flip"), [(1, 0), (3, 3), (6, 6), (8, 5)])
def test_orientation_maps_to_libraw_flip(tmp_path: Path, orientation: int, flip: int) -> None:
    path = tmp_path / "o.dng"
    write_cfa_dng(path, random_mosaic(24, 32, 0, 4095), orientation=orientation)
    with rawpy.imread(str(path)) as raw:
        assert raw.sizes.flip == flip


def test_exif_in_exif_ifd_and_rawpy(tmp_path: Path) -> None:
    path = tmp_path / "e.dng"
    exif = ExifInfo(iso=102400, exposure_time=1 / 8000, f_number=1.4)
    write_cfa_dng(path, random_mosaic(24, 24, 0, 4095), exif=exif)
    with rawpy.imread(str(path)) as raw:
        assert raw.other.iso_speed == 65535  # EXIF SHORT saturates
        assert raw.other.shutter_speed == pytest.approx(1 / 8000, rel=1e-6)
        assert raw.other.aperture == pytest.approx(1.4, rel=1e-6)
    with path.open("rb") as fh:
        tags = exifread.process_file(fh, details=False)
    assert str(tags["EXIF ExposureTime"]) == "1/8000"
    assert str(tags["Image Software"]) == "Darkroom"
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        assert tuple(page.tags["DNGVersion"].value) == (1, 4, 0, 0)
        assert page.tags["CalibrationIlluminant1"].value == 21
        assert page.tags["ExifTag"].value["ISOSpeedRatings"] == 65535


def test_twelve_megapixel_file_is_one_uncompressed_strip(tmp_path: Path) -> None:
    mosaic = random_mosaic(2848, 4256, 0, 16383)
    path = tmp_path / "big.dng"
    start = time.perf_counter()
    write_cfa_dng(path, mosaic, white_level=16383)
    elapsed = time.perf_counter() - start
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        assert page.compression == 1
        assert len(page.dataoffsets) == 1
    with rawpy.imread(str(path)) as raw:
        np.testing.assert_array_equal(raw.raw_image_visible, mosaic)
    assert elapsed < 5.0  # ~0.05 s in practice; generous for slow CI disks


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mosaic": np.zeros((21, 40), np.uint16)}, "at least 22x22"),
        ({"mosaic": np.zeros((24, 24, 3), np.uint16)}, "2-D"),
        ({"mosaic": np.zeros((24, 24), np.float32)}, "integer"),
        ({"mosaic": np.full((24, 24), 70000, np.int32)}, "0..65535"),
        ({"cfa": "RGBG"}, "Bayer"),
        ({"cfa": "XYZW"}, "Bayer"),
        ({"black_level": 4095, "white_level": 4095}, "below white"),
        ({"black_level": [1, 2, 3]}, "black_level"),
        ({"white_level": 70000}, "white_level"),
        ({"wb_gains": (1.0, 0.0, 1.0)}, "wb_gains"),
        ({"xyz_to_cam": np.eye(4)}, "3x3"),
        ({"orientation": 9}, "orientation"),
    ],
)
def test_bad_arguments_raise_and_write_nothing(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"mosaic": np.zeros((24, 24), np.uint16)} | kwargs
    with pytest.raises(ValueError, match=message):
        write_cfa_dng(tmp_path / "bad.dng", **args)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_failure_mid_write_leaves_nothing_and_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keep.dng"
    path.write_bytes(b"old contents")

    def boom(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    # append_exif_ifd runs after tifffile has written the pixels into the temp file.
    monkeypatch.setattr(dng, "append_exif_ifd", boom)
    with pytest.raises(OSError, match="No space"):
        write_cfa_dng(path, random_mosaic(24, 24, 0, 100), exif=EXIF)
    assert path.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.dng"]


def test_write_replaces_existing_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "r.dng"
    path.write_bytes(b"old")
    write_cfa_dng(path, random_mosaic(24, 24, 0, 100))
    with rawpy.imread(str(path)) as raw:
        assert raw.raw_image_visible.shape == (24, 24)
    assert [p.name for p in tmp_path.iterdir()] == ["r.dng"]


def gradient(height: int, width: int) -> np.ndarray:
    """(height, width, 3) float32: red ramps up left->right, green flat 0.5, blue ramps down."""
    ramp = np.linspace(0.0, 1.0, width, dtype=np.float32)
    rgb = np.empty((height, width, 3), np.float32)
    rgb[..., 0] = ramp
    rgb[..., 1] = 0.5
    rgb[..., 2] = ramp[::-1]
    return rgb


def test_linear_dng_reads_back_in_rawpy(tmp_path: Path) -> None:
    rgb = gradient(30, 64)
    path = tmp_path / "lin.dng"
    write_linear_dng(path, rgb, wb_gains=(1.5, 1.0, 2.0), exif=EXIF)
    expected = (np.clip(rgb, 0, 1) * 65535 + 0.5).astype(np.uint16)
    with rawpy.imread(str(path)) as raw:
        assert raw.raw_type == rawpy.RawType.Stack
        assert raw.num_colors == 3
        assert raw.white_level == 65535
        assert list(raw.black_level_per_channel) == [0, 0, 0, 0]
        wb = np.asarray(raw.camera_whitebalance[:3])
        np.testing.assert_allclose(wb / wb[1], [1.5, 1.0, 2.0], rtol=1e-5)
        # ColorMatrix1 defaults to XYZ->sRGB, i.e. the data already is linear sRGB.
        np.testing.assert_allclose(
            np.asarray(raw.color_matrix)[:3, :3], cam_to_srgb_from_xyz(XYZ_TO_SRGB), atol=1e-4
        )
        np.testing.assert_allclose(np.asarray(raw.color_matrix)[:3, :3], np.eye(3), atol=2e-3)
        # rawpy exposes a LinearRaw image as (H, W, 4) with an unused fourth plane.
        image = raw.raw_image
        assert image.shape == (30, 64, 4)
        np.testing.assert_array_equal(image[..., :3], expected)
        assert not image[..., 3].any()
        assert raw.other.iso_speed == 3200
        out = raw.postprocess(use_camera_wb=False, no_auto_bright=True, gamma=(1, 1))
    assert out.shape == (30, 64, 3) and out.dtype == np.uint8
    row = out[15].astype(int)
    assert row[-1, 0] > 200 and row[0, 0] < 10  # red ramps up
    assert row[0, 2] > 200 and row[-1, 2] < 10  # blue ramps down
    assert np.all(np.diff(row[:, 0]) >= 0)


def test_linear_dng_clips_and_uses_given_matrix(tmp_path: Path) -> None:
    rgb = gradient(24, 24) * 1.5 - 0.25
    rgb[0, 0] = np.nan
    path = tmp_path / "clip.dng"
    write_linear_dng(path, rgb, xyz_to_cam=XYZ_TO_CAM, orientation=6, software="Test 1.0")
    with rawpy.imread(str(path)) as raw:
        image = raw.raw_image[..., :3]
        assert image.max() == 65535 and image.min() == 0
        assert raw.sizes.flip == 6
        np.testing.assert_allclose(
            np.asarray(raw.color_matrix)[:3, :3], cam_to_srgb_from_xyz(XYZ_TO_CAM), atol=1e-4
        )
    with tifffile.TiffFile(path) as tif:
        assert tif.pages[0].tags["Software"].value == "Test 1.0"
        assert tif.pages[0].photometric == 34892
    with pytest.raises(ValueError, match="at least 22x22"):
        write_linear_dng(tmp_path / "tiny.dng", gradient(8, 8))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        write_linear_dng(tmp_path / "flat.dng", np.zeros((24, 24), np.float32))
