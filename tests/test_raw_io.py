import os
from pathlib import Path

import numpy as np
import pytest

from engine.errors import RawReadError, UnsupportedSensorError
from engine.io import read_raw
from tests.conftest import LAYOUTS


@pytest.mark.parametrize("cfa", LAYOUTS)
@pytest.mark.parametrize(("h", "w"), [(32, 48), (33, 47), (23, 25)])
def test_every_layout_and_odd_sizes(make_dng, cfa: str, h: int, w: int) -> None:
    path = make_dng(height=h, width=w, cfa=cfa, black=[500, 510, 520, 530], white=15000)
    frame = read_raw(path)
    assert frame.cfa_name == cfa
    assert frame.mosaic.shape == (h - h % 2, w - w % 2)
    assert sorted(frame.black_level.reshape(-1).tolist()) == [500, 510, 520, 530]
    assert frame.white_level == 15000
    np.testing.assert_allclose(frame.wb_gains, [2.0, 1.0, 1.6], rtol=1e-3)
    assert frame.exif.make == "Darkroom"
    # Rows of cam->sRGB sum to one: white stays white.
    np.testing.assert_allclose(frame.cam_to_srgb.sum(axis=1), 1.0, atol=1e-3)


def test_mosaic_is_a_copy_and_frame_frozen(make_dng) -> None:
    frame = read_raw(make_dng())
    assert frame.mosaic.flags.owndata or frame.mosaic.base is not None
    with pytest.raises(AttributeError):
        frame.white_level = 1  # type: ignore[misc]


def test_exif_fields(make_dng) -> None:
    from engine.io import ExifInfo

    exif = ExifInfo(make="Sony", model="ILCE-7S", iso=6400, exposure_time=0.01,
                    datetime="2024:01:02 03:04:05")  # fmt: skip
    frame = read_raw(make_dng(exif=exif, make="Sony", model="ILCE-7S"))
    assert frame.exif.camera == "Sony ILCE-7S"
    assert frame.exif.iso == 6400
    assert frame.exif.exposure_time == pytest.approx(0.01, rel=1e-3)
    assert frame.exif.datetime == "2024:01:02 03:04:05"


def test_missing_folder_empty(tmp_path: Path) -> None:
    with pytest.raises(RawReadError, match="no such file"):
        read_raw(tmp_path / "nope.ARW")
    with pytest.raises(RawReadError, match="folder"):
        read_raw(tmp_path)
    empty = tmp_path / "empty.NEF"
    empty.write_bytes(b"")
    with pytest.raises(RawReadError, match="empty"):
        read_raw(empty)


def test_random_bytes_and_jpeg_renamed(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ARW"
    junk.write_bytes(np.random.default_rng(0).bytes(50_000))
    with pytest.raises(RawReadError):
        read_raw(junk)
    import imageio.v3 as iio

    jpeg = tmp_path / "photo.NEF"
    jpeg.write_bytes(iio.imwrite("<bytes>", np.zeros((16, 16, 3), np.uint8), extension=".jpg"))
    with pytest.raises(RawReadError):
        read_raw(jpeg)


def test_truncated_dng(make_dng, tmp_path: Path) -> None:
    good = make_dng(height=64, width=64)
    data = good.read_bytes()
    cut = tmp_path / "cut.dng"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(RawReadError):
        read_raw(cut)


def test_linear_dng_is_unsupported(tmp_path: Path) -> None:
    from engine.io import write_linear_dng

    path = tmp_path / "linear.dng"
    write_linear_dng(path, np.full((32, 32, 3), 0.5, np.float32))
    with pytest.raises(UnsupportedSensorError, match="not supported"):
        read_raw(path)


# --- damaged metadata: a default and a warning when the picture is fine ----------------------


@pytest.mark.parametrize(
    ("matrix", "warned"),
    [(np.ones((3, 3)), True), (np.full((3, 3), 1e6), True), (np.zeros((3, 3)), False)],
)
def test_unusable_colour_matrix_falls_back_to_srgb(
    make_dng, matrix: np.ndarray, warned: bool
) -> None:
    frame = read_raw(make_dng(xyz_to_cam=matrix))
    np.testing.assert_allclose(frame.cam_to_srgb, np.eye(3))
    assert any("colour matrix" in w for w in frame.warnings) == warned  # none: old cameras


def test_impossible_white_balance_falls_back_to_none(make_dng) -> None:
    frame = read_raw(make_dng(wb_gains=(1000.0, 1.0, 0.0001)))
    assert 1.0 < frame.wb_gains[0] < 4.0 and 1.0 < frame.wb_gains[2] < 4.0  # LibRaw's daylight
    assert frame.warnings == ("the file's white balance is unusable; daylight white balance used",)


def test_a_date_that_is_not_a_date_is_dropped(make_dng) -> None:
    from engine.io import ExifInfo

    frame = read_raw(make_dng(exif=ExifInfo(make="X", model="Y", iso=100,
                                            datetime="9999:99:99 99:99:99")))  # fmt: skip
    assert frame.exif.datetime is None and frame.exif.iso == 100
    assert frame.warnings == ("EXIF date '9999:99:99 99:99:99' is not a date; ignored",)


def test_a_flat_black_frame_is_refused(tmp_path: Path) -> None:
    """What a damaged compressed DNG decodes to; a lens-cap shot still has noise."""
    from engine.io import write_cfa_dng

    path = tmp_path / "black.dng"
    write_cfa_dng(path, np.full((64, 96), 512, np.uint16), "RGGB", black_level=512,
                  white_level=4095)  # fmt: skip
    with pytest.raises(RawReadError, match="no image data"):
        read_raw(path)


def test_a_saturated_frame_reads_and_asks_for_no_gain(tmp_path: Path) -> None:
    from engine.io import write_cfa_dng
    from engine.render import estimate_ratio

    path = tmp_path / "white.dng"
    write_cfa_dng(path, np.full((64, 96), 4095, np.uint16), "RGGB", black_level=512,
                  white_level=4095)  # fmt: skip
    assert estimate_ratio(read_raw(path)) == 1.0  # no RuntimeWarning either: they are errors


def test_truncated_file_is_one_line_with_libraw_s_reason(make_dng, tmp_path: Path, capfd) -> None:
    path = tmp_path / "cut.dng"
    path.write_bytes(make_dng(height=64, width=96).read_bytes()[:6000])
    with pytest.raises(RawReadError, match=r"could not read the file \(.*\)") as info:
        read_raw(path)
    assert "\n" not in str(info.value)
    assert capfd.readouterr().err == ""  # LibRaw's own line is in the error, not on stderr


def test_names_the_os_gives(make_dng, tmp_path: Path) -> None:
    """A file name that is not UTF-8, and one near the 255-byte limit."""
    source = make_dng(height=32, width=48).read_bytes()
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.dng"))
    odd.write_bytes(source)
    assert read_raw(odd).mosaic.shape == (32, 48)
    long = tmp_path / ("a" * 251 + ".dng")
    long.write_bytes(source)
    assert read_raw(long).mosaic.shape == (32, 48)
    with pytest.raises(RawReadError, match=r"no such file|name too long"):
        read_raw(tmp_path / ("x/" * 2100 + "a.dng"))
