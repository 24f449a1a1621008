"""TIFF/EXIF structure helpers of the DNG writer (exports get their metadata from exiv2:
:mod:`engine.io.metadata`).

* :class:`TiffTag`: one TIFF/EXIF field, packed to bytes or given to tifffile as an extratag;
* :func:`exif_tags`: an :class:`~engine.io.raw.ExifInfo` split into IFD0 and ExifIFD tags;
* :func:`append_exif_ifd`: gives a file tifffile wrote a real ExifIFD (tifffile cannot write
  IFD-pointer tags itself);

Used by :mod:`engine.io.dng` (the CFA DNGs tests and tools make, and the linear DNG export
before exiv2 adds the source's metadata).
"""

from __future__ import annotations

import math
import os
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO

from engine.io.raw_metadata import ExifInfo

# TIFF field types used here.
BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED, SRATIONAL = 1, 2, 3, 4, 5, 7, 10

_EXIF_IFD = 34665
_DATETIME_RE = re.compile(r"^\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}$")


# --------------------------------------------------------------------------------------------
# TIFF tag helpers


@dataclass(frozen=True)
class TiffTag:
    """One TIFF/EXIF field.

    Attributes:
        code: tag number, e.g. 271 for Make.
        dtype: TIFF field type (``BYTE``, ``ASCII``, ``SHORT``, ``LONG``, ``RATIONAL``,
            ``UNDEFINED`` or ``SRATIONAL``).
        value: a ``str`` for ASCII, ``bytes`` for UNDEFINED, otherwise a tuple of numbers
            (floats for the rational types, converted to fractions when packed).
    """

    code: int
    dtype: int
    value: str | bytes | tuple[float, ...]

    def _payload(self) -> tuple[int, list[int] | bytes]:
        """(count, ints or raw bytes) as stored in the file."""
        if self.dtype == ASCII:
            assert isinstance(self.value, str)
            data = _ascii(self.value) + b"\x00"
            return len(data), data
        if self.dtype == UNDEFINED:
            assert isinstance(self.value, bytes)
            return len(self.value), self.value
        assert isinstance(self.value, tuple)
        if self.dtype in (RATIONAL, SRATIONAL):
            ints: list[int] = []
            for v in self.value:
                ints.extend(_rational(float(v), signed=self.dtype == SRATIONAL))
            return len(self.value), ints
        return len(self.value), [int(v) for v in self.value]

    def pack_value(self, byteorder: str) -> tuple[int, bytes]:
        """(count, value bytes) in ``byteorder`` (``"<"`` or ``">"``)."""
        count, payload = self._payload()
        if isinstance(payload, bytes):
            return count, payload
        fmt = {BYTE: "B", SHORT: "H", LONG: "I", RATIONAL: "I", SRATIONAL: "i"}[self.dtype]
        return count, struct.pack(f"{byteorder}{len(payload)}{fmt}", *payload)

    def extratag(self) -> tuple[int, int, int, bytes | tuple[int, ...], bool]:
        """The tag as a tifffile ``extratags`` tuple (code, dtype, count, value, writeonce)."""
        count, payload = self._payload()
        # Numbers go in unpacked: tifffile miscounts rationals given as packed bytes.
        value = payload if isinstance(payload, bytes) else tuple(payload)
        return (self.code, self.dtype, count, value, True)


def _ascii(text: str) -> bytes:
    # TIFF ASCII fields are 7-bit; a non-ASCII lens or camera name loses only those letters.
    return text.encode("ascii", "replace").replace(b"\x00", b"")


def _rational(x: float, *, signed: bool) -> tuple[int, int]:
    """``x`` as (numerator, denominator) that fit the 32-bit TIFF fields."""
    if not math.isfinite(x):
        raise ValueError(f"cannot store {x!r} as a TIFF rational")
    limit = 2**31 - 1 if signed else 2**32 - 1
    if abs(x) >= limit:
        raise ValueError(f"{x!r} is too large for a TIFF rational")
    # Largest denominator that keeps the numerator in range; 1e6 is plenty for 1/8000 s,
    # f/1.4 and matrix entries with 4 decimals.
    max_den = max(1, min(1_000_000, int(limit // max(1.0, abs(x) + 1.0))))
    frac = Fraction(x).limit_denominator(max_den)
    return frac.numerator, frac.denominator


def _pack_ifd(
    tags: Sequence[TiffTag | tuple[int, bytes]], offset: int, byteorder: str, next_ifd: int = 0
) -> bytes:
    """Serialise one IFD that will live at file ``offset``.

    ``tags`` may mix :class:`TiffTag` (values packed here, long ones placed right after the
    IFD) and ``(code, raw 12-byte entry)`` pairs copied verbatim from an existing IFD (their
    value offsets are absolute, so they stay valid).
    """
    entries: list[tuple[int, bytes]] = []
    data = bytearray()
    data_start = offset + 2 + 12 * len(tags) + 4
    for tag in tags:
        if isinstance(tag, tuple):
            entries.append(tag)
            continue
        count, value = tag.pack_value(byteorder)
        head = struct.pack(f"{byteorder}HHI", tag.code, tag.dtype, count)
        if len(value) <= 4:
            entries.append((tag.code, head + value.ljust(4, b"\x00")))
        else:
            pointer = struct.pack(f"{byteorder}I", data_start + len(data))
            entries.append((tag.code, head + pointer))
            data += value
            if len(data) % 2:  # values must start on a word boundary
                data += b"\x00"
    entries.sort(key=lambda e: e[0])  # readers binary-search IFDs; order is mandatory
    out = struct.pack(f"{byteorder}H", len(entries))
    out += b"".join(e[1] for e in entries) + struct.pack(f"{byteorder}I", next_ifd)
    return out + bytes(data)


def exif_tags(
    exif: ExifInfo | None, *, software: str | None = None, orientation: int | None = None
) -> tuple[list[TiffTag], list[TiffTag]]:
    """Split an :class:`ExifInfo` into (IFD0 tags, ExifIFD tags).

    IFD0 gets Make, Model, Orientation, Software and DateTime; the ExifIFD gets ExposureTime,
    FNumber, ISOSpeedRatings, ExifVersion, DateTimeOriginal, FocalLength and LensModel. Unknown
    (``None``) facts are left out; an ExifIFD is returned empty when there is nothing for it.
    """
    exif = exif or ExifInfo()
    ifd0: list[TiffTag] = []
    sub: list[TiffTag] = []
    if exif.make and exif.make.strip():
        ifd0.append(TiffTag(271, ASCII, exif.make.strip()))
    if exif.model and exif.model.strip():
        ifd0.append(TiffTag(272, ASCII, exif.model.strip()))
    if orientation is not None:
        ifd0.append(TiffTag(274, SHORT, (orientation,)))
    if software:
        ifd0.append(TiffTag(305, ASCII, software))
    date = exif.datetime.strip() if exif.datetime else None
    if date and _DATETIME_RE.match(date):
        ifd0.append(TiffTag(306, ASCII, date))
        sub.append(TiffTag(36867, ASCII, date))
    if (exposure := positive_or_none(exif.exposure_time)) is not None:
        sub.append(TiffTag(33434, RATIONAL, (exposure_fraction(exposure),)))
    if (f_number := positive_or_none(exif.f_number)) is not None:
        sub.append(TiffTag(33437, RATIONAL, (f_number,)))
    if (iso := positive_or_none(exif.iso)) is not None:
        # SHORT is the classic EXIF 2.2 type every reader knows; ISO above 65535 saturates.
        sub.append(TiffTag(34855, SHORT, (min(65535, max(1, round(iso))),)))
    if (focal := positive_or_none(exif.focal_length)) is not None:
        sub.append(TiffTag(37386, RATIONAL, (focal,)))
    if exif.lens and exif.lens.strip():
        sub.append(TiffTag(42036, ASCII, exif.lens.strip()))
    if sub:
        sub.append(TiffTag(36864, UNDEFINED, b"0231"))
    return ifd0, sub


def positive_or_none(value: float | None) -> float | None:
    """``value`` as a float if it is a finite positive number, else ``None``."""
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def exposure_fraction(seconds: float) -> float:
    # 1/125 s should read back as 1/125 rather than 0.008 in viewers that show fractions.
    if seconds < 1:
        inverse = 1.0 / seconds
        if abs(inverse - round(inverse)) < 1e-3 * inverse:
            return 1.0 / round(inverse)
    return seconds


def append_exif_ifd(fh: BinaryIO, exif_ifd: Sequence[TiffTag]) -> None:
    """Give the first IFD of the classic TIFF in ``fh`` an ExifIFD holding ``exif_ifd``.

    tifffile refuses to write IFD-pointer tags, so this appends a copy of IFD0 with one more
    entry (ExifIFD pointer) plus the ExifIFD itself at the end of the file and repoints the
    header at the new IFD0. The old IFD0 stays behind as a few hundred unused bytes; all its
    value offsets are absolute, so the copied entries remain valid.
    """
    if not exif_ifd:
        return
    fh.seek(0)
    header = fh.read(8)
    byteorder = {b"II": "<", b"MM": ">"}.get(header[:2])
    if byteorder is None or struct.unpack(f"{byteorder}H", header[2:4])[0] != 42:
        raise ValueError("not a classic TIFF file")
    ifd0_offset = struct.unpack(f"{byteorder}I", header[4:8])[0]
    fh.seek(ifd0_offset)
    (count,) = struct.unpack(f"{byteorder}H", fh.read(2))
    raw = fh.read(12 * count)
    (next_ifd,) = struct.unpack(f"{byteorder}I", fh.read(4))
    entries: list[TiffTag | tuple[int, bytes]] = []
    for i in range(count):
        entry = raw[12 * i : 12 * i + 12]
        code = struct.unpack(f"{byteorder}H", entry[:2])[0]
        if code != _EXIF_IFD:
            entries.append((code, entry))
    end = fh.seek(0, os.SEEK_END)
    new_ifd0 = end + end % 2
    size = 2 + 12 * (len(entries) + 1) + 4
    entries.append(TiffTag(_EXIF_IFD, LONG, (new_ifd0 + size,)))
    block = _pack_ifd(entries, new_ifd0, byteorder, next_ifd)
    block += _pack_ifd(exif_ifd, new_ifd0 + size, byteorder)
    fh.write(b"\x00" * (new_ifd0 - end) + block)
    fh.seek(4)
    fh.write(struct.pack(f"{byteorder}I", new_ifd0))
