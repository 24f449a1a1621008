"""RAW decoding: any Bayer RAW LibRaw reads -> a small frozen :class:`RawFrame`.

Everything downstream (packing, colour, export, training) works from a ``RawFrame`` only, so
the rawpy handle never escapes the ``with`` block and a frame can also be built in memory
(synthetic training data, tests).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from engine.errors import DarkroomError, RawReadError, UnsupportedSensorError
from engine.io.cfa import is_bayer_pattern, is_xtrans_pattern, tile_pattern
from engine.io.framing import Rect, clip_rect, read_dng_framing
from engine.io.libraw import libraw_session, open_raw
from engine.io.raw_metadata import (
    ExifInfo,
    colour_matrix,
    read_exif,
    wb_gains,
)

#: Extensions offered in file dialogs and accepted by folder scans (LibRaw reads many more).
RAW_EXTENSIONS: tuple[str, ...] = (
    ".arw", ".srf", ".sr2", ".nef", ".nrw", ".cr2", ".cr3", ".crw", ".raf", ".dng", ".orf",
    ".rw2", ".pef", ".srw", ".x3f", ".3fr", ".erf", ".kdc", ".dcr", ".mos", ".mrw", ".iiq",
    ".raw", ".rwl", ".gpr",
)  # fmt: skip


def raw_files_in(folder: str | os.PathLike[str]) -> list[Path]:
    """The RAW files directly in ``folder`` (by :data:`RAW_EXTENSIONS`), sorted.

    Hidden files are skipped: macOS leaves "._DSC01234.ARW" resource forks on USB disks.

    Raises:
        DarkroomError: ``folder`` is not a folder that can be listed.
    """
    root = Path(folder).expanduser()
    try:
        entries = list(root.iterdir())
    except FileNotFoundError:
        raise DarkroomError(f"{root}: no such folder") from None
    except NotADirectoryError:
        raise DarkroomError(f"{root}: not a folder") from None
    except OSError as exc:
        raise DarkroomError(f"{root}: cannot list the folder ({exc.strerror or exc})") from None
    return sorted(
        p for p in entries
        if p.suffix.lower() in RAW_EXTENSIONS and not p.name.startswith(".") and _is_file(p)
    )  # fmt: skip


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False where it cannot be looked at (a folder without search rights)."""
    try:
        return path.is_file()
    except OSError:
        return False


@dataclass(frozen=True, eq=False)
class RawFrame:
    """One RAW exposure (Bayer or X-Trans), decoded and detached from LibRaw.

    Attributes:
        mosaic: ``(H, W)`` uint16 (or float32 for synthetic frames) visible sensor data in raw
            digital numbers, cropped to whole CFA periods (even ``H`` and ``W``; multiples of 6
            for X-Trans).
        cfa_pattern: ``(2, 2)`` int array of colour indices (0 = R, 1 = G, 2 = B) for the
            top-left 2x2 block of ``mosaic``; ``(6, 6)`` for a Fujifilm X-Trans sensor.
        black_level: float32 black level in DN at each position of the CFA period (the
            pattern's shape).
        white_level: saturation level in DN (LibRaw's value, after DNG linearisation).
        wb_gains: ``(3,)`` float32 as-shot white-balance multipliers (R, G, B), G = 1.
        cam_to_srgb: ``(3, 3)`` float32 matrix from white-balanced linear camera RGB to linear
            sRGB (rows sum to ~1, so white stays white).
        orientation: LibRaw ``flip`` code: bit 0 mirror columns, bit 1 mirror rows, bit 2
            transpose (applied in that order); 0 means none.
        exif: camera, lens and exposure facts.
        path: the file it came from, if any.
        default_crop: the part of ``mosaic`` that is the picture, ``(top, left, height,
            width)`` in mosaic pixels (a DNG's DefaultCrop, see :mod:`engine.io.framing`), or
            ``None`` for all of it. Renders cover the whole mosaic (context at the edges) and
            are cropped to it at the end, before the orientation.
        origin: where ``mosaic``'s top-left pixel lies in the file's mosaic (``(0, 0)``
            unless cut by :meth:`crop` or :meth:`visible`): an X-Trans demosaic of a crop
            follows the whole mosaic's LibRaw tiles from it (:func:`engine.io.libraw_demosaic`).
    """

    mosaic: np.ndarray
    cfa_pattern: np.ndarray
    black_level: np.ndarray
    white_level: float
    wb_gains: np.ndarray
    cam_to_srgb: np.ndarray
    orientation: int = 0
    exif: ExifInfo = field(default_factory=ExifInfo)
    path: str | None = None
    default_crop: Rect | None = None
    warnings: tuple[str, ...] = ()
    origin: tuple[int, int] = (0, 0)

    @property
    def height(self) -> int:
        """Rows of the mosaic (the whole active area)."""
        return int(self.mosaic.shape[0])

    @property
    def width(self) -> int:
        """Columns of the mosaic (the whole active area)."""
        return int(self.mosaic.shape[1])

    @property
    def visible_rect(self) -> Rect:
        """The picture within the mosaic, ``(top, left, height, width)``: the default crop."""
        return self.default_crop or (0, 0, self.height, self.width)

    @property
    def visible_height(self) -> int:
        """Rows of the picture (before the orientation)."""
        return self.visible_rect[2]

    @property
    def visible_width(self) -> int:
        """Columns of the picture (before the orientation)."""
        return self.visible_rect[3]

    @property
    def period(self) -> int:
        """Rows (and columns) of one CFA period: 2 for Bayer, 6 for X-Trans."""
        return int(self.cfa_pattern.shape[0])

    @property
    def is_xtrans(self) -> bool:
        return self.period == 6

    @property
    def sensor(self) -> str:
        """The kind of colour filter array, as models name the ones they take
        (:attr:`engine.models.EnhanceNet.sensors`): one of :data:`engine.resources.SENSORS`."""
        return "x-trans" if self.is_xtrans else "bayer"

    @property
    def cfa_name(self) -> str:
        """The 2x2 layout as a string, e.g. ``"RGGB"``; ``"X-Trans"`` for a 6x6 one."""
        if self.is_xtrans:
            return "X-Trans"
        return "".join("RGB"[int(c)] for c in self.cfa_pattern.reshape(-1))

    def black_map(self, dtype: type = np.float32) -> np.ndarray:
        """``(H, W)`` black level of every pixel (the per-position ``black_level`` tiled)."""
        return tile_pattern(self.black_level.astype(dtype), self.height, self.width)

    def with_mosaic(self, mosaic: np.ndarray) -> RawFrame:
        """A copy with another mosaic of the same CFA phase (crops, darkened copies)."""
        return replace(self, mosaic=mosaic)

    def crop(self, top: int, left: int, height: int, width: int) -> RawFrame:
        """Crop keeping the CFA phase: ``top``/``left`` are rounded down to whole CFA periods
        (even; multiples of 6 for X-Trans), ``height``/``width`` too.

        The default crop follows: what of it falls inside the new mosaic, in its coordinates.
        """
        n = self.period
        top, left = top - top % n, left - left % n
        height, width = height - height % n, width - width % n
        mosaic = self.mosaic[top : top + height, left : left + width].copy()
        crop = None
        if self.default_crop is not None:
            t, lf, h, w = self.default_crop
            crop = clip_rect((t - top, lf - left, h, w), mosaic.shape[0], mosaic.shape[1])
            if crop == (0, 0, *mosaic.shape):
                crop = None
        origin = (self.origin[0] + top, self.origin[1] + left)
        return replace(self, mosaic=mosaic, default_crop=crop, origin=origin)

    def visible(self) -> RawFrame:
        """The picture alone: the mosaic cut to the default crop, at its exact origin.

        An odd origin shifts the CFA phase: the pattern and black levels are rolled with it.
        The size is cut to whole CFA periods (even), dropping at most the last row and column.
        For training crops, which must not learn from the borders a camera marks as outside
        the picture; renders keep the whole mosaic instead (see :attr:`default_crop`).
        """
        if self.default_crop is None:
            return self
        top, left, height, width = self.default_crop
        n = self.period
        height, width = height - height % n, width - width % n
        shift = (-(top % n), -(left % n))
        return replace(
            self,
            mosaic=self.mosaic[top : top + height, left : left + width].copy(),
            cfa_pattern=np.roll(np.asarray(self.cfa_pattern), shift, axis=(0, 1)),
            black_level=np.roll(np.asarray(self.black_level), shift, axis=(0, 1)),
            default_crop=None,
            origin=(self.origin[0] + top, self.origin[1] + left),
        )


def check_readable_file(path: str | os.PathLike[str]) -> Path:
    """Common checks before decoding, each with a one-line reason."""
    p = Path(path)
    try:
        if not p.exists():
            raise RawReadError(f"{p}: no such file")
        if p.is_dir():
            raise RawReadError(f"{p}: is a folder, not a RAW file")
        size = p.stat().st_size
    except OSError as exc:  # a name or path too long for the system, say
        raise RawReadError(f"{p}: {exc.strerror or type(exc).__name__}") from None
    if size == 0:
        raise RawReadError(f"{p}: file is empty")
    if not os.access(p, os.R_OK):
        raise RawReadError(f"{p}: permission denied")
    return p


def _cfa_layout(raw: object, p: Path) -> tuple[np.ndarray, np.ndarray]:
    """LibRaw's ``(2, 2)`` (Bayer) or ``(6, 6)`` (X-Trans) colour indices and Darkroom's CFA
    pattern (0 = R, 1 = G, 2 = B).

    Raises:
        UnsupportedSensorError: a linear or multi-layer file, a monochrome, 4-colour
            or otherwise unusual sensor.
    """
    import rawpy

    if raw.raw_type != rawpy.RawType.Flat:  # type: ignore[attr-defined]
        raise UnsupportedSensorError(
            f"{p}: not supported: already demosaiced (linear) or multi-layer RAW"
        )
    try:
        pattern = raw.raw_pattern  # type: ignore[attr-defined]
    except NotImplementedError:  # rawpy meets a filter code it cannot describe
        raise UnsupportedSensorError(f"{p}: not supported: unusual colour filter array") from None
    desc = raw.color_desc.decode("ascii", "replace")  # type: ignore[attr-defined]
    if pattern is None or raw.num_colors < 3:  # type: ignore[attr-defined]
        raise UnsupportedSensorError(f"{p}: not supported: monochrome sensor")
    pattern = np.asarray(pattern)
    if pattern.shape not in ((2, 2), (6, 6)):
        raise UnsupportedSensorError(
            f"{p}: not supported: a {pattern.shape[0]}x{pattern.shape[1]} colour filter array"
        )
    if desc[:3] != "RGB":
        raise UnsupportedSensorError(f"{p}: not supported: {desc} colour filter array")
    # LibRaw's colour indices: 0=R 1=G 2=B 3=second G (desc "RGBG").
    cfa = np.array([[("RGBG"[i]) for i in row] for row in pattern.tolist()])
    cfa = np.vectorize("RGB".index)(cfa).astype(np.int8)
    if not (is_bayer_pattern(cfa) or is_xtrans_pattern(cfa)):
        raise UnsupportedSensorError(f"{p}: not supported: unusual CFA layout {desc}")
    return pattern, cfa


@contextlib.contextmanager
def libraw_errors(p: Path) -> Iterator[list[str]]:
    """LibRaw's work on ``p`` (opened inside the block) with every failure as a one-line
    :class:`RawReadError`; yields the list LibRaw's own complaints land in (filled when the
    block ends, see :func:`~engine.io.libraw.libraw_session`).

    Shared by :func:`read_raw` and the thumbnails, so a bad file reads the same everywhere.
    Darkroom's own errors raised inside (:class:`UnsupportedSensorError`) pass through.
    """
    import rawpy

    libraw_says: list[str] = []
    try:
        with libraw_session(p) as libraw_says:
            yield libraw_says
    except rawpy.LibRawFileUnsupportedError:
        raise RawReadError(f"{p}: not a RAW file LibRaw can read") from None
    except rawpy.LibRawIOError:
        reason = "; ".join(libraw_says) or "truncated or I/O error"
        raise RawReadError(f"{p}: could not read the file ({reason})") from None
    except rawpy.LibRawError as exc:
        reason = "; ".join(libraw_says) or type(exc).__name__
        raise RawReadError(f"{p}: corrupt RAW file ({reason})") from None
    except (OSError, MemoryError) as exc:
        raise RawReadError(f"{p}: could not read the file ({exc.__class__.__name__})") from None


def read_raw(path: str | os.PathLike[str]) -> RawFrame:
    """Decode a Bayer or X-Trans RAW file into a :class:`RawFrame`.

    Damaged metadata the image does not need (a singular colour matrix, an impossible white
    balance or date) is replaced by a documented default and listed in
    :attr:`RawFrame.warnings` (see :mod:`engine.io.raw_metadata`).

    Raises:
        RawReadError: missing, empty, corrupt, truncated or not a RAW file, or no image data.
        UnsupportedSensorError: Foveon, monochrome, 4-colour or already-demosaiced
            (linear) RAW files, or non-square pixels.
    """
    p = check_readable_file(path)
    with libraw_errors(p) as libraw_says, open_raw(p) as raw:
        frame = _frame(raw, p)
    _check_pixels(frame, p)
    if libraw_says:  # LibRaw read it but complained: the user should know
        frame = replace(frame, warnings=(*frame.warnings, *libraw_says))
    return replace(frame, default_crop=_default_crop(p, frame.height, frame.width))


def _frame(raw: object, p: Path) -> RawFrame:
    """Everything a :class:`RawFrame` holds, copied out of an open rawpy handle."""
    pattern, cfa = _cfa_layout(raw, p)
    mosaic = np.array(raw.raw_image_visible, copy=True)  # type: ignore[attr-defined]
    black_per_colour = np.asarray(raw.black_level_per_channel, dtype=np.float32)  # type: ignore[attr-defined]
    black = black_per_colour[np.asarray(pattern)].astype(np.float32)
    wb, wb_warnings = wb_gains(raw)
    matrix, matrix_warnings = colour_matrix(raw)
    exif, exif_warnings = read_exif(p, raw)
    h, w = mosaic.shape
    n = cfa.shape[0]
    return RawFrame(
        # Keep whole CFA periods only; dropping the last rows/columns changes nothing visible.
        mosaic=mosaic[: h - h % n, : w - w % n],
        cfa_pattern=cfa,
        black_level=black,
        white_level=float(raw.white_level),  # type: ignore[attr-defined]
        wb_gains=wb,
        cam_to_srgb=matrix,
        orientation=int(raw.sizes.flip),  # type: ignore[attr-defined]
        exif=exif,
        path=str(p),
        warnings=tuple(matrix_warnings + wb_warnings + exif_warnings),
    )


def _check_pixels(frame: RawFrame, p: Path) -> None:
    """Refuse what cannot be a photo: too small, inverted levels, or no signal at all."""
    h, w = frame.mosaic.shape
    if h < 4 or w < 4:
        raise RawReadError(f"{p}: image is too small ({w}x{h})")
    black = float(np.max(frame.black_level))
    if not (math.isfinite(frame.white_level) and frame.white_level > black):
        raise RawReadError(f"{p}: invalid levels (white {frame.white_level:g} <= black {black:g})")
    low, high = int(frame.mosaic.min()), int(frame.mosaic.max())
    if low == high and high <= black:
        # A real exposure, even with the lens cap on, has noise; a damaged compressed DNG
        # decodes to one flat value.
        raise RawReadError(
            f"{p}: no image data (every pixel is {low}, at or below black); the file's image "
            "data may be damaged"
        )


def _default_crop(path: Path, height: int, width: int) -> Rect | None:
    """A DNG's default crop within the ``height`` x ``width`` mosaic, or ``None`` (no crop, or
    one that is the whole mosaic).

    Raises:
        UnsupportedSensorError: non-square pixels (a DefaultScale other than 1).
    """
    framing = read_dng_framing(path)
    if framing is None:
        return None
    sx, sy = framing.scale
    if not (math.isclose(sx, 1.0, rel_tol=1e-6) and math.isclose(sy, 1.0, rel_tol=1e-6)):
        raise UnsupportedSensorError(
            f"{path}: not supported: non-square pixels (DNG DefaultScale {sx:g} x {sy:g})"
        )
    if framing.crop is None:
        return None
    crop = clip_rect(framing.crop, height, width)
    return None if crop in (None, (0, 0, height, width)) else crop
