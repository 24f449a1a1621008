"""Encoders of the display formats: JPEG, TIFF and PNG bytes with their EXIF.

How EXIF is carried (Make, Model, ExposureTime, ISO, DateTimeOriginal, FNumber, FocalLength,
LensModel when known, plus Software="Darkroom", Orientation=1 and ColorSpace=sRGB):

* JPEG (Pillow): an APP1 ``Exif`` segment.
* TIFF (tifffile): Make/Model/Orientation/Software/DateTime in IFD0, the rest in a real ExifIFD
  appended by :func:`engine.io.tiff.append_exif_ifd` (tifffile cannot write one itself).
* PNG (OpenCV encoder, because Pillow cannot write 16-bit RGB PNG): an ``eXIf`` chunk (PNG 1.5)
  and an ``sRGB`` chunk spliced in after ``IHDR``; same for 8 and 16 bit.

Orientation is always 1: the caller has already rotated the pixels. Each encoder writes one
complete file to an open binary file (an :func:`engine.files.atomic_file`); they are
module-level so tests can replace them.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

from engine.io.raw_metadata import ExifInfo
from engine.io.tiff import SHORT, TiffTag, append_exif_ifd, exif_tags, exif_tiff_blob

SOFTWARE = "Darkroom"


def to_uint(srgb: np.ndarray, bits: int) -> np.ndarray:
    """``(H, W, 3)`` float in [0, 1] -> contiguous uint8/uint16, rounded, NaN -> 0.

    Raises:
        ValueError: not a non-empty ``(H, W, 3)`` array (a programming error).
    """
    arr = np.asarray(srgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"srgb must be a non-empty (H, W, 3) array, got shape {arr.shape}")
    import torch  # multi-threaded and one pass per op; numpy's version took 0.5 s at 12 MP

    scale = 255.0 if bits == 8 else 65535.0
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    t = t.nan_to_num(nan=0.0, posinf=1.0, neginf=0.0).clamp_(0.0, 1.0).mul_(scale).add_(0.5)
    # Float -> int32 in torch, then narrow in numpy: torch's direct float -> uint8 cast is slow.
    return t.to(torch.int32).numpy().astype(np.uint8 if bits == 8 else np.uint16)


def export_tags(exif: ExifInfo | None) -> tuple[list[TiffTag], list[TiffTag]]:
    """IFD0 and ExifIFD tags of an exported sRGB image (Orientation 1, ColorSpace sRGB)."""
    ifd0, sub = exif_tags(exif, software=SOFTWARE, orientation=1)
    sub.append(TiffTag(40961, SHORT, (1,)))  # ColorSpace = sRGB
    return ifd0, sub


def encode_jpeg(fh: BinaryIO, pixels: np.ndarray, quality: int, exif_blob: bytes) -> None:
    """8-bit ``(H, W, 3)`` pixels as a JPEG with an ``Exif`` APP1 segment."""
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


def encode_png(fh: BinaryIO, pixels: np.ndarray, exif_blob: bytes) -> None:
    """8- or 16-bit ``(H, W, 3)`` pixels as a PNG with ``sRGB`` and ``eXIf`` chunks."""
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


def encode_tiff(
    fh: BinaryIO, pixels: np.ndarray, ifd0: list[TiffTag], exif_ifd: list[TiffTag]
) -> None:
    """8- or 16-bit ``(H, W, 3)`` pixels as an uncompressed TIFF with a real ExifIFD."""
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


def encode_display(
    fh: BinaryIO, fmt: str, pixels: np.ndarray, quality: int, exif: ExifInfo | None
) -> None:
    """Encode ``pixels`` as ``fmt`` (``"jpeg"``, ``"png"`` or ``"tiff"``) into ``fh``."""
    ifd0, exif_ifd = export_tags(exif)
    if fmt == "jpeg":
        encode_jpeg(fh, pixels, quality, exif_tiff_blob(ifd0, exif_ifd))
    elif fmt == "png":
        encode_png(fh, pixels, exif_tiff_blob(ifd0, exif_ifd))
    elif fmt == "tiff":
        encode_tiff(fh, pixels, ifd0, exif_ifd)
    else:
        raise ValueError(f"not a display format: {fmt!r}")
