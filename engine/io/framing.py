"""Which part of a sensor's data is the picture: the DNG default crop, and rectangles under
the file's orientation.

LibRaw hands over the *active area* (``raw_image_visible``: the sensor data without masked
borders, a DNG's ``ActiveArea``); Darkroom's mosaic is that area, and the network and the
demosaic see all of it, so pixels at the picture's edges get real context. A DNG may then say
which part of the active area is the picture: ``DefaultCropOrigin`` / ``DefaultCropSize``
(relative to the active area, in raw, unrotated coordinates; applied before the Orientation),
which every raw developer applies. LibRaw reports that crop only rounded to whole CFA periods,
so the tags are read here, exactly. ``DefaultScale`` other than 1 (non-square pixels) is
refused: stretching the image is not supported.

Rectangles are ``(top, left, height, width)`` in pixels. LibRaw's ``flip`` code mirrors
columns (bit 0), then rows (bit 1), then transposes (bit 2).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.io.libraw import quiet_logs

Rect = tuple[int, int, int, int]

_DEFAULT_SCALE, _DEFAULT_CROP_ORIGIN, _DEFAULT_CROP_SIZE = 50718, 50719, 50720
_ACTIVE_AREA = 50829
_NEW_SUBFILE_TYPE, _PHOTOMETRIC = 254, 262
_CFA, _LINEAR_RAW = 32803, 34892


@dataclass(frozen=True)
class DngFraming:
    """A DNG raw image's framing tags, as numbers.

    Attributes:
        active_area: ``ActiveArea`` as ``(top, left, height, width)`` in stored pixels, or
            ``None`` (all of them). LibRaw applies it (it is the mosaic Darkroom reads).
        crop: the default crop ``(top, left, height, width)`` in active-area pixels (origin
            rounded to the nearest pixel, size to the nearest pixel), or ``None``.
        scale: ``DefaultScale`` ``(horizontal, vertical)``; ``(1, 1)`` for square pixels.
    """

    active_area: Rect | None = None
    crop: Rect | None = None
    scale: tuple[float, float] = (1.0, 1.0)

    def tags(self) -> list[tuple[int, str, tuple[float, ...]]]:
        """``(code, kind, values)`` of the tags that say this, for a DNG writer (``kind`` is
        ``"long"`` or ``"rational"``)."""
        out: list[tuple[int, str, tuple[float, ...]]] = []
        if self.active_area is not None:
            top, left, height, width = self.active_area
            out.append((_ACTIVE_AREA, "long", (top, left, top + height, left + width)))
        if self.crop is not None:
            top, left, height, width = self.crop
            out.append((_DEFAULT_CROP_ORIGIN, "long", (left, top)))
            out.append((_DEFAULT_CROP_SIZE, "long", (width, height)))
        if self.scale != (1.0, 1.0):
            out.append((_DEFAULT_SCALE, "rational", self.scale))
        return out


def read_dng_framing(path: str | os.PathLike[str]) -> DngFraming | None:
    """The framing tags of a DNG's main raw image, or ``None`` for a file that is not a TIFF
    based DNG (any other RAW format) or has no such image.

    Never raises for damaged or unusual files: LibRaw, which read the pixels, is the judge of
    those; a crop that cannot be read is treated as none.
    """
    import tifffile

    try:
        with quiet_logs("tifffile"), tifffile.TiffFile(path) as tf:
            if not tf.pages or 50706 not in tf.pages[0].tags:  # DNGVersion marks a DNG
                return None
            for page in _all_pages(tf.pages):
                tags = page.tags
                subfile = tags[_NEW_SUBFILE_TYPE].value if _NEW_SUBFILE_TYPE in tags else 0
                kind = tags[_PHOTOMETRIC].value if _PHOTOMETRIC in tags else None
                if subfile == 0 and kind in (_CFA, _LINEAR_RAW):
                    return _framing(tags)
    except Exception:  # noqa: BLE001 - tifffile raises many types on odd files; see docstring
        return None
    return None


def _all_pages(pages: Sequence) -> list:
    out = []
    for page in pages:
        out.append(page)
        subs = getattr(page, "pages", None)
        if subs is not None:
            out.extend(_all_pages(list(subs)))
    return out


def _numbers(value: object) -> list[float]:
    """A tag value as numbers: tifffile gives RATIONALs flattened as numerator, denominator."""
    values = list(value) if isinstance(value, tuple | list) else [value]
    return [float(v) for v in values]


def _pairs(tag: object, rational: bool) -> tuple[float, float]:
    values = _numbers(tag)
    if rational and len(values) == 4:
        values = [values[0] / values[1], values[2] / values[3]]
    return values[0], values[1]


def _framing(tags: object) -> DngFraming:
    def value(code: int) -> tuple[float, float] | None:
        if code not in tags:  # type: ignore[operator]
            return None
        tag = tags[code]  # type: ignore[index]
        return _pairs(tag.value, rational=tag.dtype in (5, 10))  # RATIONAL, SRATIONAL

    scale = value(_DEFAULT_SCALE) or (1.0, 1.0)
    active = None
    if _ACTIVE_AREA in tags:  # type: ignore[operator]
        area = _numbers(tags[_ACTIVE_AREA].value)  # type: ignore[index]
        if len(area) == 4:
            top, left, bottom, right = (int(v) for v in area)
            active = (top, left, bottom - top, right - left)
    origin, size = value(_DEFAULT_CROP_ORIGIN), value(_DEFAULT_CROP_SIZE)
    crop = None
    if size is not None and all(math.isfinite(v) and v > 0 for v in size):
        x, y = origin if origin is not None else (0.0, 0.0)
        crop = (round(y), round(x), round(size[1]), round(size[0]))
    return DngFraming(active_area=active, crop=crop, scale=scale)


def clip_rect(rect: Rect, height: int, width: int) -> Rect | None:
    """``rect`` intersected with a ``height`` x ``width`` image, or ``None`` if empty."""
    top, left, h, w = rect
    t0, l0 = max(0, top), max(0, left)
    t1, l1 = min(height, top + h), min(width, left + w)
    if t1 <= t0 or l1 <= l0:
        return None
    return t0, l0, t1 - t0, l1 - l0


def orient_rect(rect: Rect, height: int, width: int, flip: int) -> Rect:
    """Where a rectangle of an unrotated ``height`` x ``width`` image appears once LibRaw's
    ``flip`` is applied.

    Examples:
        >>> orient_rect((1, 2, 3, 4), 10, 20, 0)
        (1, 2, 3, 4)
        >>> orient_rect((1, 2, 3, 4), 10, 20, 1)  # columns mirrored
        (1, 14, 3, 4)
        >>> orient_rect((1, 2, 3, 4), 10, 20, 6)  # rows mirrored, then transposed
        (2, 6, 4, 3)
    """
    top, left, h, w = rect
    if flip & 1:
        left = width - (left + w)
    if flip & 2:
        top = height - (top + h)
    if flip & 4:
        top, left, h, w = left, top, w, h
    return top, left, h, w


def orient_image(image: np.ndarray, flip: int) -> np.ndarray:
    """Rotate/mirror an unrotated ``(H, W, ...)`` image as LibRaw's ``flip`` says: columns
    mirrored for bit 0, rows for bit 1, then transposed for bit 2 (``(W, H, ...)`` out).

    Returns a C-contiguous array (a copy unless ``flip`` is 0 and ``image`` already is).

    Examples:
        >>> orient_image(np.arange(6).reshape(2, 3), 6).tolist()  # rotated 90 degrees clockwise
        [[3, 0], [4, 1], [5, 2]]
    """
    out = image
    if flip & 1:
        out = out[:, ::-1]
    if flip & 2:
        out = out[::-1]
    if flip & 4:
        out = np.swapaxes(out, 0, 1)
    return np.ascontiguousarray(out)


def unorient_rect(rect: Rect, height: int, width: int, flip: int) -> Rect:
    """The inverse of :func:`orient_rect`: an oriented rectangle back on the unrotated image
    (``height`` x ``width`` are the unrotated sizes)."""
    top, left, h, w = rect
    if flip & 4:
        top, left, h, w = left, top, w, h
    if flip & 2:
        top = height - (top + h)
    if flip & 1:
        left = width - (left + w)
    return top, left, h, w
