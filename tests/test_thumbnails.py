"""Filmstrip thumbnails: the embedded preview, small and upright, or a half-size render."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.errors import RawReadError
from engine.io import THUMBNAIL_SIDE, embedded_thumbnail, read_raw

REAL_RAW = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-raw"

RED, GREEN, BLUE, WHITE = (230, 20, 20), (20, 200, 20), (20, 20, 230), (235, 235, 235)


def quadrants(height: int, width: int) -> np.ndarray:
    """``(height, width, 3)`` uint8: red top-left, green top-right, blue bottom-left, white
    bottom-right, so every mirror and turn is told apart."""
    image = np.empty((height, width, 3), np.uint8)
    h, w = height // 2, width // 2
    image[:h, :w], image[:h, w:], image[h:, :w], image[h:, w:] = RED, GREEN, BLUE, WHITE
    return image


def corner_colours(image: np.ndarray) -> list[tuple[int, int, int]]:
    """Mean colour of each quadrant's middle (clear of JPEG ringing at the borders), in the
    order top-left, top-right, bottom-left, bottom-right."""
    h, w = image.shape[0] // 4, image.shape[1] // 4
    spots = [(h, w), (h, 3 * w), (3 * h, w), (3 * h, 3 * w)]
    return [tuple(int(v) for v in image[y, x]) for y, x in spots]


def close(actual: list[tuple[int, int, int]], expected: list[tuple[int, int, int]]) -> bool:
    return bool(np.abs(np.subtract(actual, expected)).max() <= 12)  # JPEG quality 90


def test_the_embedded_preview_shrinks_to_max_side(make_dng: Callable[..., Path]) -> None:
    path = make_dng(preview=quadrants(400, 600))
    thumb = embedded_thumbnail(path)
    assert thumb.dtype == np.uint8 and thumb.flags.c_contiguous
    assert thumb.shape == (171, 256, 3) and THUMBNAIL_SIDE == 256
    assert close(corner_colours(thumb), [RED, GREEN, BLUE, WHITE])
    small = embedded_thumbnail(path, max_side=50)
    assert small.shape == (33, 50, 3)
    # A preview smaller than asked comes back at its own size, never enlarged.
    assert embedded_thumbnail(path, max_side=1000).shape == (400, 600, 3)


def test_libraw_hands_the_preview_over_unrotated(make_dng: Callable[..., Path]) -> None:
    """What the orientation step rests on: a DNG of Orientation 6 gives its landscape preview
    as stored, and its flip separately."""
    import rawpy
    from PIL import Image

    path = make_dng(preview=quadrants(40, 60), orientation=6)
    with rawpy.imread(str(path)) as raw:
        thumb = raw.extract_thumb()
        assert raw.sizes.flip == 6 and thumb.format == rawpy.ThumbFormat.JPEG
        assert Image.open(io.BytesIO(thumb.data)).size == (60, 40)


@pytest.mark.parametrize(
    ("orientation", "turn"),
    [
        (1, lambda a: a),
        (2, lambda a: a[:, ::-1]),  # mirrored left-right
        (3, lambda a: np.rot90(a, 2)),
        (4, lambda a: a[::-1]),  # mirrored top-bottom
        (5, lambda a: np.swapaxes(a, 0, 1)),  # transposed
        (6, lambda a: np.rot90(a, -1)),  # a quarter turn clockwise
        (7, lambda a: np.rot90(a, 2).swapaxes(0, 1)),  # transversed
        (8, lambda a: np.rot90(a, 1)),  # a quarter turn anticlockwise
    ],
)
def test_the_preview_is_shown_upright(
    make_dng: Callable[..., Path], orientation: int, turn: Callable[[np.ndarray], np.ndarray]
) -> None:
    preview = quadrants(64, 96)
    thumb = embedded_thumbnail(make_dng(preview=preview, orientation=orientation))
    expected = turn(preview)
    assert thumb.shape == expected.shape
    assert close(corner_colours(thumb), corner_colours(expected))


def test_portrait_thumbnail_of_a_landscape_mosaic_turned_by_orientation_6(
    make_dng: Callable[..., Path],
) -> None:
    path = make_dng(preview=quadrants(320, 480), orientation=6)
    thumb = embedded_thumbnail(path, max_side=120)
    assert thumb.shape == (120, 80, 3)
    # Red (top-left as stored) is top-right once turned clockwise, as the render shows it.
    assert close(corner_colours(thumb), [BLUE, RED, WHITE, GREEN])
    assert read_raw(path).orientation == 6


def test_without_a_preview_a_half_size_render_stands_in(make_dng: Callable[..., Path]) -> None:
    import rawpy

    path = make_dng(height=64, width=96)
    with rawpy.imread(str(path)) as raw, pytest.raises(rawpy.LibRawNoThumbnailError):
        raw.extract_thumb()
    thumb = embedded_thumbnail(path)
    assert thumb.shape == (32, 48, 3) and thumb.dtype == np.uint8
    assert 20 < thumb.mean() < 250  # a picture, not black or white
    assert embedded_thumbnail(path, max_side=24).shape == (16, 24, 3)


def test_the_render_that_stands_in_is_upright_too(make_dng: Callable[..., Path]) -> None:
    assert embedded_thumbnail(make_dng(orientation=6)).shape == (48, 32, 3)
    assert embedded_thumbnail(make_dng(name="b.dng", orientation=3)).shape == (32, 48, 3)


def test_a_preview_of_other_proportions_is_not_trusted(make_dng: Callable[..., Path]) -> None:
    """A strip of a preview (the first strip of one stored in strips) is replaced by the
    render, which has the photo's own proportions."""
    path = make_dng(height=64, width=96, preview=quadrants(24, 200))
    assert embedded_thumbnail(path).shape == (32, 48, 3)
    # 4:3 preview of a 3:2 sensor: a camera's ordinary thumbnail, kept.
    assert embedded_thumbnail(make_dng(name="b.dng", preview=quadrants(60, 80))).shape == (
        60,
        80,
        3,
    )


def test_a_corrupt_preview_falls_back_to_the_render(
    make_dng: Callable[..., Path], tmp_path: Path
) -> None:
    import tifffile

    path = make_dng(preview=quadrants(64, 96))
    with tifffile.TiffFile(path) as tif:
        start = tif.pages[1].dataoffsets[0]
    data = bytearray(path.read_bytes())
    assert data[start : start + 2] == b"\xff\xd8"  # the preview's JPEG starts here
    data[start : start + 64] = bytes(64)  # no JPEG header: Pillow cannot open it
    broken = tmp_path / "broken-preview.dng"
    broken.write_bytes(bytes(data))
    assert embedded_thumbnail(broken).shape == (32, 48, 3)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "file is empty"),
        (b"this is not a raw file at all " * 40, "not a RAW file LibRaw can read"),
        (None, "no such file"),
    ],
)
def test_an_unreadable_file_is_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], content: bytes | None, words: str
) -> None:
    path = tmp_path / "bad.dng"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RawReadError) as err:
        embedded_thumbnail(path)
    message = str(err.value)
    assert "\n" not in message and words in message and "bad.dng" in message
    assert capfd.readouterr().err == ""  # LibRaw's own complaints are caught, not printed


def test_a_jpeg_named_like_a_raw_is_refused(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "photo.ARW"
    Image.fromarray(quadrants(64, 96)).save(path, format="JPEG")
    with pytest.raises(RawReadError, match="not a RAW file"):
        embedded_thumbnail(path)


def test_a_truncated_raw_is_one_line_or_a_thumbnail(
    make_dng: Callable[..., Path], tmp_path: Path
) -> None:
    """Cut short, a file either still holds its preview or fails with the one-line error."""
    data = make_dng(preview=quadrants(64, 96)).read_bytes()
    for keep in (16, 200, len(data) // 2):
        cut = tmp_path / f"cut{keep}.dng"
        cut.write_bytes(data[:keep])
        try:
            thumb = embedded_thumbnail(cut)
        except RawReadError as err:
            assert "\n" not in str(err)
        else:
            assert thumb.dtype == np.uint8 and thumb.ndim == 3 and max(thumb.shape) <= 256


def test_max_side_must_be_positive(make_dng: Callable[..., Path]) -> None:
    with pytest.raises(ValueError, match="max_side"):
        embedded_thumbnail(make_dng(), max_side=0)


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        # No preview in these GoPro DNGs: the half-size render (4000x3000 -> 2000x1500).
        ("HERO7_GOPR9231.DNG", (192, 256, 3)),
        # A 96x64 bitmap thumbnail (LibRaw's other kind), smaller than asked: as it is.
        ("RAW_KODAK_DC50.KDC", (64, 96, 3)),
    ],
)
def test_real_files(name: str, shape: tuple[int, int, int]) -> None:
    path = REAL_RAW / name
    if not path.is_file():
        pytest.skip(f"{path} is not here")
    thumb = embedded_thumbnail(path)
    assert thumb.shape == shape and thumb.dtype == np.uint8
    assert 10 < thumb.mean() < 245
