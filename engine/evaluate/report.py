"""What an evaluation reads and writes: held-out pairs, ``table.md``, ``results.json`` and the
contact sheet (a PNG grid of crops; the drawing helpers are in
:mod:`engine.evaluate.contact_sheet`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.errors import DarkroomError
from engine.evaluate.metrics import psnr
from engine.evaluate.results import EvaluationResult, ratio_label
from engine.evaluate.table import INPUT_COLUMN, REFERENCE_COLUMN
from engine.files import atomic_write_text
from engine.train import TrainingPair, held_out_pairs, list_photos


def default_eval_pairs(
    clean_photos_dir: str | Path,
    ratios: Sequence[float] = (100, 250, 300),
    max_photos: int | None = None,
    max_side: int | None = 512,
    sensor: str = "bayer",
) -> list[TrainingPair]:
    """Deterministic synthetic evaluation pairs from the held-out split of a photo folder,
    from a ``sensor`` (``"bayer"``, ``"x-trans"``) camera.

    Every held-out photo (see :func:`engine.train.synthesis.is_held_out`; the first ``max_photos``)
    at every ratio, centre-cropped to ``max_side``, with the same noise on every run.

    Raises:
        DarkroomError: the folder is missing or has no held-out photos.
    """
    folder = Path(clean_photos_dir).expanduser()
    if not folder.is_dir():
        raise DarkroomError(f"{folder}: no such folder")
    photos = list_photos(folder, held_out=True)
    if max_photos is not None:
        photos = photos[: max(0, int(max_photos))]
    if not photos:
        raise DarkroomError(f"{folder}: no held-out photos (about 1 in 10 photos is held out)")
    return held_out_pairs(photos, ratios, max_side=max_side, sensor=sensor)


def write_report(
    result: EvaluationResult, out_dir: str | Path, second: str = "ssim"
) -> tuple[Path, Path, Path]:
    """Write ``table.md`` (PSNR and ``second`` per ratio, see
    :meth:`EvaluationResult.table_markdown`), ``results.json`` and ``contact_sheet.png`` into
    ``out_dir``.

    Each file is written atomically. Returns the three paths in that order.
    """
    out = Path(out_dir).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
        table, data = out / "table.md", out / "results.json"
        atomic_write_text(table, result.table_markdown(second))
        atomic_write_text(data, result.to_json())
    except OSError as exc:
        raise DarkroomError(f"{out}: could not write the report ({exc.strerror or exc})") from None
    sheet = contact_sheet(result, out / "contact_sheet.png")
    return table, data, sheet


def _centre(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    ch, cw = min(size, h), min(size, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    return image[top : top + ch, left : left + cw]


def contact_sheet(
    result: EvaluationResult, path: str | Path, crop: int = 128, max_pairs: int = 6
) -> Path:
    """A PNG grid of crops: a row per pair, columns input, each method, reference.

    The input column is the dark frame developed at x1, i.e. what the camera recorded (near
    black); every other cell but the reference is captioned with its crop's PSNR against the
    reference crop. Crops are the centre ``crop`` x ``crop`` of the windows :func:`evaluate`
    kept. Written atomically.

    Raises:
        DarkroomError: the result kept no crops, or the file could not be written.
    """
    from engine.evaluate.contact_sheet import (
        ROW_LABEL_WIDTH,
        Tile,
        render_grid,
        wrap_text,
        write_png,
    )

    rows = result.sheet[: max(0, int(max_pairs))]
    if not rows:
        raise DarkroomError("no crops kept for a contact sheet (evaluate with sheet_pairs > 0)")
    columns = [INPUT_COLUMN, *result.methods, REFERENCE_COLUMN]
    grid: list[list[Tile | None]] = []
    labels: list[list[str]] = []
    for row in rows:
        reference = _centre(row.images[REFERENCE_COLUMN], crop)
        cells: list[Tile | None] = []
        for column in columns:
            image = row.images.get(column)
            if image is None:
                cells.append(None)
                continue
            image = _centre(image, crop)
            caption = "" if column == REFERENCE_COLUMN else _psnr_caption(image, reference)
            cells.append(Tile(image, caption))
        grid.append(cells)
        # Synthetic names end in "@x100"; the ratio gets its own line anyway.
        name = re.sub(r"@x[0-9.]+$", "", row.name)
        labels.append([*wrap_text(name, ROW_LABEL_WIDTH - 8), ratio_label(row.ratio)])
    return write_png(path, render_grid(columns, labels, grid))


def _psnr_caption(image: np.ndarray, reference: np.ndarray) -> str:
    value = psnr(image, reference)
    return "inf dB" if math.isinf(value) else f"{value:.2f} dB"
