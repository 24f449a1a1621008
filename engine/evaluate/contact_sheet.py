"""Labelled image grids written as PNG: the drawing half of the evaluation contact sheet.

Nothing here knows about methods or metrics; :func:`engine.evaluate.table.contact_sheet` decides
what goes in each cell and this module lays it out, labels it and writes it atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine.errors import ExportError

_FONT = cv2.FONT_HERSHEY_SIMPLEX  # Hershey fonts draw ASCII only; labels are kept ASCII
_SCALE = 0.4
_THICK = 1
_GAP = 4
_HEADER = 22
#: Width of the row-label column in pixels.
ROW_LABEL_WIDTH = 150
_BACKGROUND = (32, 32, 32)
_TEXT = (235, 235, 235)


@dataclass(frozen=True)
class Tile:
    """One cell: an image and a short caption drawn over its bottom edge.

    Attributes:
        image: ``(h, w, 3)`` float sRGB in [0, 1] (RGB order).
        caption: e.g. ``"24.31 dB"``; empty for none.
    """

    image: np.ndarray
    caption: str = ""


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def fit_text(text: str, width: int, scale: float = _SCALE) -> str:
    """``text`` (ASCII) shortened with ``..`` until it is at most ``width`` pixels wide."""
    text = _ascii(text)
    if cv2.getTextSize(text, _FONT, scale, _THICK)[0][0] <= width:
        return text
    while text and cv2.getTextSize(text + "..", _FONT, scale, _THICK)[0][0] > width:
        text = text[:-1]
    return text + ".."


def wrap_text(text: str, width: int, max_lines: int = 2, scale: float = _SCALE) -> list[str]:
    """Break ``text`` (ASCII) into at most ``max_lines`` lines of at most ``width`` pixels;
    what does not fit is cut with ``..``."""
    lines: list[str] = []
    rest = _ascii(text)
    while rest and len(lines) < max_lines - 1:
        n = len(rest)
        while n > 1 and cv2.getTextSize(rest[:n], _FONT, scale, _THICK)[0][0] > width:
            n -= 1
        lines.append(rest[:n])
        rest = rest[n:]
    if rest:
        lines.append(fit_text(rest, width, scale))
    return lines


def _put(canvas: np.ndarray, text: str, x: int, y: int, width: int) -> None:
    cv2.putText(canvas, fit_text(text, width), (x, y), _FONT, _SCALE, _TEXT, _THICK, cv2.LINE_AA)


def render_grid(
    column_labels: Sequence[str],
    row_labels: Sequence[Sequence[str]],
    tiles: Sequence[Sequence[Tile | None]],
) -> np.ndarray:
    """Lay tiles out in a labelled grid.

    Args:
        column_labels: one header per column.
        row_labels: per row, one or more text lines drawn left of it.
        tiles: ``tiles[row][column]``; ``None`` leaves the cell empty. Cells are as large as
            the largest tile; smaller tiles sit in their top-left corner.

    Returns:
        ``(H, W, 3)`` uint8 RGB image.
    """
    images = [t.image for row in tiles for t in row if t is not None]
    cell_h = max((im.shape[0] for im in images), default=32)
    cell_w = max((im.shape[1] for im in images), default=32)
    cols, rows = len(column_labels), len(tiles)
    height = _HEADER + rows * (cell_h + _GAP) + _GAP
    width = ROW_LABEL_WIDTH + cols * (cell_w + _GAP) + _GAP
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = _BACKGROUND
    for c, label in enumerate(column_labels):
        _put(canvas, label, ROW_LABEL_WIDTH + c * (cell_w + _GAP) + 2, _HEADER - 7, cell_w - 2)
    for r, row in enumerate(tiles):
        top = _HEADER + r * (cell_h + _GAP)
        for line_no, line in enumerate(row_labels[r] if r < len(row_labels) else []):
            _put(canvas, line, 4, top + 14 + 16 * line_no, ROW_LABEL_WIDTH - 8)
        for c, tile in enumerate(row):
            if tile is None:
                continue
            left = ROW_LABEL_WIDTH + c * (cell_w + _GAP)
            im = np.clip(np.asarray(tile.image, np.float32), 0.0, 1.0)
            h, w = im.shape[:2]
            canvas[top : top + h, left : left + w] = (im * 255.0 + 0.5).astype(np.uint8)
            if tile.caption:
                # A dark band under the caption keeps it readable over bright image areas.
                band = canvas[top + h - 14 : top + h, left : left + w]
                band[:] = (band.astype(np.uint16) * 2 // 5).astype(np.uint8)
                _put(canvas, tile.caption, left + 3, top + h - 4, w - 4)
    return canvas


def write_png(path: str | os.PathLike[str], rgb: np.ndarray) -> Path:
    """Write an ``(H, W, 3)`` uint8 RGB image as PNG atomically (temp file + rename).

    Raises:
        ExportError: the PNG could not be encoded or written.
    """
    from engine.files import atomic_file

    target = Path(path).expanduser()
    ok, data = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise ExportError(f"{target}: could not encode the PNG")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(target) as fh:
            fh.write(data.tobytes())
    except OSError as exc:
        raise ExportError(f"{target}: could not write ({exc.strerror or exc})") from None
    return target
