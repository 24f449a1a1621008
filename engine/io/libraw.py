"""Opening a file with LibRaw (through rawpy): any name the OS gives, and LibRaw's own voice.

* Names: rawpy encodes a path as UTF-8, which fails for names that are not (a byte name from
  an old camera card, say); those files are read into memory and handed over as a buffer.
* LibRaw prints its complaints about damaged data ("Unexpected end of file", "Corrupt data
  near ...") straight to the process's stderr, which would add a second line to Darkroom's own
  one-line error. :func:`libraw_session` routes file descriptor 2 into a temporary file while
  LibRaw works; LibRaw's lines become the reason of the error, anything else written meanwhile
  is passed on afterwards. Decodes take turns for that (one lock), which costs little: LibRaw
  spends most of a decode reading and unpacking, and callers decode one file at a time.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import itertools
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

_stderr_lock = threading.Lock()


def open_raw(path: Path) -> Any:
    """``rawpy.imread`` for any path the OS can open (a context manager, as rawpy's)."""
    import rawpy

    try:
        os.fsencode(str(path)).decode("utf-8")
    except UnicodeDecodeError:
        with open(path, "rb") as fh:
            return rawpy.imread(fh)
    return rawpy.imread(str(path))


@contextlib.contextmanager
def libraw_session(path: Path) -> Iterator[list[str]]:
    """Run a LibRaw decode with its stderr messages caught; yields the list they land in
    (filled when the block ends, also when it raises)."""
    messages: list[str] = []
    with _stderr_lock:
        sys.stderr.flush()
        with tempfile.TemporaryFile() as capture:
            saved = os.dup(2)
            os.dup2(capture.fileno(), 2)
            try:
                yield messages
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                capture.seek(0)
                text = capture.read().decode("utf-8", "replace")
                _sort(text, path, messages)


def _sort(text: str, path: Path, messages: list[str]) -> None:
    """LibRaw's lines (they start with the file's name, or ":" for a buffer) into
    ``messages``; any other output of the process in the meantime back onto stderr."""
    names = (f"{path}:", f"{path.name}:", ":")
    other = []
    for line in text.splitlines():
        if line.startswith(names):
            messages.append(line.split(":", 1)[1].strip() if ":" in line else line.strip())
        elif line.strip():
            other.append(line)
    if other:
        print("\n".join(other), file=sys.stderr, flush=True)


@contextlib.contextmanager
def quiet_logs(*names: str) -> Iterator[None]:
    """Silence the named libraries' loggers while the block runs.

    tifffile and exifread log what they dislike in a damaged file (``logging`` then prints it
    on stderr, a second line beside Darkroom's own); Darkroom reads those files only for
    optional facts (crop, EXIF) and says itself what matters.
    """
    loggers = [logging.getLogger(name) for name in names]
    before = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, was in zip(loggers, before, strict=True):
            lg.disabled = was


#: LibRaw's demosaic Darkroom's classical path uses: DHT scored 31.3 dB against the truth on
#: the held-out photos, against 25.0 for OpenCV's edge-aware Bayer conversion, 25.7 AHD,
#: 25.8 PPG, 26.8 AAHD, 27.8 VNG (docs/demosaic.md), and takes about 1.5 s for 12 MP on
#: 2 cores in two bands (docs/performance.md).
DEMOSAIC_ALGORITHM = "DHT"
#: Rows :func:`with_range_strip` adds below a mosaic.
RANGE_STRIP_ROWS = 16


#: Rows of context each band of :func:`libraw_demosaic` reads beyond its own on either side.
#: DHT's reach, measured on a synthetic and a real 12 MP frame, is 8 rows (with 6, one pixel
#: came out 14/65535 off); twice that.
BAND_MARGIN = 16
#: No band shorter than this, so that a band's two margins are at most an eighth of its rows.
MIN_BAND_ROWS = 256

#: LibRaw's X-Trans interpolation works in 512-pixel tiles and refuses smaller pictures.
XTRANS_MIN_SIZE = 512
#: LibRaw's X-Trans tiles start every 496 rows and columns (from 3) and overlap by 16, and a
#: tile reads its overlap from what the tile before it wrote: on LibRaw's threads in whichever
#: order they finished (two runs differed by up to 1,450/65535), and in a band read from any
#: other row, from different pixels (up to 3,000/65535 from the whole picture). X-Trans bands
#: are read from a multiple of this, the pattern rolled to match, so that their tiles are the
#: whole picture's; only their first tile's overlap is left unwritten (:data:`XTRANS_BAND_LEAD`).
XTRANS_TILE_STEP = 496
#: Lines at the start of an X-Trans band (read from a tile start) that differ from the whole
#: picture: measured 22-23 on a 12 MP frame at four starts; twice that, on the pattern's period.
XTRANS_BAND_LEAD = 48
#: Lines of context after an X-Trans band: its far reach measured under 24.
XTRANS_BAND_MARGIN = 48


def repeat_last_period(mosaic: np.ndarray, rows: int, cols: int, period: int) -> np.ndarray:
    """``mosaic`` grown by ``rows`` below and ``cols`` to the right, repeating its last
    ``period`` rows and columns, so every added pixel has the CFA colour of its position."""
    h, w = mosaic.shape
    row_index = np.r_[np.arange(h), h - period + np.arange(rows) % period]
    col_index = np.r_[np.arange(w), w - period + np.arange(cols) % period]
    return mosaic[np.ix_(row_index, col_index)]


def with_range_strip(mosaic: np.ndarray, period: int = 2) -> np.ndarray:
    """``(H, W)`` uint16 mosaic -> ``(H + RANGE_STRIP_ROWS, W)``: the mosaic's last rows
    continued below it (CFA phase kept: mirrored for a 2x2 Bayer ``period``, repeated for a
    6x6 X-Trans one), then two rows holding 1 and 65535 at every CFA colour.

    LibRaw's DHT clamps each interpolated value to its channel's minimum and maximum over the
    whole mosaic, so a crop and the whole frame gave the same pixels different values (up to
    131/255 apart where a crop held no bright pixel). With the extremes of every colour in
    the strip, every mosaic's clamp is the full range, and a pixel's demosaic depends on its
    neighbourhood alone; the continued rows keep the strip's own edges out of the picture's.
    The low extreme is 1, not 0: DHT skips zeros when it looks for a channel's minimum, so
    with 0 the first pixel's colour took the smallest non-zero value of whatever was handed
    over (a crop's differed from the frame's, up to 1387/65535 apart).
    One allocation: this runs on every classical render and every network input.
    """
    h, w = mosaic.shape
    rows = RANGE_STRIP_ROWS - 2
    if period == 2:  # mirrored about the last row, as np.pad's "reflect" (short mosaics too)
        continued = np.pad(np.arange(h), (0, rows), mode="reflect")[h:]
    else:
        continued = h - period + np.arange(rows) % period
    out = np.empty((h + RANGE_STRIP_ROWS, w), np.uint16)
    out[:h] = mosaic
    out[h : h + rows] = mosaic[continued]
    out[h + rows :] = 1
    out[h + rows :, (np.arange(w) // 2) % 2 == 1] = 65535  # 1, 1, max, max, ...
    return out


def libraw_demosaic(
    mosaic: np.ndarray,
    cfa: str | np.ndarray,
    algorithm: str = DEMOSAIC_ALGORITHM,
    workers: int | None = None,
    origin: tuple[int, int] = (0, 0),
) -> np.ndarray:
    """Demosaic a mosaic with LibRaw (handed over as an in-memory DNG), deterministically.

    LibRaw splits DHT's rows among its OpenMP threads and refines each row in place from its
    neighbours, so rows near a thread's boundary came out differently from run to run (up to
    242/65535 on a 12 MP frame) and a crop differed from the whole frame where the boundaries
    fell. Here LibRaw runs one OpenMP thread per call, and Bayer mosaics are cut into row bands
    (each with :data:`BAND_MARGIN` rows of context, on the CFA period) that ``workers``
    threads demosaic side by side (rawpy lets go of the GIL while LibRaw works): the result
    depends on the mosaic alone, and a band, a crop and the whole frame agree exactly.

    Args:
        mosaic: ``(H, W)`` uint16, 0 = black, 65535 = white; at least
            :data:`~engine.io.dng.MIN_LIBRAW_SIZE` pixels each way.
        cfa: layout of the top-left 2x2 block, e.g. ``"GRBG"``, or a 2x2 / 6x6 pattern of
            colour indices (:func:`~engine.io.cfa.cfa_pattern_of`). For an X-Trans 6x6
            pattern LibRaw runs its own X-Trans interpolation (Markesteijn's, 3 passes at this
            quality) whatever Bayer ``algorithm`` is named, in bands cut where LibRaw's tiles
            and the pattern start again (:func:`xtrans_bands`; with LibRaw's own threads two
            runs differed by up to 1,450/65535 where tiles meet); pictures smaller than
            :data:`XTRANS_MIN_SIZE` are grown by whole periods for it and cut back.
        algorithm: a :class:`rawpy.DemosaicAlgorithm` name; other than DHT (tools compare
            them), the whole mosaic on LibRaw's own threads.
        workers: bands demosaicked at once; ``None``: the cores this process may use.
        origin: where ``mosaic`` lies in a larger mosaic (a crop's :attr:`RawFrame.origin`)
            whose X-Trans demosaic this one must equal: LibRaw's tiles are laid from the
            larger mosaic's top-left (:func:`_xtrans_demosaic`). Bayer demosaics ignore it.

    Returns:
        ``(H, W, 3)`` uint16 camera RGB: no white balance, no colour matrix, linear.
    """
    from engine.io.cfa import cfa_pattern_of

    pattern = cfa_pattern_of(cfa)
    if pattern.shape[0] == 6:
        return _xtrans_demosaic(mosaic, pattern, algorithm, workers or usable_cores(), origin)
    h = mosaic.shape[0]
    if algorithm != DEMOSAIC_ALGORITHM:  # margins measured for DHT only (tools compare others)
        return _demosaic_whole(mosaic, pattern, algorithm)
    bands = demosaic_bands(h, workers or usable_cores())
    reads = [(max(0, top - BAND_MARGIN), min(h, bottom + BAND_MARGIN)) for top, bottom in bands]
    return _in_bands(mosaic, pattern, algorithm, bands, reads)


def _xtrans_demosaic(
    mosaic: np.ndarray,
    pattern: np.ndarray,
    algorithm: str,
    workers: int,
    origin: tuple[int, int],
) -> np.ndarray:
    """LibRaw's X-Trans interpolation of ``mosaic`` in bands (:func:`xtrans_bands`), its tiles
    laid as on the larger mosaic ``mosaic`` was cut from at ``origin``.

    The lines back to that mosaic's tile grid are filled in front with copies of ``mosaic``'s
    own lines of the same pattern phase: LibRaw then tiles as it would the larger mosaic. A
    crop's first and last :data:`XTRANS_BAND_LEAD` lines still differ from the larger mosaic's
    (what lies beyond them differs) unless they are that mosaic's own edge, so a caller that
    needs them exact cuts that much more.
    """
    h, w = mosaic.shape
    ahead = [origin[0] % XTRANS_TILE_STEP, origin[1] % XTRANS_TILE_STEP]
    for axis, length in enumerate((h, w)):
        # Too short for LibRaw: grow in front, by whole tiles, where the cut does not start
        # the larger mosaic (its end may be that mosaic's end, which growing behind would move).
        while origin[axis] > 0 and ahead[axis] + length < XTRANS_MIN_SIZE:
            ahead[axis] += XTRANS_TILE_STEP
    ahead_rows, ahead_cols = ahead
    period = pattern.shape[0]
    rows = np.concatenate([(np.arange(ahead_rows) - ahead_rows) % period, np.arange(h)])
    cols = np.concatenate([(np.arange(ahead_cols) - ahead_cols) % period, np.arange(w)])
    placed = mosaic[np.ix_(rows, cols)] if ahead_rows or ahead_cols else mosaic
    placed_pattern = np.roll(pattern, (ahead_rows, ahead_cols), axis=(0, 1))
    grown = repeat_last_period(placed, max(0, XTRANS_MIN_SIZE - placed.shape[0]),
                               max(0, XTRANS_MIN_SIZE - placed.shape[1]), period)  # fmt: skip
    # Along whichever axis gives more bands (a wide preview crop may have few rows).
    axis = int(
        len(xtrans_bands(grown.shape[1], workers)) > len(xtrans_bands(grown.shape[0], workers))
    )
    length = grown.shape[axis]
    bands = xtrans_bands(length, workers)
    reads = [(max(0, lo - XTRANS_BAND_LEAD), min(length, hi + XTRANS_BAND_MARGIN))
             for lo, hi in bands]  # fmt: skip
    out = _in_bands(grown, placed_pattern, algorithm, bands, reads, axis)
    return out[ahead_rows : ahead_rows + h, ahead_cols : ahead_cols + w]


def _in_bands(
    mosaic: np.ndarray,
    pattern: np.ndarray,
    algorithm: str,
    bands: list[tuple[int, int]],
    reads: list[tuple[int, int]],
    axis: int = 0,
) -> np.ndarray:
    """Demosaic lines ``bands[i]`` (rows for ``axis`` 0, columns for 1) of ``mosaic`` from lines
    ``reads[i]``, which hold them, each band on its own thread with one OpenMP thread."""
    out = np.empty((*mosaic.shape, 3), np.uint16)

    def lines(lo: int, hi: int) -> tuple[slice, ...]:
        return (slice(lo, hi),) if axis == 0 else (slice(None), slice(lo, hi))

    def one_band(band: tuple[int, int], read: tuple[int, int]) -> None:
        (lo, hi), (start, stop) = band, read
        # The pattern of the read's first line: a band may start off the pattern's period.
        shifted = np.roll(pattern, -(start % pattern.shape[axis]), axis=axis)
        rgb = _demosaic_whole(mosaic[lines(start, stop)], shifted, algorithm)
        out[lines(lo, hi)] = rgb[lines(lo - start, hi - start)]

    # Even one band goes to a worker thread: the caller's own OpenMP thread count (torch's,
    # on the main thread) must stay as it is.
    with ThreadPoolExecutor(len(bands), "libraw", initializer=_one_openmp_thread) as pool:
        for done in [pool.submit(one_band, b, r) for b, r in zip(bands, reads, strict=True)]:
            done.result()
    return out


def xtrans_bands(length: int, workers: int) -> list[tuple[int, int]]:
    """Ranges ``[lo, hi)`` covering ``length`` X-Trans rows (or columns): at most ``workers``
    bands, each after the first starting :data:`XTRANS_BAND_LEAD` lines after a multiple of
    :data:`XTRANS_TILE_STEP` (where its reading starts), none reading fewer lines than LibRaw
    takes (:data:`XTRANS_MIN_SIZE`)."""
    starts = range(XTRANS_TILE_STEP, length - XTRANS_MIN_SIZE + 1, XTRANS_TILE_STEP)
    count = max(1, min(workers, len(starts) + 1))
    # The tile starts nearest to even shares of the lines, each used once.
    chosen = sorted({min(starts, key=lambda s: abs(s - length * i / count))
                     for i in range(1, count)})  # fmt: skip
    cuts = [0, *(s + XTRANS_BAND_LEAD for s in chosen), length]
    return list(itertools.pairwise(cuts))


def demosaic_bands(height: int, workers: int) -> list[tuple[int, int]]:
    """Row ranges ``[top, bottom)`` covering ``height`` rows: at most ``workers`` bands, none
    shorter than :data:`MIN_BAND_ROWS` (one band for a short mosaic), cut on even rows."""
    count = max(1, min(workers, height // MIN_BAND_ROWS))
    cuts = [0, *(height * i // count // 2 * 2 for i in range(1, count)), height]
    return list(itertools.pairwise(cuts))


def _demosaic_whole(mosaic: np.ndarray, pattern: np.ndarray, algorithm: str) -> np.ndarray:
    """LibRaw's demosaic of a whole ``(H, W)`` uint16 mosaic -> ``(H, W, 3)`` uint16."""
    import rawpy

    from engine.io.dng import cfa_dng_bytes

    h, w = mosaic.shape
    data = cfa_dng_bytes(with_range_strip(mosaic, pattern.shape[0]), pattern)
    with rawpy.imread(io.BytesIO(data)) as raw:
        return raw.postprocess(
            demosaic_algorithm=getattr(rawpy.DemosaicAlgorithm, algorithm),
            output_color=rawpy.ColorSpace.raw, gamma=(1, 1), no_auto_bright=True,
            user_wb=[1.0, 1.0, 1.0, 1.0], output_bps=16, user_black=0, user_sat=65535,
        )[:h, :w]  # fmt: skip


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def openmp_runtimes() -> tuple[ctypes.CDLL, ...]:
    """The OpenMP runtimes LibRaw's parallel loops may run on.

    rawpy's wheels bundle a private libgomp, but LibRaw's calls into OpenMP bind, when first
    made, to the first runtime in the process's global scope, which is torch's own libgomp once
    torch is imported (it loads its libraries globally). Which one serves LibRaw depends on
    import order, so both are returned; the global scope is looked up on every call, as torch
    may be imported after the first. Empty where LibRaw was built without OpenMP.
    """
    runtimes = list(_bundled_openmp())
    if runtimes and os.name == "posix":
        global_scope = ctypes.CDLL(None)
        if hasattr(global_scope, "omp_set_num_threads"):
            runtimes.append(global_scope)
    return tuple(runtimes)


@functools.cache
def _bundled_openmp() -> tuple[ctypes.CDLL, ...]:
    """The OpenMP runtime rawpy ships beside LibRaw (Linux, macOS and Windows wheel layouts),
    or ``()`` where LibRaw was built without OpenMP or none is found."""
    import rawpy

    if not (rawpy.flags or {}).get("OPENMP"):
        return ()
    root = Path(rawpy.__file__).parent
    for folder in (root.parent / "rawpy.libs", root / ".dylibs", root):
        for pattern in ("libgomp*.so*", "libomp*.dylib", "libgomp*.dylib", "libomp*.dll"):
            for path in sorted(folder.glob(pattern)):
                try:
                    runtime = ctypes.CDLL(str(path))
                except OSError:
                    continue
                if hasattr(runtime, "omp_set_num_threads"):
                    return (runtime,)
    return ()


def _one_openmp_thread() -> None:
    """Make OpenMP loops started from the calling thread run on that thread alone (OpenMP
    keeps the thread count per calling thread, so torch's own threads are left as they are)."""
    for runtime in openmp_runtimes():
        runtime.omp_set_num_threads(1)
