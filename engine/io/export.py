"""Final image export: JPEG, TIFF, PNG (from the display image) or DNG (from linear data).

Every write is atomic: pixels go to ``.<name>.<random>.part`` in the destination folder, which
is fsynced and renamed over the final name only when complete, and removed on any failure, so
an interrupted export (error, disk full, cancel) never leaves a partial file.

How EXIF is carried (Make, Model, ExposureTime, ISO, DateTimeOriginal, FNumber, FocalLength,
LensModel when known, plus Software="Darkroom", Orientation=1 and ColorSpace=sRGB):

* JPEG (Pillow): an APP1 ``Exif`` segment.
* TIFF (tifffile): Make/Model/Orientation/Software/DateTime in IFD0, the rest in a real ExifIFD
  appended by :func:`engine.io.dng.append_exif_ifd` (tifffile cannot write one itself).
* PNG (OpenCV encoder, because Pillow cannot write 16-bit RGB PNG): an ``eXIf`` chunk (PNG 1.5)
  and an ``sRGB`` chunk spliced in after ``IHDR``; same for 8 and 16 bit.
* DNG: :func:`engine.io.dng.write_linear_dng` (IFD0 + ExifIFD).

Orientation is always 1: the caller has already rotated the pixels.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from engine.errors import Cancelled, DarkroomError, ExportError
from engine.files import atomic_file
from engine.io.dng import MIN_LIBRAW_SIZE, write_linear_dng
from engine.io.raw import ExifInfo
from engine.io.tiff import (
    SHORT,
    TiffTag,
    append_exif_ifd,
    exif_tags,
    exif_tiff_blob,
)

#: Export formats and the suffix used for new files.
FORMATS: dict[str, str] = {"jpeg": ".jpg", "tiff": ".tif", "png": ".png", "dng": ".dng"}

_SUFFIXES = {".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff", ".png": "png",
             ".dng": "dng"}  # fmt: skip
_ALIASES = {"jpg": "jpeg", "tif": "tiff"}
SOFTWARE = "Darkroom"


def normalise_format(fmt: str) -> str:
    """A format name or alias (``"JPG"``, ``".tif"``) as a :data:`FORMATS` key.

    Raises:
        ExportError: not a known format.
    """
    name = fmt.strip().lower().lstrip(".")
    name = _ALIASES.get(name, name)
    if name not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r} (use one of: {', '.join(FORMATS)})")
    return name


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The export format implied by a file name's suffix, e.g. ``"x.JPG"`` -> ``"jpeg"``.

    Raises:
        ExportError: the suffix is not one of .jpg .jpeg .tif .tiff .png .dng.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        known = " ".join(sorted(_SUFFIXES))
        raise ExportError(
            f"{path}: cannot tell the format from the suffix {suffix or '(none)'!r} "
            f"(use one of {known})"
        )
    return _SUFFIXES[suffix]


def output_path_for(
    input_path: str | os.PathLike[str], out_dir: str | os.PathLike[str], fmt: str
) -> Path:
    """``<out_dir>/<input stem><format suffix>``, e.g. ``(a/IMG_1.ARW, out, "jpeg")`` ->
    ``out/IMG_1.jpg``."""
    return Path(out_dir) / (Path(input_path).stem + FORMATS[normalise_format(fmt)])


def _to_uint(srgb: np.ndarray, bits: int) -> np.ndarray:
    """``(H, W, 3)`` float in [0, 1] -> contiguous uint8/uint16, rounded, NaN -> 0."""
    arr = np.asarray(srgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"srgb must be a non-empty (H, W, 3) array, got shape {arr.shape}")
    import torch  # multi-threaded and one pass per op; numpy's version took 0.5 s at 12 MP

    scale = 255.0 if bits == 8 else 65535.0
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    t = t.nan_to_num(nan=0.0, posinf=1.0, neginf=0.0).clamp_(0.0, 1.0).mul_(scale).add_(0.5)
    # Float -> int32 in torch, then narrow in numpy: torch's direct float -> uint8 cast is slow.
    return t.to(torch.int32).numpy().astype(np.uint8 if bits == 8 else np.uint16)


def _export_tags(exif: ExifInfo | None) -> tuple[list[TiffTag], list[TiffTag]]:
    ifd0, sub = exif_tags(exif, software=SOFTWARE, orientation=1)
    sub.append(TiffTag(40961, SHORT, (1,)))  # ColorSpace = sRGB
    return ifd0, sub


# Encoders: each writes one complete file to ``fh``. Module-level so tests can replace them.


def _encode_jpeg(fh: BinaryIO, pixels: np.ndarray, quality: int, exif_blob: bytes) -> None:
    from PIL import Image

    # Chroma subsampling visibly softens saturated edges; skip it at high quality settings.
    subsampling = 0 if quality >= 90 else 2
    Image.fromarray(pixels, "RGB").save(
        fh,
        format="JPEG",
        quality=quality,
        subsampling=subsampling,
        exif=b"Exif\x00\x00" + exif_blob,
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _encode_png(fh: BinaryIO, pixels: np.ndarray, exif_blob: bytes) -> None:
    import cv2

    # OpenCV expects BGR channel order.
    ok, buf = cv2.imencode(".png", pixels[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError("PNG encoder failed")
    png = buf.tobytes()
    # Signature (8) + IHDR chunk (4 length + 4 type + 13 data + 4 CRC); the extra chunks must
    # precede IDAT, so they go right after IHDR.
    if png[12:16] != b"IHDR":
        raise RuntimeError("unexpected PNG layout from the encoder")
    extra = _png_chunk(b"sRGB", b"\x00") + _png_chunk(b"eXIf", exif_blob)
    fh.write(png[:33] + extra + png[33:])


def _encode_tiff(
    fh: BinaryIO, pixels: np.ndarray, ifd0: list[TiffTag], exif_ifd: list[TiffTag]
) -> None:
    import tifffile

    tifffile.imwrite(
        fh,
        pixels,
        byteorder="<",
        photometric="rgb",
        planarconfig="contig",
        compression=None,  # uncompressed: fastest and readable everywhere
        software=SOFTWARE,
        metadata=None,
        extratags=[t.extratag() for t in ifd0 if t.code != 305],
    )
    append_exif_ifd(fh, exif_ifd)


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
        # Hard links and case-insensitive file systems: different names, same file.
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def write_image(
    path: str | os.PathLike[str],
    srgb: np.ndarray | None,
    *,
    fmt: str | None = None,
    bits: int = 8,
    quality: int = 95,
    exif: ExifInfo | None = None,
    linear: np.ndarray | None = None,
    xyz_to_cam: np.ndarray | None = None,
    wb_gains: tuple[float, float, float] | np.ndarray | None = None,
    overwrite: bool = False,
    source_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Write the final image atomically and return its path.

    Args:
        path: destination file; missing parent folders are created.
        srgb: ``(H, W, 3)`` float32 sRGB-encoded display image in [0, 1] with orientation
            already applied; values are clipped and rounded to 8/16 bit. Unused (may be
            ``None``) for DNG.
        fmt: ``"jpeg"``, ``"tiff"``, ``"png"`` or ``"dng"`` (``"jpg"``/``"tif"`` accepted);
            ``None`` infers it from the suffix of ``path``.
        bits: 8 or 16 for TIFF and PNG; JPEG is 8-bit only; DNG is always 16-bit.
        quality: JPEG quality 1..100.
        exif: camera facts to carry over (Orientation is always written as 1).
        linear: for DNG, ``(H, W, 3)`` float32 linear camera RGB in [0, 1], orientation applied,
            before white balance (see :func:`engine.io.dng.write_linear_dng`).
        xyz_to_cam: for DNG, the XYZ->camera matrix of ``linear``; ``None`` = sRGB primaries.
        wb_gains: for DNG, the white-balance gains still to apply to ``linear``; ``None`` means
            it is already balanced.
        overwrite: replace an existing file instead of refusing.
        source_path: the input RAW file; writing onto it is always refused.

    Raises:
        ExportError: unknown format, bad bits/quality, missing ``linear`` for DNG, output equal
            to the input, existing output without ``overwrite``, folder not creatable or not
            writable, or any write failure (nothing is left on disk in that case).
        ValueError: arrays of the wrong shape (a programming error, not a user one).
    """
    dest = Path(path)
    fmt = format_for_path(dest) if fmt is None else normalise_format(fmt)
    if fmt == "jpeg" and bits != 8:
        raise ExportError(f"JPEG is 8-bit only (got {bits}-bit); use TIFF or PNG for 16-bit")
    if fmt in ("tiff", "png") and bits not in (8, 16):
        raise ExportError(f"{fmt.upper()} export supports 8 or 16 bits, not {bits}")
    if fmt == "jpeg" and (
        isinstance(quality, bool)
        or not isinstance(quality, int | np.integer)
        or not 1 <= quality <= 100
    ):
        raise ExportError(f"JPEG quality must be a whole number from 1 to 100, got {quality!r}")
    if fmt == "dng" and linear is None:
        raise ExportError("DNG export needs the linear (un-tone-mapped) image; none was given")

    if source_path is not None and _same_file(Path(source_path), dest):
        raise ExportError(f"{dest}: output would overwrite the input")
    if dest.is_dir():
        raise ExportError(f"{dest}: is a folder")
    if (dest.exists() or dest.is_symlink()) and not overwrite:
        raise ExportError(f"{dest}: file exists (use --overwrite)")

    pixels: np.ndarray | None = None
    lin: np.ndarray | None = None
    if fmt == "dng":
        lin = np.asarray(linear)
        if lin.ndim != 3 or lin.shape[2] != 3:
            raise ValueError(f"linear must be an (H, W, 3) array, got shape {lin.shape}")
        if min(lin.shape[:2]) < MIN_LIBRAW_SIZE:
            raise ExportError(
                f"{dest}: image too small for DNG ({lin.shape[1]}x{lin.shape[0]}, raw "
                f"converters need at least {MIN_LIBRAW_SIZE}x{MIN_LIBRAW_SIZE})"
            )
    else:
        pixels = _to_uint(srgb, bits)  # type: ignore[arg-type]

    parent = dest.parent
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise ExportError(f"{existing}: is a file, not a folder; cannot write {dest.name} there")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{parent}: cannot create output folder ({_reason(exc)})") from None
    if not parent.is_dir():
        raise ExportError(f"{parent}: not a folder")

    ifd0, exif_ifd = _export_tags(exif)
    try:
        if lin is not None:
            write_linear_dng(
                dest,
                lin,
                xyz_to_cam=xyz_to_cam,
                wb_gains=(1.0, 1.0, 1.0) if wb_gains is None else tuple(wb_gains),
                orientation=1,
                exif=exif,
                software=SOFTWARE,
            )
        elif pixels is not None:
            with atomic_file(dest) as fh:
                if fmt == "jpeg":
                    _encode_jpeg(fh, pixels, int(quality), exif_tiff_blob(ifd0, exif_ifd))
                elif fmt == "png":
                    _encode_png(fh, pixels, exif_tiff_blob(ifd0, exif_ifd))
                else:
                    _encode_tiff(fh, pixels, ifd0, exif_ifd)
    except (DarkroomError, Cancelled):
        raise
    except PermissionError:
        raise ExportError(f"{parent}: folder is not writable (permission denied)") from None
    except OSError as exc:
        raise ExportError(f"{dest}: could not write ({_reason(exc)})") from exc
    except Exception as exc:  # any encoder failure becomes one line
        raise ExportError(f"{dest}: could not write {fmt.upper()} ({_reason(exc)})") from exc
    return dest
