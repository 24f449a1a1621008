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

The small TIFF-structure helpers here (:class:`TiffTag`, :func:`exif_tags`,
:func:`append_exif_ifd`, :func:`exif_tiff_blob`, :func:`atomic_file`) are shared with
:mod:`engine.export`.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import struct
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np

from engine.raw_io import XYZ_TO_SRGB, ExifInfo, cfa_from_name

# TIFF field types used here.
BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED, SRATIONAL = 1, 2, 3, 4, 5, 7, 10

#: XYZ (D65) -> camera matrix used when none is given: Adobe's matrix for the Sony ILCE-7M3
#: (the same numbers LibRaw ships), so synthetic files render with realistic colour.
DEFAULT_XYZ_TO_CAM = np.array(
    [[0.7374, -0.2389, -0.0551], [-0.5435, 1.3162, 0.2519], [-0.1006, 0.1795, 0.6552]],
    dtype=np.float64,
)

#: The four 2x2 Bayer layouts (greens on a diagonal).
BAYER_LAYOUTS = ("RGGB", "BGGR", "GRBG", "GBRG")

#: LibRaw refuses images narrower or shorter than this ("Unsupported file format").
MIN_LIBRAW_SIZE = 22

# TIFF Orientation (1..8) values are what the file stores; LibRaw maps them to its flip codes.
_ORIENTATIONS = range(1, 9)
_D65 = 21  # EXIF LightSource / DNG CalibrationIlluminant code for D65
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
    if (exposure := _positive(exif.exposure_time)) is not None:
        sub.append(TiffTag(33434, RATIONAL, (_exposure(exposure),)))
    if (f_number := _positive(exif.f_number)) is not None:
        sub.append(TiffTag(33437, RATIONAL, (f_number,)))
    if (iso := _positive(exif.iso)) is not None:
        # SHORT is the classic EXIF 2.2 type every reader knows; ISO above 65535 saturates.
        sub.append(TiffTag(34855, SHORT, (min(65535, max(1, round(iso))),)))
    if (focal := _positive(exif.focal_length)) is not None:
        sub.append(TiffTag(37386, RATIONAL, (focal,)))
    if exif.lens and exif.lens.strip():
        sub.append(TiffTag(42036, ASCII, exif.lens.strip()))
    if sub:
        sub.append(TiffTag(36864, UNDEFINED, b"0231"))
    return ifd0, sub


def _positive(value: float | None) -> float | None:
    """``value`` as a float if it is a finite positive number, else ``None``."""
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def _exposure(seconds: float) -> float:
    # 1/125 s should read back as 1/125 rather than 0.008 in viewers that show fractions.
    if seconds < 1:
        inverse = 1.0 / seconds
        if abs(inverse - round(inverse)) < 1e-3 * inverse:
            return 1.0 / round(inverse)
    return seconds


def exif_tiff_blob(ifd0: Sequence[TiffTag], exif_ifd: Sequence[TiffTag]) -> bytes:
    """A standalone little-endian TIFF structure holding IFD0 (+ ExifIFD): the payload of a
    JPEG APP1 ``Exif`` segment (after ``b"Exif\\0\\0"``) or of a PNG ``eXIf`` chunk."""
    tags: list[TiffTag | tuple[int, bytes]] = list(ifd0)
    if exif_ifd:
        tags.append(TiffTag(_EXIF_IFD, LONG, (0,)))
    first = _pack_ifd(tags, 8, "<")
    if exif_ifd:
        # The IFD0 size does not depend on the pointer value, so pack again with the real one.
        tags[-1] = TiffTag(_EXIF_IFD, LONG, (8 + len(first),))
        first = _pack_ifd(tags, 8, "<") + _pack_ifd(exif_ifd, 8 + len(first), "<")
    return b"II*\x00" + struct.pack("<I", 8) + first


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


# --------------------------------------------------------------------------------------------
# Atomic output


def _umask() -> int:
    # os.umask can only be read by setting it, which races with other threads; Linux exposes
    # it read-only in /proc.
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``path`` for writing; on success fsync and rename it to
    ``path`` (replacing any existing file), on any exception delete it and re-raise.

    The temporary name is ``.<name>.<random>.part`` in the same folder, so the rename is atomic
    and a crash never leaves a half-written file under the real name.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)  # reopened by name: tifffile wants a file object with a real .name
    try:
        with open(tmp, "r+b") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates files 0600; exported images should get the usual permissions.
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------------------------
# DNG writers


def _dng_common_tags(
    *,
    unique_model: str,
    xyz_to_cam: np.ndarray | None,
    default_matrix: np.ndarray,
    wb_gains: Sequence[float],
) -> list[TiffTag]:
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


def _write_dng(
    path: str | os.PathLike[str],
    data: np.ndarray,
    photometric: int,
    ifd0: list[TiffTag],
    exif_ifd: list[TiffTag],
    software: str,
) -> None:
    import tifffile  # lazy: only writers need it

    with atomic_file(path) as fh:
        tifffile.imwrite(
            fh,
            data,
            byteorder="<",
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
        append_exif_ifd(fh, exif_ifd)


def _check_orientation(orientation: int) -> int:
    if int(orientation) not in _ORIENTATIONS:
        raise ValueError(f"orientation must be a TIFF Orientation value 1..8, got {orientation}")
    return int(orientation)


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
) -> None:
    """Write a Bayer CFA DNG (uncompressed, one strip) atomically.

    Args:
        path: destination; replaced atomically if it exists.
        mosaic: ``(H, W)`` integer array (uint16, or any integer dtype with values in
            0..65535), raw DN; ``H`` and ``W`` >= 22 (LibRaw's minimum), odd sizes allowed.
        cfa: colour layout of the top-left 2x2 block: ``"RGGB"``, ``"BGGR"``, ``"GRBG"`` or
            ``"GBRG"``.
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
    if str(cfa).upper() not in BAYER_LAYOUTS:
        raise ValueError(f"not a Bayer layout: {cfa!r} (use one of {', '.join(BAYER_LAYOUTS)})")
    pattern = cfa_from_name(cfa)
    white = 65535 if white_level is None else int(white_level)
    if not 0 < white <= 65535:
        raise ValueError(f"white_level must be in 1..65535, got {white_level}")
    black = np.asarray(black_level, dtype=np.float64)
    if black.size not in (1, 4) or not np.isfinite(black).all() or (black < 0).any():
        raise ValueError("black_level must be a scalar, 4 values or a 2x2 array, all >= 0")
    if black.max() >= white:
        raise ValueError(f"black level {black.max():g} must be below white level {white}")
    black_values = tuple(float(v) for v in black.reshape(-1))
    integral = all(v.is_integer() for v in black_values)

    exif = exif or ExifInfo()
    cam_make = (exif.make or make or "").strip() or "Darkroom"
    cam_model = (exif.model or model or "").strip() or "Synthetic"
    ifd0, exif_ifd = exif_tags(
        replace(exif, make=cam_make, model=cam_model), orientation=_check_orientation(orientation)
    )
    ifd0 += _dng_common_tags(
        unique_model=f"{cam_make} {cam_model}",
        xyz_to_cam=xyz_to_cam,
        default_matrix=DEFAULT_XYZ_TO_CAM,
        wb_gains=wb_gains,
    )
    ifd0 += [
        TiffTag(33421, SHORT, (2, 2)),  # CFARepeatPatternDim
        TiffTag(33422, BYTE, tuple(int(c) for c in pattern.reshape(-1))),  # CFAPattern
        TiffTag(50710, BYTE, (0, 1, 2)),  # CFAPlaneColor: indices above mean R, G, B
        TiffTag(50711, SHORT, (1,)),  # CFALayout: rectangular
        TiffTag(50717, LONG, (white,)),  # WhiteLevel
    ]
    if len(black_values) == 4:
        ifd0.append(TiffTag(50713, SHORT, (2, 2)))  # BlackLevelRepeatDim
    ifd0.append(TiffTag(50714, LONG if integral else RATIONAL, black_values))  # BlackLevel
    _write_dng(path, arr, 32803, ifd0, exif_ifd, software="Darkroom")


def write_linear_dng(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    xyz_to_cam: np.ndarray | None = None,
    wb_gains: Sequence[float] = (1.0, 1.0, 1.0),
    orientation: int = 1,
    exif: ExifInfo | None = None,
    software: str = "Darkroom",
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

    exif = exif or ExifInfo()
    cam_make = (exif.make or "").strip() or "Darkroom"
    cam_model = (exif.model or "").strip() or "Linear"
    ifd0, exif_ifd = exif_tags(
        replace(exif, make=cam_make, model=cam_model), orientation=_check_orientation(orientation)
    )
    ifd0 += _dng_common_tags(
        unique_model=f"{cam_make} {cam_model}",
        xyz_to_cam=xyz_to_cam,
        default_matrix=XYZ_TO_SRGB,
        wb_gains=wb_gains,
    )
    ifd0 += [
        TiffTag(50714, LONG, (0, 0, 0)),  # BlackLevel, one per sample
        TiffTag(50717, LONG, (65535, 65535, 65535)),  # WhiteLevel, one per sample
    ]
    _write_dng(path, data, 34892, ifd0, exif_ifd, software=software or "Darkroom")
