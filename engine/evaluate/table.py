"""Table 1 of "Learning to See in the Dark" for this app: PSNR/SSIM of every method on the same
pairs, measured on the developed sRGB output.

Every method turns a :class:`~engine.train.synthesis.TrainingPair`'s dark frame into an
``(H, W, 3)`` sRGB image on the sensor grid (no orientation), developed with the dark frame's
own white balance and colour matrix by :func:`engine.render.colour.develop`, the same function
the app renders with. The reference is the pair's target developed the same way. Methods
(the network-free ones are the *baselines*, :data:`BASELINE_METHODS`; "classical" is kept for
the app's network-free pipeline, ``--model none``):

* ``gain``: amplify by the ratio, clip, demosaic, develop (what ``--model none`` shows);
* ``gain + NLM``: the gain image denoised with OpenCV's non-local means
  (:func:`engine.evaluate.baselines.nlm_denoise`, strength from the estimated noise level);
* ``gain + bilateral``: the gain image through an edge-preserving bilateral filter
  (:func:`engine.evaluate.baselines.bilateral_denoise`, range sigma from the estimated noise level);
* each model: :class:`~engine.render.pipeline.Enhancer`'s runner on the packed input, clipped, then
  developed (or taken as is when its card says the output is already sRGB).

PSNR and SSIM (Wang et al. 2004, Gaussian window 11 / sigma 1.5; :mod:`engine.evaluate.metrics`) are
computed over the full image with data range 1. :func:`contact_sheet` shows crops of every method
side by side (drawing helpers in :mod:`engine.evaluate.contact_sheet`). The result types and their
table/JSON formatting live in :mod:`engine.evaluate.results` and are re-exported here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import torch

from engine.errors import DarkroomError
from engine.evaluate.baselines import (
    BILATERAL_DIAMETER,
    BILATERAL_SIGMA_PER_NOISE,
    BILATERAL_SPATIAL_SIGMA,
    DEMOSAIC_NOISE_GAIN,
    NLM_H_PER_SIGMA,
    NLM_H_RANGE,
    NLM_HCOLOR_PER_SIGMA,
    NLM_SEARCH,
    NLM_TEMPLATE,
    bilateral_denoise,
    nlm_denoise,
)
from engine.evaluate.metrics import SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW, psnr, ssim
from engine.evaluate.results import (
    METRIC_NOTE,
    EvaluationResult,
    PairScore,
    SheetRow,
    ratio_label,
)
from engine.files import atomic_write_text
from engine.jobs import CancelToken, ProgressCallback, no_progress
from engine.render import (
    CLASSICAL,
    Enhancer,
    classical_linear,
    develop,
    develop_numpy,
    mirror_image,
    pack_rggb,
)
from engine.train import TrainingPair, held_out_pairs, list_photos

__all__ = [
    "BASELINE_METHODS",
    "GAIN",
    "GAIN_BILATERAL",
    "GAIN_NLM",
    "INPUT_COLUMN",
    "METRIC_NOTE",
    "REFERENCE_COLUMN",
    "EvaluationResult",
    "PairScore",
    "SheetRow",
    "contact_sheet",
    "default_eval_pairs",
    "evaluate",
    "ratio_label",
    "write_report",
]


GAIN = "gain"
GAIN_NLM = "gain + NLM"
GAIN_BILATERAL = "gain + bilateral"
#: Classical baselines, in table order.
BASELINE_METHODS = (GAIN, GAIN_NLM, GAIN_BILATERAL)
#: Contact-sheet columns besides the methods.
INPUT_COLUMN = "input x1"
REFERENCE_COLUMN = "reference"


# --------------------------------------------------------------------------------------------
# Running the methods


def _model_label(model: str, card_name: str | None) -> str:
    # A file path is shown by its card's name (what training called it), a variant by itself.
    if model.lower().endswith(".safetensors"):
        return card_name or Path(model).stem
    return model


def _unique(label: str, taken: Sequence[str]) -> str:
    out, n = label, 2
    while out in taken:
        out, n = f"{label} ({n})", n + 1
    return out


def _sheet_indices(pairs: Sequence[TrainingPair], count: int) -> list[int]:
    """Up to ``count`` pair indices, taken round-robin over the ratio groups."""
    groups: dict[str, list[int]] = {}
    for i, pair in enumerate(pairs):
        groups.setdefault(ratio_label(pair.ratio), []).append(i)
    chosen: list[int] = []
    queues = [list(v) for v in groups.values()]
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return sorted(chosen)


def _sheet_window(reference: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """``(top, left, h, w)`` of the most detailed ``size`` x ``size`` window on a 4x4 grid."""
    h, w = reference.shape[:2]
    # Even sizes and offsets: the input column crops the mosaic, which keeps whole CFA periods.
    ch, cw = min(size, h) // 2 * 2, min(size, w) // 2 * 2
    grey = reference.mean(axis=2)
    best, window = -1.0, (0, 0, ch, cw)
    for top in np.linspace(0, h - ch, 4).astype(int) // 2 * 2:
        for left in np.linspace(0, w - cw, 4).astype(int) // 2 * 2:
            patch = grey[top : top + ch, left : left + cw]
            # Gradient energy favours texture and edges over merely bright/dark areas.
            score = float(
                np.abs(np.diff(patch, axis=0)).mean() + np.abs(np.diff(patch, axis=1)).mean()
            )
            if score > best:
                best, window = score, (int(top), int(left), ch, cw)
    return window


def _run_network(enhancer: Enhancer, pair: TrainingPair, cancel: CancelToken | None) -> np.ndarray:
    """A model's sRGB output ``(H, W, 3)`` float32 for a pair, on the sensor grid."""
    assert enhancer.runner is not None  # only model methods get here, never "none"
    packed, mirror = pack_rggb(pair.dark, pair.ratio)
    out = mirror_image(torch.from_numpy(enhancer.runner.run(packed, cancel=cancel)), mirror)
    if enhancer.card is not None and enhancer.card.output_space == "srgb":
        srgb = out.clamp(0.0, 1.0)
    else:
        srgb = develop(out.clamp_(0.0, 1.0), pair.dark.wb_gains, pair.dark.cam_to_srgb)
    return srgb.permute(1, 2, 0).contiguous().numpy()


def _describe(pairs: Sequence[TrainingPair]) -> str:
    synthetic = sum(1 for p in pairs if p.dark.exif.make == "Synthetic")
    if synthetic == len(pairs):
        return "synthetic: unprocessed photos with the physics-based noise model"
    if synthetic == 0:
        return "real short/long RAW pairs"
    return f"{synthetic} synthetic, {len(pairs) - synthetic} real"


def evaluate(
    pairs: list[TrainingPair],
    models: list[str],
    device: str = "auto",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    include_baselines: bool = True,
    *,
    description: str | None = None,
    sheet_pairs: int = 6,
    sheet_crop: int = 256,
    precision: str = "auto",
) -> EvaluationResult:
    """Score the baselines and each model on the same pairs.

    Args:
        pairs: evaluation pairs (synthetic or real), any sizes.
        models: variant names, user model names or ``.safetensors`` paths (``"none"`` adds the
            ``gain`` baseline).
        device: for the models: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"mps"``.
        progress: ``progress(done, total, message)`` after each method on each pair.
        cancel: checked between pairs and methods (and between a model's tiles).
        include_baselines: add ``gain``, ``gain + NLM`` and ``gain + bilateral``.
        description: where the pairs came from, for the caption (default: synthetic/real).
        sheet_pairs: how many pairs keep crops for the contact sheet.
        sheet_crop: side of those crops in pixels (the most detailed window of the reference).
        precision: network precision (:func:`engine.device.autocast_dtype`), e.g. ``"bf16"``
            to check what reduced precision costs in quality.

    Returns:
        The scores; only ``sheet_pairs`` crops of each output are kept, never whole images.

    Raises:
        DarkroomError: no pairs, nothing to evaluate, or a model cannot be loaded.
        Cancelled: ``cancel`` was set.
    """
    if not pairs:
        raise DarkroomError("no pairs to evaluate")
    report = progress or no_progress
    methods: list[str] = list(BASELINE_METHODS) if include_baselines else []
    aliases: dict[str, str] = {}
    enhancers: dict[str, Enhancer] = {}
    for model in models:
        if model == CLASSICAL:
            if GAIN not in methods:
                methods.insert(0, GAIN)
            aliases[model] = GAIN
            continue
        enhancer = Enhancer(model, device=device, precision=precision)
        label = _unique(_model_label(model, enhancer.card and enhancer.card.name), methods)
        methods.append(label)
        aliases[model] = label
        enhancers[label] = enhancer
    if not methods:
        raise DarkroomError("nothing to evaluate: no models and no baselines")

    keep = set(_sheet_indices(pairs, sheet_pairs))
    scores: list[PairScore] = []
    sheet: list[SheetRow] = []
    total, done = len(pairs) * len(methods), 0
    for index, pair in enumerate(pairs):
        if cancel is not None:
            cancel.raise_if_cancelled()
        reference = develop_numpy(pair.target, pair.dark)
        row = None
        if index in keep:
            top, left, h, w = _sheet_window(reference, sheet_crop)
            window = np.s_[top : top + h, left : left + w]
            row = SheetRow(pair.name, pair.ratio)
            row.images[INPUT_COLUMN] = develop_numpy(
                classical_linear(pair.dark.crop(top, left, h, w), 1.0), pair.dark
            )
            sheet.append(row)
        gain: np.ndarray | None = None
        gain_seconds = 0.0
        for method in methods:
            if cancel is not None:
                cancel.raise_if_cancelled()
            start = perf_counter()
            if method in BASELINE_METHODS:
                if gain is None:
                    gain = develop_numpy(classical_linear(pair.dark, pair.ratio), pair.dark)
                    gain_seconds = perf_counter() - start
                    start = perf_counter()
                if method == GAIN:
                    out = gain
                elif method == GAIN_NLM:
                    out = nlm_denoise(gain)
                else:
                    out = bilateral_denoise(gain)
                seconds = perf_counter() - start + gain_seconds
            else:
                out = _run_network(enhancers[method], pair, cancel)
                seconds = perf_counter() - start
            scores.append(
                PairScore(
                    pair=pair.name,
                    ratio=float(pair.ratio),
                    method=method,
                    psnr=psnr(out, reference),
                    ssim=ssim(out, reference),
                    seconds=seconds,
                )
            )
            if row is not None:
                row.images[method] = np.ascontiguousarray(out[window])
            done += 1
            report(done, total, f"{method}: {pair.name}")
        if row is not None:
            row.images[REFERENCE_COLUMN] = np.ascontiguousarray(reference[window])

    settings: dict[str, Any] = {
        "nlm": {
            "h": f"{NLM_H_PER_SIGMA:g} x noise sigma (8-bit), clipped to {NLM_H_RANGE}",
            "h_colour": f"{NLM_HCOLOR_PER_SIGMA:g} x noise sigma (8-bit), clipped to {NLM_H_RANGE}",
            "noise_sigma": f"Immerkaer estimate x {DEMOSAIC_NOISE_GAIN:g} (demosaic correction)",
            "template_window": NLM_TEMPLATE,
            "search_window": NLM_SEARCH,
        },
        "bilateral": {
            "sigma_colour": f"{BILATERAL_SIGMA_PER_NOISE:g} x noise sigma",
            "sigma_space": BILATERAL_SPATIAL_SIGMA,
            "diameter": BILATERAL_DIAMETER,
        },
        "ssim": {"window": SSIM_WINDOW, "sigma": SSIM_SIGMA, "k1": SSIM_K1, "k2": SSIM_K2},
        "device": str(next(iter(enhancers.values())).device) if enhancers else "cpu",
    }
    return EvaluationResult(
        methods=methods,
        scores=scores,
        pair_count=len(pairs),
        description=_describe(pairs) if description is None else description,
        sheet=sheet,
        aliases=aliases,
        settings=settings,
    )


# --------------------------------------------------------------------------------------------
# Data and reports


def default_eval_pairs(
    clean_photos_dir: str | Path,
    ratios: Sequence[float] = (100, 250, 300),
    max_photos: int | None = None,
    max_side: int | None = 512,
) -> list[TrainingPair]:
    """Deterministic synthetic evaluation pairs from the held-out split of a photo folder.

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
    return held_out_pairs(photos, ratios, max_side=max_side)


def write_report(result: EvaluationResult, out_dir: str | Path) -> tuple[Path, Path, Path]:
    """Write ``table.md``, ``results.json`` and ``contact_sheet.png`` into ``out_dir``.

    Each file is written atomically. Returns the three paths in that order.
    """
    out = Path(out_dir).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
        table, data = out / "table.md", out / "results.json"
        atomic_write_text(table, result.table_markdown())
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
