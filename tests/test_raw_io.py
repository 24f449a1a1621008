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
