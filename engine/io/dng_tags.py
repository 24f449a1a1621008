"""The tags of the DNG files :mod:`engine.io.dng` writes: which camera (IFD0 and EXIF), its
colour (matrix, as-shot neutral), a CFA mosaic's layout and levels, and the framing.

Every value here is what LibRaw 0.22 reads back as written (see :mod:`engine.io.dng`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from engine.io.framing import DngFraming
from engine.io.raw_metadata import ExifInfo
from engine.io.tiff import (
    ASCII,
    BYTE,
    LONG,
    RATIONAL,
    SHORT,
    SRATIONAL,
    TiffTag,
    exif_tags,
)

# TIFF Orientation (1..8) values are what the file stores; LibRaw maps them to its flip codes.
_ORIENTATIONS = range(1, 9)
_D65 = 21  # EXIF LightSource / DNG CalibrationIlluminant code for D65
#: LibRaw's ``flip`` code of each TIFF Orientation (dcraw's table "50132467").
TIFF_ORIENTATION_TO_FLIP = {1: 0, 2: 1, 3: 3, 4: 2, 5: 4, 6: 6, 7: 7, 8: 5}
FLIP_TO_TIFF_ORIENTATION = {flip: tiff for tiff, flip in TIFF_ORIENTATION_TO_FLIP.items()}


def identity_tags(
    exif: ExifInfo | None,
    make: str | None,
    model: str | None,
    *,
    default_model: str,
    orientation: int,
) -> tuple[list[TiffTag], list[TiffTag], str]:
    """IFD0 and EXIF tags naming the camera, and the DNG UniqueCameraModel.

    The EXIF make and model win over ``make``/``model``; a file always names some camera
    (``Darkroom`` / ``default_model``), as DNG readers expect.
    """
    exif = exif or ExifInfo()
    cam_make = (exif.make or make or "").strip() or "Darkroom"
    cam_model = (exif.model or model or "").strip() or default_model
    ifd0, exif_ifd = exif_tags(
        replace(exif, make=cam_make, model=cam_model), orientation=check_orientation(orientation)
    )
    return ifd0, exif_ifd, f"{cam_make} {cam_model}"


def dng_common_tags(
    *,
    unique_model: str,
    xyz_to_cam: np.ndarray | None,
    default_matrix: np.ndarray,
    wb_gains: Sequence[float],
) -> list[TiffTag]:
    """The tags every DNG carries: versions, the camera's name, its XYZ -> camera matrix
    (``default_matrix`` when ``xyz_to_cam`` is ``None``) for D65 and the as-shot neutral.

    Raises:
        ValueError: not a finite 3x3 matrix, or not 3 positive white-balance gains.
    """
    matrix = default_matrix if xyz_to_cam is None else np.asarray(xyz_to_cam, dtype=np.float64)
    if matrix.shape != (3, 3) or not np.isfinite(matrix).all():
        raise ValueError(f"xyz_to_cam must be a finite 3x3 matrix, got shape {matrix.shape}")
    gains = np.asarray(wb_gains, dtype=np.float64)
    if gains.shape != (3,) or not (np.isfinite(gains).all() and (gains > 0).all()):
        raise ValueError(f"wb_gains must be 3 positive numbers, got {wb_gains!r}")
    # AsShotNeutral is the camera response to white, i.e. the inverse of the WB multipliers;
    # scaled so its largest entry is 1 as cameras write it.
    neutral = 1.0 / gains
    neutral = neutral / neutral.max()
    return [
        TiffTag(50706, BYTE, (1, 4, 0, 0)),  # DNGVersion
        TiffTag(50707, BYTE, (1, 1, 0, 0)),  # DNGBackwardVersion
        TiffTag(50708, ASCII, unique_model),  # UniqueCameraModel
        TiffTag(50721, SRATIONAL, tuple(float(v) for v in matrix.reshape(-1))),  # ColorMatrix1
        TiffTag(50728, RATIONAL, tuple(float(v) for v in neutral)),  # AsShotNeutral
        TiffTag(50778, SHORT, (_D65,)),  # CalibrationIlluminant1
    ]


def check_orientation(orientation: int) -> int:
    if int(orientation) not in _ORIENTATIONS:
        raise ValueError(f"orientation must be a TIFF Orientation value 1..8, got {orientation}")
    return int(orientation)


def cfa_tags(pattern: np.ndarray, white: int, black: tuple[float, ...]) -> list[TiffTag]:
    """The tags that describe a CFA mosaic: layout and levels."""
    tags = [
        TiffTag(33421, SHORT, pattern.shape),  # CFARepeatPatternDim: 2x2, or 6x6 X-Trans
        TiffTag(33422, BYTE, tuple(int(c) for c in pattern.reshape(-1))),  # CFAPattern
        TiffTag(50710, BYTE, (0, 1, 2)),  # CFAPlaneColor: indices above mean R, G, B
        TiffTag(50711, SHORT, (1,)),  # CFALayout: rectangular
        TiffTag(50717, LONG, (white,)),  # WhiteLevel
    ]
    if len(black) == 4:
        tags.append(TiffTag(50713, SHORT, (2, 2)))  # BlackLevelRepeatDim
    integral = all(v.is_integer() for v in black)
    tags.append(TiffTag(50714, LONG if integral else RATIONAL, black))  # BlackLevel
    return tags


def framing_tags(framing: DngFraming | None) -> list[TiffTag]:
    if framing is None:
        return []
    kinds = {"long": LONG, "rational": RATIONAL}
    return [TiffTag(code, kinds[kind], values) for code, kind, values in framing.tags()]
