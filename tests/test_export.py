"""engine.io.export: pixel values, colour order, EXIF and file safety of the final export."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import cv2
import exifread
import numpy as np
import pytest
import rawpy
import tifffile
from PIL import Image

from engine.errors import ExportError
from engine.io import (
    FORMATS,
    ExifInfo,
    ExportOptions,
    check_destination,
    encoders,
    output_path_for,
    write_dng,
    write_image,
)
from engine.io.metadata import software

EXIF = ExifInfo(
    make="Sony",
    model="ILCE-7M3",
    lens="FE 24-70mm F2.8 GM",
    iso=6400,
    exposure_time=1 / 60,
    f_number=2.8,
    focal_length=35.0,
    datetime="2023:12:24 22:10:05",
)


def _opts(name: str | Path, **changes: object) -> ExportOptions:
    """Options for the format ``name``'s suffix names (``name`` may be just the suffix)."""
    suffix = str(name) if str(name).startswith(".") else Path(name).suffix
    return ExportOptions.for_path(f"x{suffix}", **changes)


def random_image(height: int = 20, width: int = 28, seed: int = 0) -> np.ndarray:
    """(height, width, 3) float32 in [0, 1], different in every channel."""
    return np.random.default_rng(seed).random((height, width, 3), dtype=np.float32)


def pure_red(height: int = 16, width: int = 24) -> np.ndarray:
    img = np.zeros((height, width, 3), np.float32)
    img[..., 0] = 1.0
    return img


def read_rgb(path: Path) -> np.ndarray:
    """Pixels as (H, W, 3) RGB in the file's bit depth, using a reader other than the writer."""
    if path.suffix == ".tif":
        return tifffile.imread(path)
    if path.suffix == ".png":
        # Pillow cannot hold 16-bit RGB, so read PNG with OpenCV and swap BGR -> RGB here; the
        # red-image tests cross-check the channel order with Pillow.
        return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., ::-1]
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def exif_tags(path: Path) -> dict[str, str]:
    with path.open("rb") as fh:
        return {k: str(v) for k, v in exifread.process_file(fh, details=False).items()}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- pixels --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".tif", ".png"])
@pytest.mark.parametrize("bits", [8, 16])
def test_lossless_round_trip_within_one_lsb(tmp_path: Path, suffix: str, bits: int) -> None:
    img = random_image()
    path = write_image(tmp_path / f"out{suffix}", img, _opts(suffix, bits=bits))
    back = read_rgb(path)
    dtype = np.uint8 if bits == 8 else np.uint16
    assert back.dtype == dtype and back.shape == img.shape
    scale = 255.0 if bits == 8 else 65535.0
    assert np.abs(back.astype(np.float64) - img * scale).max() <= 0.5 + 1e-6  # rounded, not cut
    # Exact code values survive unchanged, and out-of-range input is clipped.
    codes = np.arange(24 * 3, dtype=np.float32).reshape(2, 12, 3) / scale
    codes[0, 0] = [-0.5, 1.5, np.nan]
    exact = read_rgb(write_image(tmp_path / f"codes{suffix}", codes, _opts(suffix, bits=bits)))
    expected = np.round(np.nan_to_num(np.clip(codes, 0, 1)) * scale).astype(dtype)
    np.testing.assert_array_equal(exact, expected)


def test_jpeg_is_readable_and_close(tmp_path: Path) -> None:
    yy, xx = np.mgrid[0:48, 0:64].astype(np.float32)
    smooth = np.stack([xx / 63, yy / 47, 1 - xx / 63], axis=-1)
    path = write_image(tmp_path / "out.jpg", smooth, ExportOptions(quality=95))
    back = read_rgb(path).astype(np.float64) / 255
    assert back.shape == smooth.shape
    assert np.abs(back - smooth).mean() < 0.01
    with Image.open(path) as image:
        assert image.format == "JPEG"


@pytest.mark.parametrize(
    ("name", "bits"), [("r.jpg", 8), ("r.tif", 8), ("r.tif", 16), ("r.png", 8), ("r.png", 16)]
)
def test_pure_red_stays_red(tmp_path: Path, name: str, bits: int) -> None:
    path = write_image(tmp_path / name, pure_red(), _opts(name, bits=bits))
    # Pillow reads every one of these (16-bit reduced to 8), independently of OpenCV's BGR.
    with Image.open(path) as image:
        r, g, b = np.asarray(image.convert("RGB"))[8, 12]
    assert r >= 250 and g <= 5 and b <= 5
    if name.endswith((".tif", ".png")):
        full = read_rgb(path)
        top = 255 if bits == 8 else 65535
        assert full[0, 0].tolist() == [top, 0, 0]


def test_dng_export_from_linear(tmp_path: Path) -> None:
    linear = np.zeros((24, 32, 3), np.float32)
    linear[..., 0] = 0.8  # red in linear sRGB primaries
    path = write_dng(tmp_path / "out.dng", linear, exif=EXIF)
    with rawpy.imread(str(path)) as raw:
        assert raw.raw_type == rawpy.RawType.Stack
        planes = raw.raw_image
        assert planes[0, 0, :3].tolist() == [round(0.8 * 65535), 0, 0]
        assert raw.other.iso_speed == 6400
        rgb = raw.postprocess(use_camera_wb=True, no_auto_bright=True)
    r, g, b = rgb[12, 16].astype(int)
    assert r > 150 and g < 30 and b < 30
    tags = exif_tags(path)
    assert tags["Image Make"] == "Sony" and tags["Image Software"] == software()


def test_dng_export_needs_linear(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="linear"):
        write_image(tmp_path / "x.dng", random_image())
    with pytest.raises(ExportError, match="too small"):
        write_dng(tmp_path / "x.dng", np.zeros((8, 8, 3), np.float32))
    assert leftovers(tmp_path) == []


# --- EXIF ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "bits"), [("e.jpg", 8), ("e.tif", 8), ("e.png", 8), ("e.png", 16)]
)
def test_exif_is_carried_over(tmp_path: Path, name: str, bits: int) -> None:
    path = write_image(tmp_path / name, random_image(), _opts(name, bits=bits), exif=EXIF)
    tags = exif_tags(path)
    assert tags["Image Make"] == "Sony"
    assert tags["Image Model"] == "ILCE-7M3"
    assert tags["Image Software"] == software()
    assert tags["Image Orientation"] == "Horizontal (normal)"
    assert tags["EXIF ISOSpeedRatings"] == "6400"
    assert tags["EXIF ExposureTime"] == "1/60"
    assert tags["EXIF FNumber"] == "14/5"
    assert tags["EXIF FocalLength"] == "35"
    assert tags["EXIF LensModel"] == "FE 24-70mm F2.8 GM"
    assert tags["EXIF DateTimeOriginal"] == "2023:12:24 22:10:05"
    # A second, independent reader.
    with Image.open(path) as image:
        exif = image.getexif()
        assert exif[271] == "Sony" and exif[274] == 1 and exif[305] == software()
        assert exif.get_ifd(0x8769)[34855] == 6400


def test_tiff_tags_read_by_tifffile(tmp_path: Path) -> None:
    path = write_image(tmp_path / "t.tif", random_image(), _opts(".tif", bits=16), exif=EXIF)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        assert page.tags["Make"].value == "Sony"
        assert page.tags["Orientation"].value == 1
        assert page.tags["Software"].value == software()
        assert page.tags["ExifTag"].value["ISOSpeedRatings"] == 6400
        assert page.bitspersample == 16


def test_export_without_exif_still_marks_software_and_orientation(tmp_path: Path) -> None:
    path = write_image(tmp_path / "n.jpg", random_image())
    tags = exif_tags(path)
    assert tags["Image Software"] == software()
    assert tags["Image Orientation"] == "Horizontal (normal)"
    assert "Image Make" not in tags


# --- formats and options -------------------------------------------------------------------


def test_format_from_suffix_and_explicit(tmp_path: Path) -> None:
    def image_format(path: Path) -> str:
        with Image.open(path) as image:
            return str(image.format)

    assert image_format(write_image(tmp_path / "a.JPEG", random_image())) == "JPEG"
    assert image_format(write_image(tmp_path / "b.tiff", random_image())) == "TIFF"
    # An explicit format wins over the suffix.
    png = ExportOptions(fmt="png")
    assert image_format(write_image(tmp_path / "c.img", random_image(), png)) == "PNG"
    jpeg = ExportOptions(fmt="jpg")
    assert image_format(write_image(tmp_path / "d.x", random_image(), jpeg)) == "JPEG"


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("a.bmp", {}, "suffix"),
        ("noext", {}, "suffix"),
        ("a.jpg", {"fmt": "webp"}, "unknown export format"),
        ("a.jpg", {"bits": 16}, "8-bit only"),
        ("a.png", {"bits": 12}, "8 or 16"),
        ("a.jpg", {"quality": 0}, "quality"),
        ("a.jpg", {"quality": 101}, "quality"),
        ("a.jpg", {"quality": 90.5}, "quality"),
    ],
)
def test_bad_options_raise_export_error(
    tmp_path: Path, name: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ExportError, match=message):
        write_image(tmp_path / name, random_image(), _opts(name, **kwargs))
    assert leftovers(tmp_path) == []


def test_quality_bounds_are_accepted(tmp_path: Path) -> None:
    small = write_image(tmp_path / "q1.jpg", random_image(), ExportOptions(quality=1))
    large = write_image(tmp_path / "q100.jpg", random_image(), ExportOptions(quality=100))
    assert small.stat().st_size < large.stat().st_size


def test_output_path_for() -> None:
    assert FORMATS == {"jpeg": ".jpg", "tiff": ".tif", "png": ".png", "dng": ".dng"}
    assert output_path_for("/in/IMG_0001.ARW", "/out", "jpeg") == Path(
        "/out/IMG_0001-darkroom.jpg")  # fmt: skip
    assert output_path_for(Path("a.b.nef"), Path("o"), "tiff") == Path("o/a.b-darkroom.tif")
    assert output_path_for("x.dng", "o", "dng", "{stem}") == Path("o/x.dng")
    assert output_path_for("x.NEF", "o", "png", "{stem}_{model}_{ratio}_{amount}",
                           model="/m/night.safetensors", ratio=None, amount=0.25) == Path(
        "o/x_night_auto_25.png")  # fmt: skip
    with pytest.raises(ExportError):
        output_path_for("x.dng", "o", "gif")


# --- file safety ---------------------------------------------------------------------------


def test_existing_file_is_refused_then_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"precious")
    for overwrite in (False, True):  # not Darkroom's: never replaced
        with pytest.raises(ExportError, match="is not a Darkroom export"):
            write_image(path, random_image(), _opts(path, overwrite=overwrite))
    assert path.read_bytes() == b"precious"
    path.unlink()
    write_image(path, random_image())
    with pytest.raises(ExportError, match=r"exists \(use --overwrite to replace it\)"):
        write_image(path, random_image())
    write_image(path, random_image(), _opts(path, overwrite=True))
    assert read_rgb(path).shape == (20, 28, 3)
    assert leftovers(tmp_path) == ["out.png"]


@pytest.mark.parametrize("fmt", ["jpeg", "tiff", "png", "dng"])
def test_every_export_is_recognised_as_darkrooms_own(tmp_path: Path, fmt: str) -> None:
    from engine.io import written_by_darkroom

    path = tmp_path / f"x{FORMATS[fmt]}"
    if fmt == "dng":
        write_dng(path, np.full((32, 40, 3), 0.3, np.float32))
    else:
        write_image(path, random_image(), ExportOptions(fmt=fmt))
    assert written_by_darkroom(path)
    other = tmp_path / f"camera{FORMATS[fmt]}"
    other.write_bytes(path.read_bytes().replace(b"Darkroom", b"Camera01"))
    assert not written_by_darkroom(other)
    assert not written_by_darkroom(tmp_path / "missing.jpg")


def test_never_writes_onto_the_source(tmp_path: Path) -> None:
    source = tmp_path / "shot.dng"
    source.write_bytes(b"raw data")
    roundabout = tmp_path / "sub" / ".." / "shot.dng"
    with pytest.raises(ExportError, match="output would overwrite the input"):
        write_dng(roundabout, np.zeros((24, 24, 3), np.float32),
                  ExportOptions(fmt="dng", overwrite=True), source_path=source)  # fmt: skip
    # Another name for the same file (hard link) is caught too.
    os.link(source, tmp_path / "alias.jpg")
    with pytest.raises(ExportError, match="output would overwrite the input"):
        write_image(tmp_path / "alias.jpg", random_image(), _opts(".jpg", overwrite=True),
                    source_path=source)  # fmt: skip
    assert source.read_bytes() == b"raw data"


def test_missing_folders_are_created(tmp_path: Path) -> None:
    path = write_image(tmp_path / "a" / "b" / "out.tif", random_image())
    assert path.is_file()


def test_unwritable_destination_raises_cleanly(tmp_path: Path) -> None:
    # A regular file where the folder should be fails for root too (unlike chmod).
    blocker = tmp_path / "not_a_folder"
    blocker.write_bytes(b"x")
    with pytest.raises(ExportError) as info:
        write_image(blocker / "out.jpg", random_image())
    assert "\n" not in str(info.value) and "not_a_folder" in str(info.value)
    with pytest.raises(ExportError):
        write_image(blocker / "deeper" / "out.jpg", random_image())
    assert leftovers(tmp_path) == ["not_a_folder"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_folder_raises_cleanly(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ExportError, match="not writable"):
            write_image(folder / "out.jpg", random_image())
        assert leftovers(folder) == []
    finally:
        folder.chmod(0o700)


def test_a_folder_at_the_destination_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out.jpg").mkdir()
    with pytest.raises(ExportError, match="is a folder"):
        write_image(tmp_path / "out.jpg", random_image(), _opts(".jpg", overwrite=True))


def test_a_path_the_system_cannot_take_is_one_line(tmp_path: Path) -> None:
    """A destination path longer than PATH_MAX fails as an ExportError, not an OSError."""
    dest = tmp_path.joinpath(*["x" * 200] * 25, "out.jpg")
    with pytest.raises(ExportError, match=r"cannot write there|name too long") as caught:
        check_destination(dest, _opts(".jpg"))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("encoder", "name", "error", "message"),
    [
        ("encode_png", "out.png", RuntimeError("encoder crashed\nsecond line"), "encoder crashed"),
        ("encode_jpeg", "out.jpg", OSError(28, "No space left on device"), "No space left"),
        ("encode_tiff", "out.tif", MemoryError(), "MemoryError"),
    ],
)
def test_failure_mid_write_leaves_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    encoder: str,
    name: str,
    error: BaseException,
    message: str,
) -> None:
    def broken(fh: BinaryIO, *_args: object) -> None:
        fh.write(b"half a file")
        raise error

    monkeypatch.setattr(encoders, encoder, broken)
    with pytest.raises(ExportError, match=message) as info:
        write_image(tmp_path / name, random_image(), exif=EXIF)
    assert "\n" not in str(info.value)
    assert leftovers(tmp_path) == []
    # With overwrite, a failed write keeps the previous file intact.
    (tmp_path / name).write_bytes(b"previous")
    with pytest.raises(ExportError):
        write_image(tmp_path / name, random_image(), _opts(name, overwrite=True))
    assert (tmp_path / name).read_bytes() == b"previous"
    assert leftovers(tmp_path) == [name]


def test_failed_dng_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.io import dng

    def broken(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dng, "append_exif_ifd", broken)
    with pytest.raises(ExportError, match="No space left"):
        write_dng(tmp_path / "x.dng", np.zeros((24, 24, 3), np.float32))
    assert leftovers(tmp_path) == []


def test_written_file_gets_normal_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = write_image(tmp_path / "p.jpg", random_image())
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_an_output_that_appears_meanwhile_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs writing one name without --overwrite: one wins, the other says so."""
    target = tmp_path / "race.jpg"
    real = encoders.encode_jpeg

    def slow(fh: BinaryIO, *args: object) -> None:
        real(fh, *args)
        target.write_bytes(b"the other run's file")  # it finished first

    monkeypatch.setattr(encoders, "encode_jpeg", slow)
    with pytest.raises(ExportError, match="file exists") as info:
        write_image(target, random_image())
    assert "\n" not in str(info.value)
    assert target.read_bytes() == b"the other run's file"
    assert leftovers(tmp_path) == ["race.jpg"]
