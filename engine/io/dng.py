"""Writing DNG files (Bayer CFA and LinearRaw) that LibRaw/rawpy read back faithfully.

Two uses: the test suite and benchmarks make synthetic RAW files with :func:`write_cfa_dng`, and
the export step writes demosaiced linear data with :func:`write_linear_dng`, which raw editors
(Lightroom, darktable, RawTherapee) open as an editable RAW.

What LibRaw 0.22 needs, found by writing files and reading them back:

* Images smaller than 22x22 pixels are rejected as "not a RAW file", so the writer refuses them.
* Per-position black levels go in ``BlackLevelRepeatDim = (2, 2)`` plus four ``BlackLevel``
  values in row-major CFA order; rawpy reports them per colour index in
  ``black_level_per_channel`` (index 3 being the second green).
* ``ColorMatrix1`` ends up in ``raw.color_matrix`` (camera->sRGB, computed the dcraw way), never
  in ``raw.rgb_xyz_matrix``: that one stays zero for an unknown camera and is replaced by
  LibRaw's own table for a camera it knows, whatever the file says.
* ISO is read from the EXIF sub-IFD only (``ISOSpeedRatings`` in IFD0 is ignored), so the EXIF
  facts go in a real ExifIFD. tifffile cannot write one, so :func:`append_exif_ifd` adds it after
  tifffile has written the file.

The tags themselves (camera, colour, CFA layout and levels, framing) are built in
:mod:`engine.io.dng_tags`. The generic TIFF-structure helpers (:class:`~engine.io.tiff.TiffTag`,
:func:`~engine.io.tiff.exif_tags`, :func:`~engine.io.tiff.append_exif_ifd`) live in
:mod:`engine.io.tiff`, shared with :mod:`engine.io.export`; files are written atomically by
:func:`engine.files.atomic_file`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from typing import BinaryIO

import numpy as np

from engine.files import atomic_file
from engine.io.cfa import cfa_pattern_of
from engine.io.dng_tags import cfa_tags, dng_common_tags, framing_tags, identity_tags
from engine.io.framing import DngFraming, Rect, clip_rect
from engine.io.raw_metadata import XYZ_TO_SRGB, ExifInfo
from engine.io.tiff import LONG, TiffTag, append_exif_ifd

#: XYZ (D65) -> camera matrix used when none is given: Adobe's matrix for the Sony ILCE-7M3
#: (the same numbers LibRaw ships), so synthetic files render with realistic colour.
DEFAULT_XYZ_TO_CAM = np.array(
    [[0.7374, -0.2389, -0.0551], [-0.5435, 1.3162, 0.2519], [-0.1006, 0.1795, 0.6552]],
    dtype=np.float64,
)

#: LibRaw refuses images narrower or shorter than this ("Unsupported file format").
MIN_LIBRAW_SIZE = 22

# --------------------------------------------------------------------------------------------
# DNG writers


def _write_dng(
    path: str | os.PathLike[str],
    data: np.ndarray,
    photometric: int,
    ifd0: list[TiffTag],
    exif_ifd: list[TiffTag],
    software: str,
    overwrite: bool = True,
    finish: Callable[[bytes], bytes] | None = None,
    preview: np.ndarray | None = None,
) -> None:
    """Encode and write atomically; ``finish`` may rewrite the encoded bytes first (the
    export's metadata, :func:`engine.io.metadata.add_metadata`); ``preview`` as in
    :func:`_encode_dng`."""
    if finish is None:
        with atomic_file(path, overwrite=overwrite) as fh:
            _encode_dng(fh, data, photometric, ifd0, exif_ifd, software, preview)
        return
    buffer = io.BytesIO()
    _encode_dng(buffer, data, photometric, ifd0, exif_ifd, software, preview)
    encoded = finish(buffer.getvalue())
    del buffer
    with atomic_file(path, overwrite=overwrite) as fh:
        fh.write(encoded)


def _encode_dng(
    fh: BinaryIO,
    data: np.ndarray,
    photometric: int,
    ifd0: list[TiffTag],
    exif_ifd: list[TiffTag],
    software: str,
    preview: np.ndarray | None = None,
) -> None:
    """Write a DNG into the seekable binary file ``fh``: the image in IFD0 and, given a
    ``preview`` (``(h, w, 3)`` uint8 sRGB), a JPEG-compressed preview in IFD1."""
    import tifffile  # lazy: only writers need it

    with tifffile.TiffWriter(fh, byteorder="<") as tiff:
        tiff.write(
            data,
            photometric=photometric,
            planarconfig="contig" if data.ndim == 3 else None,
            # One uncompressed strip: a 12 MP mosaic is a single 24 MB write.
            rowsperstrip=data.shape[0],
            compression=None,
            subfiletype=0,  # NewSubfileType 0 marks the main (full-resolution) image
            software=software,
            metadata=None,  # no JSON ImageDescription
            extratags=[t.extratag() for t in ifd0 if t.code != 305],
        )
        if preview is not None:  # NewSubfileType 1: a reduced-resolution preview (DNG spec)
            # One strip, i.e. one whole JPEG: LibRaw (rawpy's extract_thumb) and other preview
            # extractors hand over the first strip only, which was 96 rows of a 1024 preview.
            tiff.write(np.ascontiguousarray(preview, dtype=np.uint8), photometric="rgb",
                       compression="jpeg", compressionargs={"level": 90}, subfiletype=1,
                       rowsperstrip=preview.shape[0], metadata=None)  # fmt: skip
    append_exif_ifd(fh, exif_ifd)


def write_cfa_dng(
    path: str | os.PathLike[str],
    mosaic: np.ndarray,
    cfa: str = "RGGB",
    black_level: float | Sequence[float] | np.ndarray = 0,
    white_level: int | None = None,
    wb_gains: Sequence[float] = (1.0, 1.0, 1.0),
    xyz_to_cam: np.ndarray | None = None,
    orientation: int = 1,
    exif: ExifInfo | None = None,
    make: str = "Darkroom",
    model: str = "Synthetic",
    framing: DngFraming | None = None,
    extra_tags: Sequence[TiffTag] = (),
    preview: np.ndarray | None = None,
    software: str = "Darkroom",
    overwrite: bool = True,
    finish: Callable[[bytes], bytes] | None = None,
) -> None:
    """Write a CFA DNG (Bayer or X-Trans; uncompressed, one strip) atomically.

    Args:
        path: destination; replaced atomically if it exists.
        mosaic: ``(H, W)`` integer array (uint16, or any integer dtype with values in
            0..65535), raw DN; ``H`` and ``W`` >= 22 (LibRaw's minimum), odd sizes allowed.
        cfa: colour layout of the top-left 2x2 block: ``"RGGB"``, ``"BGGR"``, ``"GRBG"`` or
            ``"GBRG"``; or a ``(2, 2)`` or ``(6, 6)`` array of colour indices (an X-Trans
            pattern, :func:`~engine.io.cfa.xtrans_pattern`).
        black_level: scalar, 4 values (row-major over the 2x2 block) or a ``(2, 2)`` array of
            black levels in DN per CFA position. Integers round-trip exactly through LibRaw.
        white_level: saturation in DN, ``1..65535``; ``None`` means 65535.
        wb_gains: as-shot white-balance multipliers (R, G, B), written as
            ``AsShotNeutral = 1 / wb_gains`` (rawpy reports them, up to scale, as
            ``camera_whitebalance``).
        xyz_to_cam: ``(3, 3)`` XYZ(D65) -> camera matrix for ``ColorMatrix1``;
            ``None`` uses :data:`DEFAULT_XYZ_TO_CAM`.
        orientation: TIFF Orientation 1..8 (1 = normal).
        exif: camera/exposure facts; its make/model (when set) take precedence over ``make`` and
            ``model``. ISO, exposure time, f-number, focal length, lens and date go into an
            ExifIFD where LibRaw reads them.
        make, model: camera names used when ``exif`` has none.
        framing: ActiveArea, DefaultCrop and DefaultScale tags to write (``cfa`` is the layout
            of the stored image's top-left block, not of the active area's).
        extra_tags: more IFD0 tags (an export's ``NoiseReductionApplied``).
        preview: ``(h, w, 3)`` uint8 sRGB, stored as a JPEG preview in IFD1.
        software: the Software tag.
        overwrite, finish: as for :func:`write_linear_dng`.

    Raises:
        ValueError: bad shape, values, layout or levels.
        OSError: the file could not be written (nothing is left behind).
    """
    arr = np.asarray(mosaic)
    if arr.ndim != 2:
        raise ValueError(f"mosaic must be 2-D (H, W), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"mosaic must be an integer array, got {arr.dtype}")
    if arr.shape[0] < MIN_LIBRAW_SIZE or arr.shape[1] < MIN_LIBRAW_SIZE:
        raise ValueError(
            f"mosaic must be at least {MIN_LIBRAW_SIZE}x{MIN_LIBRAW_SIZE} "
            f"(LibRaw rejects smaller images), got {arr.shape[1]}x{arr.shape[0]}"
        )
    if arr.dtype != np.uint16:
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ValueError("mosaic values must be in 0..65535")
        arr = arr.astype(np.uint16)
    pattern = cfa_pattern_of(cfa)
    white = 65535 if white_level is None else int(white_level)
    if not 0 < white <= 65535:
        raise ValueError(f"white_level must be in 1..65535, got {white_level}")
    black = np.asarray(black_level, dtype=np.float64)
    sizes = (1, 4) if pattern.shape == (2, 2) else (1,)
    if black.size not in sizes or not np.isfinite(black).all() or (black < 0).any():
        raise ValueError("black_level must be a scalar (or, for a Bayer layout, 4 values or a "
                         "2x2 array), all >= 0")  # fmt: skip
    if black.max() >= white:
        raise ValueError(f"black level {black.max():g} must be below white level {white}")
    black_values = tuple(float(v) for v in black.reshape(-1))

    ifd0, exif_ifd, unique_model = identity_tags(
        exif, make, model, default_model="Synthetic", orientation=orientation
    )
    ifd0 += dng_common_tags(
        unique_model=unique_model,
        xyz_to_cam=xyz_to_cam,
        default_matrix=DEFAULT_XYZ_TO_CAM,
        wb_gains=wb_gains,
    )
    ifd0 += cfa_tags(pattern, white, black_values)
    ifd0 += framing_tags(framing)
    ifd0 += list(extra_tags)
    _write_dng(path, arr, 32803, ifd0, exif_ifd, software=software, overwrite=overwrite,
               finish=finish, preview=preview)  # fmt: skip


def cfa_dng_bytes(mosaic: np.ndarray, cfa: str | np.ndarray) -> bytes:
    """A minimal CFA DNG in memory, for handing a mosaic to LibRaw (its demosaics).

    Args:
        mosaic: ``(H, W)`` uint16, black 0 and white 65535; at least
            :data:`MIN_LIBRAW_SIZE` pixels each way.
        cfa: layout of the top-left 2x2 block, or a 2x2 / 6x6 pattern (:func:`cfa_pattern_of`).
    """
    buffer = io.BytesIO()
    arr = np.ascontiguousarray(mosaic, dtype=np.uint16)
    pattern = cfa_pattern_of(cfa)
    ifd0, exif_ifd, unique_model = identity_tags(None, None, None, default_model="Mosaic",
                                                  orientation=1)  # fmt: skip
    ifd0 += dng_common_tags(
        unique_model=unique_model,
        xyz_to_cam=None,
        default_matrix=DEFAULT_XYZ_TO_CAM,
        wb_gains=(1.0, 1.0, 1.0),
    )
    ifd0 += cfa_tags(pattern, 65535, (0.0,))
    _encode_dng(buffer, arr, 32803, ifd0, exif_ifd, software="Darkroom")
    return buffer.getvalue()


def write_linear_dng(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    xyz_to_cam: np.ndarray | None = None,
    wb_gains: Sequence[float] = (1.0, 1.0, 1.0),
    orientation: int = 1,
    exif: ExifInfo | None = None,
    software: str = "Darkroom",
    default_crop: Rect | None = None,
    overwrite: bool = True,
    finish: Callable[[bytes], bytes] | None = None,
) -> None:
    """Write demosaiced linear data as a LinearRaw DNG (3 x 16-bit, uncompressed) atomically.

    Args:
        path: destination; replaced atomically if it exists.
        rgb: ``(H, W, 3)`` float linear camera RGB in [0, 1] (1.0 = white level), *before*
            white balance when ``wb_gains`` is given (raw converters apply ``AsShotNeutral``);
            values outside [0, 1] are clipped, NaN becomes 0. Stored as round(x * 65535).
            ``H`` and ``W`` >= 22.
        xyz_to_cam: ``(3, 3)`` XYZ(D65) -> camera matrix; ``None`` means the data is in linear
            sRGB primaries (XYZ -> linear sRGB matrix).
        wb_gains: as-shot white-balance multipliers (R, G, B); ``(1, 1, 1)`` for data that is
            already white-balanced.
        orientation: TIFF Orientation 1..8 (1 for pixels already upright).
        exif: written to Make/Model/UniqueCameraModel and an ExifIFD.
        software: the Software tag.
        default_crop: the picture within ``rgb`` as stored (``(top, left, height, width)``,
            before ``orientation``, as DNG defines it), written as DefaultCropOrigin /
            DefaultCropSize; ``None``: all of it.
        overwrite: replace an existing ``path``; ``False`` raises :class:`FileExistsError`
            if it exists when the file is complete (nothing is left behind).
        finish: rewrites the encoded file's bytes before they are written (metadata).

    Raises:
        ValueError: bad shape or parameters.
        OSError: the file could not be written (nothing is left behind).

    rawpy opens the result with ``raw_type == RawType.Stack``; its ``raw_image`` is
    ``(H, W, 4)`` uint16 (the three stored planes plus an unused zero plane), and
    ``postprocess()`` renders it like any RAW.
    """
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"rgb must be (H, W, 3), got shape {arr.shape}")
    if arr.shape[0] < MIN_LIBRAW_SIZE or arr.shape[1] < MIN_LIBRAW_SIZE:
        raise ValueError(
            f"image must be at least {MIN_LIBRAW_SIZE}x{MIN_LIBRAW_SIZE} "
            f"(LibRaw rejects smaller images), got {arr.shape[1]}x{arr.shape[0]}"
        )
    data = np.nan_to_num(arr.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=0.0)
    data = (np.clip(data, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)

    ifd0, exif_ifd, unique_model = identity_tags(
        exif, None, None, default_model="Linear", orientation=orientation
    )
    ifd0 += dng_common_tags(
        unique_model=unique_model,
        xyz_to_cam=xyz_to_cam,
        default_matrix=XYZ_TO_SRGB,
        wb_gains=wb_gains,
    )
    ifd0 += [
        TiffTag(50714, LONG, (0, 0, 0)),  # BlackLevel, one per sample
        TiffTag(50717, LONG, (65535, 65535, 65535)),  # WhiteLevel, one per sample
    ]
    if default_crop is not None:
        if clip_rect(default_crop, *data.shape[:2]) != tuple(default_crop):
            raise ValueError(f"default_crop {default_crop} is not inside the image")
        ifd0 += framing_tags(DngFraming(crop=tuple(default_crop)))  # type: ignore[arg-type]
    _write_dng(path, data, 34892, ifd0, exif_ifd, software=software or "Darkroom",
               overwrite=overwrite, finish=finish)  # fmt: skip
