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
computed over the full image with data range 1. The result types and their table/JSON formatting
live in :mod:`engine.evaluate.results`; reading pairs and writing reports and the contact sheet in
:mod:`engine.evaluate.report`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np

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
from engine.evaluate.metrics import (
    SSIM_K1,
    SSIM_K2,
    SSIM_SIGMA,
    SSIM_WINDOW,
    detail_kept,
    hf_energy_ratio,
    psnr,
    ssim,
)
from engine.evaluate.results import (
    EvaluationResult,
    PairScore,
    SheetRow,
    ratio_label,
)
from engine.jobs import CancelToken, ProgressCallback, no_progress
from engine.render import (
    CLASSICAL,
    Enhancer,
    classical_linear,
    develop_numpy,
)
from engine.train import TrainingPair

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


def _sheet_window(reference: np.ndarray, size: int, period: int = 2) -> tuple[int, int, int, int]:
    """``(top, left, h, w)`` of the most detailed ``size`` x ``size`` window on a 4x4 grid,
    on whole CFA periods (``period``: 2 for Bayer, 6 for X-Trans)."""
    h, w = reference.shape[:2]
    # The input column crops the mosaic, which keeps whole CFA periods.
    ch, cw = min(size, h) // period * period, min(size, w) // period * period
    grey = reference.mean(axis=2)
    best, window = -1.0, (0, 0, ch, cw)
    for top in np.linspace(0, h - ch, 4).astype(int) // period * period:
        for left in np.linspace(0, w - cw, 4).astype(int) // period * period:
            patch = grey[top : top + ch, left : left + cw]
            # Gradient energy favours texture and edges over merely bright/dark areas.
            score = float(
                np.abs(np.diff(patch, axis=0)).mean() + np.abs(np.diff(patch, axis=1)).mean()
            )
            if score > best:
                best, window = score, (int(top), int(left), ch, cw)
    return window


def _run_network(enhancer: Enhancer, pair: TrainingPair, cancel: CancelToken | None) -> np.ndarray:
    """A model's sRGB output ``(H, W, 3)`` float32 for a pair, on the sensor grid: the app's
    own render (noise-aware models get the noise level the app would find for the frame)."""
    assert enhancer.runner is not None  # only model methods get here, never "none"
    return enhancer.render(pair.dark, pair.ratio, cancel=cancel).srgb


def _describe(pairs: Sequence[TrainingPair]) -> str:
    synthetic = sum(1 for p in pairs if p.dark.exif.make == "Synthetic")
    if synthetic == len(pairs):
        sensor = " X-Trans" if all(p.dark.is_xtrans for p in pairs) else ""
        return f"synthetic{sensor}: unprocessed photos with the physics-based noise model"
    if synthetic == 0:
        return "real short/long RAW pairs"
    return f"{synthetic} synthetic, {len(pairs) - synthetic} real"


@dataclass(frozen=True)
class EvaluationSettings:
    """How :func:`evaluate` runs.

    Attributes:
        device: for the models: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"mps"``.
        precision: network precision (:func:`engine.device.autocast_dtype`), e.g. ``"bf16"``
            to check what reduced precision costs in quality.
        include_baselines: add ``gain``, ``gain + NLM`` and ``gain + bilateral``.
        description: where the pairs came from, for the caption (default: synthetic/real).
        sheet_pairs: how many pairs keep crops for the contact sheet.
        sheet_crop: side of those crops in pixels (the most detailed window of the reference).
    """

    device: str = "auto"
    precision: str = "auto"
    include_baselines: bool = True
    description: str | None = None
    sheet_pairs: int = 6
    sheet_crop: int = 256


def evaluate(
    pairs: list[TrainingPair],
    models: list[str],
    settings: EvaluationSettings | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> EvaluationResult:
    """Score the baselines and each model on the same pairs.

    Args:
        pairs: evaluation pairs (synthetic or real), any sizes.
        models: variant names, user model names or ``.safetensors`` paths (``"none"`` adds the
            ``gain`` baseline).
        settings: device, precision, baselines and contact-sheet crops.
        progress: ``progress(done, total, message)`` after each method on each pair.
        cancel: checked between pairs and methods (and between a model's tiles).

    Returns:
        The scores; only ``settings.sheet_pairs`` crops of each output are kept, never whole
        images.

    Raises:
        DarkroomError: no pairs, nothing to evaluate, or a model cannot be loaded.
        Cancelled: ``cancel`` was set.
    """
    if not pairs:
        raise DarkroomError("no pairs to evaluate")
    settings = settings or EvaluationSettings()
    methods, aliases, enhancers = _methods(models, settings)
    keep = set(_sheet_indices(pairs, settings.sheet_pairs))
    scores: list[PairScore] = []
    sheet: list[SheetRow] = []
    counter = _Counter(len(pairs) * len(methods), progress or no_progress)
    for index, pair in enumerate(pairs):
        if cancel is not None:
            cancel.raise_if_cancelled()
        row = SheetRow(pair.name, pair.ratio) if index in keep else None
        scores += _score_pair(pair, methods, enhancers, row, settings.sheet_crop, counter, cancel)
        if row is not None:
            sheet.append(row)
    return EvaluationResult(
        methods=methods,
        scores=scores,
        pair_count=len(pairs),
        description=_describe(pairs) if settings.description is None else settings.description,
        sheet=sheet,
        aliases=aliases,
        settings=_settings_record(enhancers),
    )


def _methods(
    models: list[str], settings: EvaluationSettings
) -> tuple[list[str], dict[str, str], dict[str, Enhancer]]:
    """Table columns in order, model name -> column, and the loaded model of each column."""
    methods: list[str] = list(BASELINE_METHODS) if settings.include_baselines else []
    aliases: dict[str, str] = {}
    enhancers: dict[str, Enhancer] = {}
    for model in models:
        if model == CLASSICAL:
            if GAIN not in methods:
                methods.insert(0, GAIN)
            aliases[model] = GAIN
            continue
        enhancer = Enhancer(model, device=settings.device, precision=settings.precision)
        label = _unique(_model_label(model, enhancer.card and enhancer.card.name), methods)
        methods.append(label)
        aliases[model] = label
        enhancers[label] = enhancer
    if not methods:
        raise DarkroomError("nothing to evaluate: no models and no baselines")
    return methods, aliases, enhancers


@dataclass
class _Counter:
    """Progress over every (pair, method) of a run."""

    total: int
    report: ProgressCallback
    done: int = 0

    def step(self, message: str) -> None:
        self.done += 1
        self.report(self.done, self.total, message)


def _score_pair(
    pair: TrainingPair,
    methods: list[str],
    enhancers: dict[str, Enhancer],
    row: SheetRow | None,
    crop: int,
    counter: _Counter,
    cancel: CancelToken | None,
) -> list[PairScore]:
    """Every method's score on one pair; crops into ``row`` when the sheet keeps this pair."""
    reference = develop_numpy(pair.target, pair.dark)
    window = np.s_[:, :]
    if row is not None:
        top, left, h, w = _sheet_window(reference, crop, pair.dark.period)
        window = np.s_[top : top + h, left : left + w]
        row.images[INPUT_COLUMN] = develop_numpy(
            classical_linear(pair.dark.crop(top, left, h, w), 1.0), pair.dark
        )
    baselines = _Baselines(pair)
    scores = []
    for method in methods:
        if cancel is not None:
            cancel.raise_if_cancelled()
        start = perf_counter()
        if method in BASELINE_METHODS:
            out, seconds = baselines.output(method)
        else:
            out = _run_network(enhancers[method], pair, cancel)
            seconds = perf_counter() - start
        scores.append(PairScore(pair=pair.name, ratio=float(pair.ratio), method=method,
                                psnr=psnr(out, reference), ssim=ssim(out, reference),
                                seconds=seconds, detail=detail_kept(out, reference),
                                hf=hf_energy_ratio(out, reference)))  # fmt: skip
        if row is not None:
            row.images[method] = np.ascontiguousarray(out[window])
        counter.step(f"{method}: {pair.name}")
    if row is not None:
        row.images[REFERENCE_COLUMN] = np.ascontiguousarray(reference[window])
    return scores


class _Baselines:
    """The network-free methods on one pair; the gain image they share is made once and its
    time counted in each of them."""

    def __init__(self, pair: TrainingPair) -> None:
        self.pair = pair
        self.gain: np.ndarray | None = None
        self.gain_seconds = 0.0

    def output(self, method: str) -> tuple[np.ndarray, float]:
        """``(sRGB image, seconds)`` of ``method`` (one of :data:`BASELINE_METHODS`)."""
        if self.gain is None:
            start = perf_counter()
            self.gain = develop_numpy(classical_linear(self.pair.dark, self.pair.ratio),
                                      self.pair.dark)  # fmt: skip
            self.gain_seconds = perf_counter() - start
        start = perf_counter()
        if method == GAIN:
            out = self.gain
        elif method == GAIN_NLM:
            out = nlm_denoise(self.gain)
        else:
            out = bilateral_denoise(self.gain)
        return out, perf_counter() - start + self.gain_seconds


def _settings_record(enhancers: dict[str, Enhancer]) -> dict[str, Any]:
    """The baselines' parameters and the device, for the JSON record."""
    return {
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
