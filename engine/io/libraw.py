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
import io
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
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
#: 25.8 PPG, 26.8 AAHD, 27.8 VNG (docs/demosaic.md), and takes 0.9 s for 12 MP on 2 cores.
DEMOSAIC_ALGORITHM = "DHT"
#: Rows :func:`with_range_strip` adds below a mosaic.
RANGE_STRIP_ROWS = 16


#: LibRaw's X-Trans interpolation works in 512-pixel tiles and refuses smaller pictures.
XTRANS_MIN_SIZE = 512


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
    6x6 X-Trans one), then two rows holding 0 and 65535 at every CFA colour.

    LibRaw's DHT clamps each interpolated value to its channel's minimum and maximum over the
    whole mosaic, so a crop and the whole frame gave the same pixels different values (up to
    131/255 apart where a crop held no bright pixel). With black and white of every colour in
    the strip, every mosaic's clamp is the full range, and a pixel's demosaic depends on its
    neighbourhood alone; the continued rows keep the strip's own edges out of the picture's.
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
    out[h + rows :] = 0
    out[h + rows :, (np.arange(w) // 2) % 2 == 1] = 65535  # 0, 0, max, max, ...
    return out


def libraw_demosaic(
    mosaic: np.ndarray, cfa: str | np.ndarray, algorithm: str = DEMOSAIC_ALGORITHM
) -> np.ndarray:
    """Demosaic a mosaic with LibRaw (handed over as an in-memory DNG).

    Args:
        mosaic: ``(H, W)`` uint16, 0 = black, 65535 = white; at least
            :data:`~engine.io.dng.MIN_LIBRAW_SIZE` pixels each way.
        cfa: layout of the top-left 2x2 block, e.g. ``"GRBG"``, or a 2x2 / 6x6 pattern of
            colour indices (:func:`~engine.io.dng.cfa_pattern_of`). For an X-Trans 6x6
            pattern LibRaw runs its own X-Trans interpolation (Markesteijn's, 3 passes at this
            quality) whatever Bayer ``algorithm`` is named; pictures smaller than
            :data:`XTRANS_MIN_SIZE` are grown by whole periods for it and cut back.
        algorithm: a :class:`rawpy.DemosaicAlgorithm` name.

    Returns:
        ``(H, W, 3)`` uint16 camera RGB: no white balance, no colour matrix, linear.
    """
    import rawpy

    from engine.io.dng import cfa_dng_bytes, cfa_pattern_of

    pattern = cfa_pattern_of(cfa)
    period = pattern.shape[0]
    h, w = mosaic.shape
    grown = mosaic
    if period == 6:
        grown = repeat_last_period(mosaic, max(0, XTRANS_MIN_SIZE - h),
                                   max(0, XTRANS_MIN_SIZE - w), period)  # fmt: skip
    data = cfa_dng_bytes(with_range_strip(grown, period), pattern)
    with rawpy.imread(io.BytesIO(data)) as raw:
        return raw.postprocess(
            demosaic_algorithm=getattr(rawpy.DemosaicAlgorithm, algorithm),
            output_color=rawpy.ColorSpace.raw, gamma=(1, 1), no_auto_bright=True,
            user_wb=[1.0, 1.0, 1.0, 1.0], output_bps=16, user_black=0, user_sat=65535,
        )[:h, :w]  # fmt: skip
