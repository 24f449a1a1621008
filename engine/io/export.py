"""Final image export: JPEG, TIFF, PNG (from the display image) or DNG (from linear data).

:class:`ExportOptions` says how (format, bit depth, quality, metadata, overwrite) and checks
itself once, when it is made; :func:`write_rendered` writes a render with them, which is what
the CLI, the window and batch jobs all call. :func:`write_image` (display pixels) and
:func:`write_dng` (linear camera RGB) are the two halves it dispatches to.

Every write goes through :func:`engine.files.atomic_file`: an interrupted export (error, disk
full, cancel) never leaves a partial file, and a failed overwrite keeps the previous file.
The encoders and what EXIF each format carries are in :mod:`engine.io.encoders`, where an
export may go and how a failed write is said in :mod:`engine.io.destination`.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine.errors import ExportError
from engine.files import atomic_file
from engine.io import encoders
from engine.io.destination import check_destination, make_folder, writing
from engine.io.dng import MIN_LIBRAW_SIZE, write_linear_dng
from engine.io.framing import Rect
from engine.io.metadata import Processing, add_metadata, software
from engine.io.naming import FORMATS, format_for_path, normalise_format
from engine.io.raw_metadata import ExifInfo

#: What a DNG export holds: demosaiced linear camera RGB, or a Bayer mosaic (see ExportOptions).
DNG_KINDS = ("linear", "cfa")


@dataclass(frozen=True)
class ExportOptions:
    """How a render is written; checked once, when made.

    Attributes:
        fmt: ``"jpeg"``, ``"tiff"``, ``"png"`` or ``"dng"`` (aliases ``"jpg"``, ``"tif"`` and
            any case are normalised).
        bits: 8 or 16; JPEG is 8-bit only; DNG is always written in 16 bits.
        quality: JPEG quality, a whole number 1..100 (other formats ignore it).
        keep_metadata: carry the camera's EXIF facts over.
        overwrite: replace an existing file instead of refusing.
        dng_kind: for DNG, ``"linear"`` (demosaiced camera RGB) or ``"cfa"`` (the enhanced
            image re-mosaiced on the RAW's own Bayer pattern, as darktable's neural restore
            writes it; Bayer RAWs only).

    Raises:
        ExportError: an unknown format, bits the format cannot hold, a bad JPEG quality.
    """

    fmt: str = "jpeg"
    bits: int = 8
    quality: int = 95
    keep_metadata: bool = True
    overwrite: bool = False
    dng_kind: str = "linear"

    def __post_init__(self) -> None:
        fmt = normalise_format(self.fmt)
        object.__setattr__(self, "fmt", fmt)
        if self.dng_kind not in DNG_KINDS:
            raise ExportError(f"unknown DNG kind {self.dng_kind!r} (use linear or cfa)")
        if self.bits not in (8, 16):
            raise ExportError(f"bit depth must be 8 or 16, not {self.bits}")
        if fmt == "jpeg" and self.bits != 8:
            raise ExportError("JPEG is 8-bit only; use TIFF or PNG for 16 bits")
        q = self.quality
        if isinstance(q, bool) or not isinstance(q, int | np.integer) or not 1 <= q <= 100:
            raise ExportError(f"JPEG quality must be a whole number from 1 to 100, got {q!r}")

    @classmethod
    def for_path(cls, path: str | os.PathLike[str], **changes: Any) -> ExportOptions:
        """Options whose format is the one ``path``'s suffix names (``fmt`` may override)."""
        if "fmt" not in changes:
            changes["fmt"] = format_for_path(path)
        return cls(**changes)

    @property
    def suffix(self) -> str:
        """The suffix new files of this format get, e.g. ``".jpg"``."""
        return FORMATS[self.fmt]

    def with_changes(self, **changes: Any) -> ExportOptions:
        return replace(self, **changes)


class RenderedImage(Protocol):
    """What :func:`write_rendered` needs of a render (:class:`engine.render.Rendered` is one).

    ``srgb``: ``(H, W, 3)`` float32 sRGB-encoded display image in [0, 1], the picture,
    oriented; ``linear``: ``(H', W', 3)`` float32 linear RGB in [0, 1], oriented, before white
    balance, possibly with borders around the picture; ``linear_crop``: where the picture lies
    in ``linear`` (``None``: all of it); ``xyz_to_cam``: ``(3, 3)`` XYZ -> the space of
    ``linear``; ``wb_gains``: ``(3,)`` white balance still to apply to ``linear``.
    """

    @property
    def srgb(self) -> np.ndarray: ...

    @property
    def linear(self) -> np.ndarray: ...

    @property
    def linear_crop(self) -> Rect | None: ...

    @property
    def xyz_to_cam(self) -> np.ndarray: ...

    @property
    def wb_gains(self) -> np.ndarray: ...


def write_rendered(
    rendered: RenderedImage,
    path: str | os.PathLike[str],
    options: ExportOptions,
    *,
    exif: ExifInfo | None = None,
    source_path: str | os.PathLike[str] | None = None,
    cfa: str | None = None,
) -> Path:
    """Write a render as ``options`` say and return the path (see :func:`write_image`); its
    ``model``, ``ratio`` and ``amount``, where it has them, go into the file's XMP.

    Args:
        cfa: the source's Bayer layout (``"RGGB"``...), needed for a mosaic DNG
            (``options.dng_kind == "cfa"``), which also needs ``rendered.linear_sensor``,
            ``orientation`` and ``crop`` (an :class:`engine.render.Rendered` has them).
    """
    how = Processing(getattr(rendered, "model", None), getattr(rendered, "ratio", None),
                     getattr(rendered, "amount", None))  # fmt: skip
    if options.fmt == "dng" and options.dng_kind == "cfa":
        return write_mosaic_dng(path, rendered, cfa, options, exif=exif,
                                source_path=source_path, processing=how)  # fmt: skip
    if options.fmt == "dng":
        return write_dng(
            path, rendered.linear, options, xyz_to_cam=rendered.xyz_to_cam,
            wb_gains=rendered.wb_gains, exif=exif, source_path=source_path,
            default_crop=rendered.linear_crop, processing=how,
        )  # fmt: skip
    return write_image(path, rendered.srgb, options, exif=exif, source_path=source_path,
                       processing=how)  # fmt: skip


def write_image(
    path: str | os.PathLike[str],
    srgb: np.ndarray,
    options: ExportOptions | None = None,
    *,
    exif: ExifInfo | None = None,
    source_path: str | os.PathLike[str] | None = None,
    processing: Processing | None = None,
) -> Path:
    """Write a display image as JPEG, TIFF or PNG, atomically, and return its path.

    Args:
        path: destination file; missing parent folders are created.
        srgb: ``(H, W, 3)`` float32 sRGB-encoded display image in [0, 1] with orientation
            already applied; values are clipped and rounded to 8/16 bit.
        options: format and settings (``None``: the format ``path``'s suffix names).
        exif: camera facts to carry over when the source's own metadata cannot be read
            (:mod:`engine.io.metadata`; nothing of the camera's without
            ``options.keep_metadata``).
        source_path: the input RAW file: its metadata is copied; writing onto it is refused.
        processing: how the image was made (model, ratio, amount), for its XMP.

    Raises:
        ExportError: DNG asked for (it needs linear data: :func:`write_dng`), output equal to
            the input, existing output without ``overwrite``, folder not creatable or not
            writable, or any write failure (nothing is left on disk in that case).
        ValueError: ``srgb`` of the wrong shape (a programming error, not a user one).
    """
    options = options or ExportOptions.for_path(path)
    if options.fmt == "dng":
        raise ExportError("DNG export needs the linear (un-tone-mapped) image; none was given")
    dest = check_destination(path, options, source_path)
    pixels = encoders.to_uint(srgb, options.bits)
    make_folder(dest)
    with writing(dest, options.fmt):
        buffer = io.BytesIO()
        encoders.encode_display(buffer, options.fmt, pixels, int(options.quality))
        data = add_metadata(buffer.getvalue(), options.fmt, (pixels.shape[1], pixels.shape[0]),
                            source_path=source_path, facts=exif, keep=options.keep_metadata,
                            processing=processing)  # fmt: skip
        del buffer
        with atomic_file(dest, overwrite=options.overwrite) as fh:
            fh.write(data)
    return dest


def write_dng(
    path: str | os.PathLike[str],
    linear: np.ndarray,
    options: ExportOptions | None = None,
    *,
    xyz_to_cam: np.ndarray | None = None,
    wb_gains: tuple[float, float, float] | np.ndarray | None = None,
    exif: ExifInfo | None = None,
    source_path: str | os.PathLike[str] | None = None,
    default_crop: Rect | None = None,
    processing: Processing | None = None,
) -> Path:
    """Write linear data as a LinearRaw DNG, atomically, and return its path.

    Args:
        linear: ``(H, W, 3)`` float32 linear camera RGB in [0, 1], orientation applied, before
            white balance (see :func:`engine.io.dng.write_linear_dng`).
        xyz_to_cam: the XYZ->camera matrix of ``linear``; ``None`` = sRGB primaries.
        wb_gains: the white-balance gains still to apply; ``None``: already balanced.
        default_crop: the picture within ``linear`` (DNG DefaultCrop); ``None``: all of it.
        path, options, exif, source_path, processing: as for :func:`write_image`.

    Raises:
        ExportError: as :func:`write_image`, or an image too small for raw converters.
    """
    options = options or ExportOptions(fmt="dng")
    dest = check_destination(path, options, source_path)
    lin = np.asarray(linear)
    if lin.ndim != 3 or lin.shape[2] != 3:
        raise ValueError(f"linear must be an (H, W, 3) array, got shape {lin.shape}")
    if min(lin.shape[:2]) < MIN_LIBRAW_SIZE:
        raise ExportError(
            f"{dest}: image too small for DNG ({lin.shape[1]}x{lin.shape[0]}, raw "
            f"converters need at least {MIN_LIBRAW_SIZE}x{MIN_LIBRAW_SIZE})"
        )
    make_folder(dest)

    def with_metadata(data: bytes) -> bytes:
        return add_metadata(data, "dng", (lin.shape[1], lin.shape[0]), source_path=source_path,
                            facts=exif, keep=options.keep_metadata,
                            processing=processing)  # fmt: skip

    with writing(dest, "dng"):
        write_linear_dng(dest, lin, xyz_to_cam=xyz_to_cam,
                         wb_gains=(1.0, 1.0, 1.0) if wb_gains is None else tuple(wb_gains),
                         orientation=1, exif=exif if options.keep_metadata else None,
                         software=software(), default_crop=default_crop,
                         overwrite=options.overwrite, finish=with_metadata)  # fmt: skip
    return dest


#: DNG NoiseReductionApplied: 1 says "noise reduction was applied" (DNG 1.3).
_NOISE_REDUCTION_APPLIED = 51110
#: Longer side of the JPEG preview a mosaic DNG carries, pixels.
PREVIEW_SIDE = 1024


def write_mosaic_dng(
    path: str | os.PathLike[str],
    rendered: Any,
    cfa: str | None,
    options: ExportOptions,
    *,
    exif: ExifInfo | None = None,
    source_path: str | os.PathLike[str] | None = None,
    processing: Processing | None = None,
) -> Path:
    """Write the render re-mosaiced on the RAW's Bayer pattern as a CFA DNG, atomically.

    The enhanced linear camera RGB on the sensor's own grid (``rendered.linear_sensor``,
    ``(H, W, 3)`` in [0, 1], 1 = the clip point after the exposure gain) keeps, at each
    photosite, the channel the CFA puts there; stored as 16 bits with black 0 and the white
    level at 65535, i.e. right after the gain. Beside it: ColorMatrix1 with
    CalibrationIlluminant1 (D65), AsShotNeutral from the white balance, the picture as
    DefaultCrop, the source's Orientation, ``NoiseReductionApplied`` 1, a JPEG preview
    (:data:`PREVIEW_SIDE` pixels) and all of the source's metadata
    (:func:`engine.io.metadata.add_metadata`). Raw converters then demosaic and develop it as
    they would the original, minus the noise.

    Raises:
        ExportError: the source is not a Bayer RAW, the image is too small, or as
            :func:`write_image`.
    """
    from engine.io.cfa import BAYER_LAYOUTS, cfa_from_name, tile_pattern
    from engine.io.dng import write_cfa_dng
    from engine.io.dng_tags import FLIP_TO_TIFF_ORIENTATION
    from engine.io.framing import DngFraming
    from engine.io.tiff import RATIONAL, TiffTag

    dest = check_destination(path, options, source_path)
    if cfa is None or cfa.upper() not in BAYER_LAYOUTS:
        raise ExportError(f"{dest}: a mosaic DNG needs a Bayer RAW (this one is "
                          f"{cfa or 'not a RAW mosaic'}); export a linear DNG instead")  # fmt: skip
    linear = np.asarray(rendered.linear_sensor, dtype=np.float32)
    height, width = linear.shape[:2]
    if min(height, width) < MIN_LIBRAW_SIZE:
        raise ExportError(f"{dest}: image too small for DNG ({width}x{height})")
    pattern = cfa_from_name(cfa)
    colour = tile_pattern(pattern, height, width)
    picked = np.take_along_axis(linear, colour[..., None].astype(np.intp), axis=2)[..., 0]
    mosaic = np.rint(np.clip(np.nan_to_num(picked), 0.0, 1.0) * 65535.0).astype(np.uint16)
    preview = _preview(rendered.srgb)
    crop = getattr(rendered, "crop", None)
    orientation = FLIP_TO_TIFF_ORIENTATION[int(rendered.orientation)]  # LibRaw flip -> TIFF

    def with_metadata(data: bytes) -> bytes:
        return add_metadata(data, "dng", (width, height), source_path=source_path, facts=exif,
                            keep=options.keep_metadata, processing=processing,
                            orientation=orientation)  # fmt: skip

    make_folder(dest)
    with writing(dest, "dng"):
        write_cfa_dng(dest, mosaic, cfa=cfa.upper(), black_level=0, white_level=65535,
                      wb_gains=tuple(float(g) for g in rendered.wb_gains),
                      xyz_to_cam=rendered.xyz_to_cam, orientation=orientation,
                      exif=exif if options.keep_metadata else None,
                      framing=DngFraming(crop=tuple(crop)) if crop is not None else None,
                      extra_tags=[TiffTag(_NOISE_REDUCTION_APPLIED, RATIONAL, (1.0,))],
                      preview=preview, software=software(), overwrite=options.overwrite,
                      finish=with_metadata)  # fmt: skip
    return dest


def _preview(srgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` float sRGB -> uint8, its longer side at most :data:`PREVIEW_SIDE`."""
    import cv2

    pixels = encoders.to_uint(srgb, 8)
    scale = PREVIEW_SIDE / max(pixels.shape[:2])
    if scale < 1:
        size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    return pixels
