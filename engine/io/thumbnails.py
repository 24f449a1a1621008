"""Filmstrip thumbnails: the preview a camera embeds in its RAW file, upright and small.

:func:`embedded_thumbnail` runs once per file of a folder, so it reads as little as it can:

* the embedded preview (``raw.extract_thumb()``) without unpacking the sensor data: a JPEG is
  decoded by Pillow at a reduced DCT scale (1/2 .. 1/8, ``Image.draft``) when it is much
  larger than asked, a bitmap is taken as it is;
* LibRaw hands the preview over as stored in the file, unrotated (checked in the tests with a
  DNG whose Orientation is 6), so the file's ``flip`` is applied here with
  :func:`~engine.io.framing.orient_image`, the same function the renders use;
* a file without a usable preview (none, one Pillow cannot decode, or one whose proportions
  are not the sensor's, e.g. a strip of it) gets LibRaw's half-size render instead: no
  demosaic (each 2x2 block becomes a pixel), the camera's white balance, LibRaw's default
  brightness, oriented by LibRaw itself; about 0.15 s for 12 MP.

Any file LibRaw cannot open raises the one-line :class:`~engine.errors.RawReadError` that
:func:`~engine.io.read_raw` raises for it. Sensors Darkroom cannot open (Foveon, monochrome,
linear DNG) still get a thumbnail: the filmstrip shows them, opening one says why not.
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from engine.io.framing import orient_image
from engine.io.libraw import open_raw
from engine.io.raw import check_readable_file, libraw_errors

#: Longest side of a thumbnail unless asked otherwise, pixels.
THUMBNAIL_SIDE = 256
# Largest factor between a preview's and the sensor's width/height before the preview is
# taken for broken (see _fits_the_sensor): 3:2 vs 4:3 is 1.125, a quarter turn of 3:2 is 2.25.
_ASPECT_TOLERANCE = 1.5


def embedded_thumbnail(path: str | os.PathLike[str], max_side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """A small upright picture of a RAW file, for lists and filmstrips.

    Args:
        path: the RAW file.
        max_side: the thumbnail's longest side is at most this many pixels (>= 1); a smaller
            embedded preview is returned at its own size, never enlarged.

    Returns:
        ``(H, W, 3)`` uint8 RGB (sRGB as the camera rendered it, or LibRaw's half-size
        render), ``max(H, W) <= max_side``, in the photo's display orientation.

    Raises:
        RawReadError: missing, empty, unreadable, corrupt or not a RAW file.
        ValueError: ``max_side`` < 1.
    """
    if int(max_side) < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    p = check_readable_file(path)
    with libraw_errors(p), open_raw(p) as raw:
        image = _embedded(raw, max_side)
        if image is not None and _fits_the_sensor(image, raw):
            # Small first: orienting a thumbnail is cheaper than orienting the preview.
            return orient_image(_fit(image, max_side), int(raw.sizes.flip))
        return _fit(_rgb8(_half_size(raw)), max_side)  # LibRaw's render is oriented already


def _embedded(raw: Any, max_side: int) -> np.ndarray | None:
    """The file's embedded preview as ``(H, W, 3)`` uint8, unrotated; ``None`` when there is
    none LibRaw or Pillow can hand over (the caller renders one)."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        return _decode_jpeg(thumb.data, max_side)
    if thumb.format == rawpy.ThumbFormat.BITMAP:
        return _rgb8(np.asarray(thumb.data))
    return None


def _fits_the_sensor(image: np.ndarray, raw: Any) -> bool:
    """Whether a preview has about the sensor's proportions (both unrotated).

    A preview that does not is broken, and rendering one is safer than showing it: the first
    strip of a preview stored in strips (older Darkroom DNG exports), or a preview stored
    already rotated (turned twice once the flip is applied). 4:3 previews of 3:2 sensors and
    letterboxed ones pass.
    """
    height, width = image.shape[:2]
    raw_height, raw_width = int(raw.sizes.height), int(raw.sizes.width)
    if min(height, width, raw_height, raw_width) < 1:
        return False
    mismatch = (width / height) / (raw_width / raw_height)
    return 1 / _ASPECT_TOLERANCE <= mismatch <= _ASPECT_TOLERANCE


def _decode_jpeg(data: bytes, max_side: int) -> np.ndarray | None:
    """Decode a JPEG preview, at the smallest DCT scale that still covers ``max_side``."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            # draft() keeps the size >= the one asked for, so _fit still sees enough pixels.
            im.draft("RGB", (max_side, max_side))
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        # A truncated or odd preview (camera bugs, edited files): render one instead.
        return None


def _rgb8(image: np.ndarray) -> np.ndarray:
    """A LibRaw bitmap (``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``, 8 or 16 bits: a thumbnail,
    or the render of a monochrome sensor) as ``(H, W, 3)`` uint8."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image[..., :3], dtype=np.uint8)


def _half_size(raw: Any) -> np.ndarray:
    """LibRaw's cheapest full render: ``(H/2, W/2, 3)`` uint8, oriented."""
    return raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)


def _fit(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink ``(H, W, 3)`` uint8 so its longest side is at most ``max_side`` (area average,
    no moiré from the preview's detail); never enlarges."""
    import cv2

    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return np.ascontiguousarray(image)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA)
