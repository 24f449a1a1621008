"""What a RAW file says about its pixels, checked: colour matrix, white balance, EXIF facts.

Each reader takes the open rawpy handle and returns a value that is safe to use, plus a list
of warnings: a damaged field the image does not need is replaced by a documented default and
said (the caller shows it), never passed on to fail later as an internal error.

* Colour matrix: LibRaw's camera->sRGB (``color_matrix``), else the file's XYZ->camera
  (``rgb_xyz_matrix``) turned into one; a matrix that is not finite, not invertible or wildly
  conditioned is skipped; with none left, camera RGB is treated as sRGB (identity).
* White balance: as-shot, else daylight (LibRaw's, from the colour data); gains must be
  finite and within x1/64..x64 of green; else none (all 1).
* EXIF: make/model/lens/date from the file's tags (exifread), exposure facts from LibRaw; a
  date that is not a real date is dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from engine.io.libraw import quiet_logs

#: A colour matrix whose condition number exceeds this is not a camera's.
MAX_CONDITION = 1e4
#: White-balance gains outside [1/x, x] relative to green are not a camera's.
MAX_WB_RATIO = 64.0
_DATE_FORMAT = "%Y:%m:%d %H:%M:%S"

# XYZ (D65) -> linear sRGB, used to turn a camera's XYZ->camera matrix into camera->sRGB.
XYZ_TO_SRGB = np.array(
    [[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560],
     [0.0556434, -0.2040259, 1.0572252]], dtype=np.float64,
)  # fmt: skip
SRGB_TO_XYZ = np.linalg.inv(XYZ_TO_SRGB)


@dataclass(frozen=True)
class ExifInfo:
    """The few EXIF facts the app shows, carries into exports and uses for pairing."""

    make: str | None = None
    model: str | None = None
    lens: str | None = None
    iso: float | None = None
    exposure_time: float | None = None  # seconds
    f_number: float | None = None
    focal_length: float | None = None  # mm
    datetime: str | None = None  # "YYYY:MM:DD HH:MM:SS", EXIF style

    @property
    def camera(self) -> str:
        """ "Make Model" without repeating the make, or "unknown camera"."""
        make, model = (self.make or "").strip(), (self.model or "").strip()
        if model.lower().startswith(make.lower()):
            make = ""
        return " ".join(p for p in (make, model) if p) or "unknown camera"


def cam_to_srgb_from_xyz(xyz_to_cam: np.ndarray) -> np.ndarray:
    """Camera->sRGB from an XYZ->camera matrix (DNG ColorMatrix / dcraw ``cam_xyz``).

    Follows dcraw: camera<-sRGB is normalised so each row sums to 1 (white maps to white after
    white balance), then inverted.
    """
    cam_rgb = xyz_to_cam.astype(np.float64) @ SRGB_TO_XYZ
    cam_rgb = cam_rgb / cam_rgb.sum(axis=1, keepdims=True)
    return np.linalg.inv(cam_rgb).astype(np.float32)


def _usable_matrix(matrix: np.ndarray) -> bool:
    if matrix.shape != (3, 3) or not np.isfinite(matrix).all() or np.abs(matrix).sum() < 1e-6:
        return False
    try:
        return bool(np.linalg.cond(matrix) < MAX_CONDITION)
    except np.linalg.LinAlgError:
        return False


def colour_matrix(raw: object) -> tuple[np.ndarray, list[str]]:
    """``(3, 3)`` float32 white-balanced camera RGB -> linear sRGB, and warnings."""
    rgb_cam = np.asarray(raw.color_matrix, dtype=np.float64)[:3, :3]  # type: ignore[attr-defined]
    if _usable_matrix(rgb_cam):
        return rgb_cam.astype(np.float32), []
    xyz_cam = np.asarray(raw.rgb_xyz_matrix, dtype=np.float64)[:3, :3]  # type: ignore[attr-defined]
    if _usable_matrix(xyz_cam):
        try:
            matrix = cam_to_srgb_from_xyz(xyz_cam).astype(np.float64)
        except (np.linalg.LinAlgError, FloatingPointError, ZeroDivisionError):
            matrix = np.zeros((3, 3))
        if _usable_matrix(matrix):
            return matrix.astype(np.float32), []
    given = np.abs(rgb_cam).sum() > 1e-6 or np.abs(xyz_cam).sum() > 1e-6
    warnings = ["the file's colour matrix is unusable; colours are shown as if it were sRGB"]
    # Some very old cameras have no colour data at all: no warning for those.
    return np.eye(3, dtype=np.float32), warnings if given else []


def wb_gains(raw: object) -> tuple[np.ndarray, list[str]]:
    """``(3,)`` float32 as-shot R, G, B multipliers with G = 1, and warnings."""
    camera = _usable_gains(raw.camera_whitebalance)  # type: ignore[attr-defined]
    if camera is not None:
        return camera, []
    # A file without an as-shot balance (some old cameras) is normal; a broken one is said.
    given = np.any(np.asarray(raw.camera_whitebalance, dtype=np.float64)[:3] != 0)  # type: ignore[attr-defined]
    daylight = _usable_gains(raw.daylight_whitebalance)  # type: ignore[attr-defined]
    if daylight is not None:
        note = "the file's white balance is unusable; daylight white balance used"
        return daylight, [note] if given else []
    return np.ones(3, dtype=np.float32), ["no usable white balance in the file; none applied"]


def _usable_gains(values: object) -> np.ndarray | None:
    gains = np.asarray(values, dtype=np.float64)
    if gains.shape[0] < 3 or not np.isfinite(gains[:3]).all() or not np.all(gains[:3] > 0):
        return None
    rgb = gains[:3] / gains[1]
    if np.all(rgb <= MAX_WB_RATIO) and np.all(rgb >= 1.0 / MAX_WB_RATIO):
        return rgb.astype(np.float32)
    return None


def _date(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return datetime.strptime(text.strip()[:19], _DATE_FORMAT).strftime(_DATE_FORMAT)
    except ValueError:
        return None


def read_exif(path: Path, raw: object) -> tuple[ExifInfo, list[str]]:
    """Camera, lens and exposure facts, and warnings about any that were unreadable."""
    warnings: list[str] = []
    tags = _exif_tags(path)
    text = {key: str(tags[key]).strip() for key in tags if key.startswith(("Image", "EXIF"))}
    date = None
    for key in ("EXIF DateTimeOriginal", "Image DateTime"):
        if text.get(key):
            date = _date(text[key])
            if date is None:
                warnings.append(f"EXIF date {text[key]!r} is not a date; ignored")
            break
    try:
        other = raw.other  # type: ignore[attr-defined]
    except (ValueError, OverflowError, OSError):  # rawpy builds a datetime from a bad stamp
        other = None
    if date is None and other is not None:
        try:
            date = other.timestamp.strftime(_DATE_FORMAT) if other.timestamp else None
        except (AttributeError, ValueError, OSError, OverflowError):
            date = None
    lens = raw.lens  # type: ignore[attr-defined]
    lens_name = (
        text.get("EXIF LensModel") or " ".join(p for p in (lens.make, lens.model) if p).strip()
    )

    def fact(name: str, tag: str) -> float | None:
        value = getattr(other, name, None) if other is not None else _ratio(tags.get(tag))
        return float(value) if value and math.isfinite(value) and value > 0 else None

    return ExifInfo(
        make=text.get("Image Make") or None,
        model=text.get("Image Model") or None,
        lens=lens_name or None,
        iso=fact("iso_speed", "EXIF ISOSpeedRatings"),
        exposure_time=fact("shutter_speed", "EXIF ExposureTime"),
        f_number=fact("aperture", "EXIF FNumber"),
        focal_length=fact("focal_length", "EXIF FocalLength"),
        datetime=date,
    ), warnings


def _exif_tags(path: Path) -> dict[str, object]:
    try:
        import exifread  # lazy: only needed for the facts LibRaw does not expose

        with quiet_logs("exifread"), open(path, "rb") as fh:
            return dict(exifread.process_file(fh, details=False))
    except Exception:  # noqa: BLE001 - EXIF is best effort; pixels are what matter
        return {}


def _ratio(tag: object) -> float | None:
    """An exifread tag's first value as a number (``1/60`` -> 0.0167), else ``None``."""
    values = getattr(tag, "values", None)
    if not values:
        return None
    value = values[0]
    try:
        return float(value.num) / float(value.den) if hasattr(value, "den") else float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
