"""The fine-tune's data: the photographer's pairs, synthetic crops from them, validation crops.

Split from :mod:`engine.finetune.run`, which runs the fine-tune: this module loads the user's
short/long pairs (targets kept as lossless uint16 to halve their memory), hands out training
crops (:class:`FinetunePairSource`, real or synthesised from the long exposures with a fitted
noise profile) and scores a model on fixed centre crops (:class:`Validation`).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from engine.errors import DarkroomError
from engine.evaluate import psnr
from engine.finetune.noise_fit import NoiseFit, darken_with_level, load_dark_frames
from engine.finetune.noise_measure import measure_dark_frame
from engine.io import RawFrame, read_raw
from engine.models import NO_FINISHING, Finishing
from engine.noise import (
    PROFILES,
    NoiseLevel,
    NoiseProfile,
    noise_level_for,
    noise_level_from_profile,
)
from engine.render import (
    classical_linear,
    crop_frame_border,
    demosaic_of_input,
    develop_numpy,
    finish_output,
    frame_border,
    pad_frame_border,
)
from engine.resources import detail_from_input
from engine.train import (
    PairFiles,
    TrainingPair,
    crop_pair,
    load_pair,
    random_crop_and_flip,
    to_rggb,
    training_crop_size,
)

#: Share of training crops synthesised from the user's long exposures when ``synthetic``.
SYNTHETIC_FRACTION = 0.5
#: Synthetic ratios are the user's ratios times a factor log-uniform in this range.
RATIO_JITTER = (0.7, 1.4)


@dataclass(frozen=True, eq=False)
class LoadedPair:
    """A user's pair loaded for fine-tuning: its :class:`~engine.train.synthesis.TrainingPair`
    (target as uint16, lossless, see :class:`~engine.train.real_pairs.RealPairSource`) and the
    long exposure's frame (``None`` when no synthetic crops are made from it)."""

    pair: TrainingPair
    long: RawFrame | None


class FinetunePairSource:
    """Training crops from the user's real pairs, mixed with synthetic ones.

    A synthetic crop takes a random long exposure and its target, crops and flips both
    (CFA-correct, :func:`~engine.train.random_crop_and_flip`), then darkens the crop with
    the fitted noise profile (:func:`~engine.finetune.noise_fit.darken_frame`) at one of the user's
    ratios times a factor log-uniform in :data:`RATIO_JITTER`.

    X-Trans pairs give X-Trans crops, real and synthetic alike (cut on whole 6-pixel periods to
    multiples of 12 pixels, flipped, never mirrored into another geometry), for an X-Trans
    model.

    Every crop carries its noise level for noise-aware models, as the app would find it for the
    new model: with ``fitted_levels``, a synthetic crop the level it was drawn with and a real
    one its frame's level with the fitted profile first (:func:`engine.noise.noise_level_for`);
    without, a real crop its frame's level found as for any model, and a synthetic one the
    level it was drawn with times :func:`found_scale` (a crop is too small to measure).

    Args:
        pairs: the training pairs (targets uint16).
        crop: crop side in sensor pixels.
        profile: fitted noise profile, or ``None`` for real pairs only.
        fitted_levels: whether the new model takes its noise level from ``profile``
            (:attr:`~engine.models.ModelCard.noise_fit_sets_level`).
        synthetic_fraction: probability that a crop is synthetic (ignored without a profile).
    """

    def __init__(
        self,
        pairs: Sequence[LoadedPair],
        crop: int,
        profile: NoiseProfile | None = None,
        synthetic_fraction: float = SYNTHETIC_FRACTION,
        fitted_levels: bool = True,
    ) -> None:
        if not pairs:
            raise DarkroomError("no training pairs")
        self.pairs = list(pairs)
        self.crop = int(crop)
        self.profile = profile
        self.synthetic_fraction = float(synthetic_fraction) if profile is not None else 0.0
        self.ratios = [p.pair.ratio for p in self.pairs]
        self.fitted_levels = fitted_levels
        fitted = [profile] if profile is not None and fitted_levels else []
        profiles = [*fitted, *PROFILES.values()]
        self.levels = [noise_level_for(p.pair.dark, profiles) for p in self.pairs]
        self.found_scale = found_scale(self.pairs, self.levels, profile) if profile else (1.0, 1.0)

    def __len__(self) -> int:
        return len(self.pairs)

    def sample(self, rng: np.random.Generator) -> TrainingPair:
        """A random crop: a ``crop`` x ``crop`` dark frame and its float32 target."""
        index = int(rng.integers(len(self.pairs)))
        user = self.pairs[index]
        if self.profile is not None and user.long is not None:
            if rng.random() < self.synthetic_fraction:
                return self._synthetic(user, rng)
        out = random_crop_and_flip(user.pair, self.crop, rng)
        return replace(out, target=to_float(out.target), noise=self.levels[index])

    def _synthetic(self, user: LoadedPair, rng: np.random.Generator) -> TrainingPair:
        assert self.profile is not None and user.long is not None
        clean = TrainingPair(user.pair.name, user.long, 1.0, user.pair.target)
        crop = random_crop_and_flip(clean, self.crop, rng)
        lo, hi = RATIO_JITTER
        ratio = self.ratios[int(rng.integers(len(self.ratios)))]
        ratio = max(1.0, ratio * math.exp(rng.uniform(math.log(lo), math.log(hi))))
        dark, level = darken_with_level(crop.dark, ratio, self.profile, rng)
        if not self.fitted_levels:  # on the scale the app finds this camera's level at
            level = replace(level, gain=level.gain * self.found_scale[0],
                            floor=level.floor * self.found_scale[1])  # fmt: skip
        return TrainingPair(f"{user.pair.name} synthetic", dark, ratio, to_float(crop.target),
                            noise=level)  # fmt: skip


@dataclass
class FinetuneData:
    """A fine-tune's data: training set, validation crops (``label`` says which), the noise
    fit, the crop source and the pairs' camera."""

    train_set: list[LoadedPair]
    validation: Validation
    label: str
    fit: NoiseFit | None
    source: FinetunePairSource
    camera: str


def found_scale(
    pairs: Sequence[LoadedPair], found: Sequence[NoiseLevel], profile: NoiseProfile
) -> tuple[float, float]:
    """``(gain, floor)`` factors from the fitted profile's level to the level found as for any
    model (``found``, one per pair), geometric means over the short frames the profile gives
    a level for at their ISO (``(1, 1)`` if none): what turns a synthetic crop's drawn level
    into the one the app would find on such a frame. On an invented camera with heavy tails the
    estimator read its floor at 0.3-1.0 of the profile's whole variance."""
    ratios = []
    for user, level in zip(pairs, found, strict=True):
        iso = user.pair.dark.exif.iso
        with contextlib.suppress(ValueError, TypeError, ZeroDivisionError):
            fitted = noise_level_from_profile(profile, float(iso))
            ratios.append((level.gain / fitted.gain, level.floor / fitted.floor))
    ratios = [r for r in ratios if all(math.isfinite(v) and v > 0 for v in r)]
    if not ratios:
        return 1.0, 1.0
    logs = np.log(np.asarray(ratios))
    return float(np.exp(logs[:, 0].mean())), float(np.exp(logs[:, 1].mean()))


def to_float(target: np.ndarray) -> np.ndarray:
    if target.dtype == np.uint16:
        return target.astype(np.float32) * np.float32(1.0 / 65535.0)
    return target


def quantise(target: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(target, 0.0, 1.0) * np.float32(65535.0)).astype(np.uint16)


def load_finetune_pair(spec: PairFiles, keep_long: bool) -> LoadedPair:
    pair = load_pair(spec)  # checks cameras, sizes, CFA and ratio with one-line errors
    pair = replace(pair, target=quantise(pair.target))
    return LoadedPair(pair, read_raw(spec.long).visible() if keep_long else None)


def centre_crop(pair: TrainingPair, side: int) -> TrainingPair:
    """The centre ``side`` x ``side`` of a pair (whole CFA periods: an X-Trans crop is cut to
    multiples of 12 pixels, as training crops are)."""
    h, w = pair.dark.height, pair.dark.width
    ch, cw = training_crop_size(pair, side)
    return crop_pair(pair, (h - ch) // 2, (w - cw) // 2, ch, cw)


# --------------------------------------------------------------------------------------------
# Validation


@dataclass
class Validation:
    """Centre crops scored against their developed references; each crop carries its whole
    frame's noise level as the app finds it (for noise-aware models, and for the steps after
    the network that ``finishing``, the base model card's, asks for: the app's renders take
    them, :func:`engine.render.finish_output`). ``sources`` names each crop's ``(short,
    long)`` files, when known."""

    crops: list[TrainingPair]
    references: list[np.ndarray]
    label: str
    sources: list[tuple[str, str]] = field(default_factory=list)
    finishing: Finishing = NO_FINISHING
    _classicals: dict[int, torch.Tensor] = field(default_factory=dict, repr=False, compare=False)

    def classical(self, index: int) -> torch.Tensor:
        """Crop ``index``'s classical render, ``(3, h, w)`` linear camera RGB with its noise
        below black (where :func:`engine.render.restore_detail` takes detail from, unless from
        the network input's own demosaic), made once, and only for crops that need it: the
        crops are scored again at every validation step."""
        if index not in self._classicals:
            crop = self.crops[index]
            linear = classical_linear(crop.dark, crop.ratio, keep_negative=True)
            self._classicals[index] = torch.from_numpy(linear).permute(2, 0, 1)
        return self._classicals[index]

    @classmethod
    def build(
        cls,
        pairs: Sequence[TrainingPair],
        side: int,
        label: str,
        profiles: Sequence[NoiseProfile] = (),
        sources: Sequence[tuple[str, str]] = (),
        finishing: Finishing = NO_FINISHING,
    ) -> Validation:
        """Crops of ``pairs``; ``profiles`` are looked in first for their noise level (the
        fine-tune's fitted profile), then the shipped ones; ``sources``: each pair's files;
        ``finishing``: the base model card's."""
        known = [*profiles, *PROFILES.values()]
        crops = [
            to_rggb(centre_crop(replace(p, target=to_float(p.target),
                                        noise=noise_level_for(p.dark, known)), side))
            for p in pairs
        ]  # fmt: skip
        refs = [develop_numpy(c.target, c.dark) for c in crops]
        return cls(crops, refs, label, list(sources), finishing)

    def score(self, model: nn.Module, device: torch.device) -> float:
        """Mean PSNR (dB) of ``model``'s developed output over the crops."""
        return float(np.mean(self.scores(model, device)))

    def scores(self, model: nn.Module, device: torch.device) -> list[float]:
        """PSNR (dB) of ``model``'s developed output on each crop."""
        model = model.eval().to(device)
        # Borders mirrored as the app's TiledRunner does, so the score is what the app shows.
        border = frame_border(model)
        scores = []
        with torch.inference_mode():
            for i, (crop, ref) in enumerate(zip(self.crops, self.references, strict=True)):
                noise = crop.noise if getattr(model, "noise_input", False) else None
                wants_demosaic = getattr(model, "demosaic_input", False)
                below_black = getattr(model, "demosaic_below_black", False)
                planes = crop.network_input(noise, wants_demosaic, below_black)
                height, width = planes.shape[1:]
                x = torch.from_numpy(pad_frame_border(planes, border, model.size_multiple))[None]
                out = crop_frame_border(model(x.to(device))[0], border, height, width)
                out = out.float().clamp_(0.0, 1.0).cpu()
                source = None
                if self.finishing.restores_detail:  # the app's source (Enhancer._finish)
                    source = (demosaic_of_input(planes, 0, height, width)
                              if wants_demosaic and detail_from_input(crop.dark.sensor, below_black)
                              else self.classical(i))  # fmt: skip
                finish_output(out, self.finishing, crop.noise, crop.ratio, crop.dark.wb_gains,
                              crop.dark.sensor, source)  # fmt: skip
                srgb = develop_numpy(out.permute(1, 2, 0).contiguous().numpy(), crop.dark)
                scores.append(float(psnr(srgb, ref)))
        return scores

    def score_gain(self) -> float:
        """Mean PSNR of plain amplification (what ``--model none`` shows)."""
        return float(np.mean(self.gain_scores()))

    @functools.cached_property
    def gain_images(self) -> list[np.ndarray]:
        """Each crop as plain amplification shows it (developed sRGB), made once for the
        gain scores and the scene check."""
        return [develop_numpy(classical_linear(c.dark, c.ratio), c.dark) for c in self.crops]

    def gain_scores(self) -> list[float]:
        """PSNR of plain amplification on each crop."""
        return [float(psnr(shown, ref))
                for shown, ref in zip(self.gain_images, self.references, strict=True)]  # fmt: skip

    def scene_correlations(self) -> list[float]:
        """Per crop, the correlation of the amplified short exposure with the long one's
        developed reference, both grey and blurred against noise: about 1 for one scene,
        near 0 for two different ones."""
        out = []
        for shown, ref in zip(self.gain_images, self.references, strict=True):
            a, b = _blurred_grey(shown), _blurred_grey(ref)
            out.append(float(np.corrcoef(a.ravel(), b.ravel())[0, 1]))
        return [v if np.isfinite(v) else 0.0 for v in out]

    def suspects(self, model_scores: Sequence[float], gain_scores: Sequence[float]
                 ) -> list[SuspectPair]:  # fmt: skip
        """The pairs that look wrong: the two frames barely correlate (two scenes), or the
        base model scores below plain gain on them (see :class:`SuspectPair`)."""
        sources = self.sources or [("?", "?")] * len(self.crops)
        found = zip(sources, model_scores, gain_scores, self.scene_correlations(), strict=True)
        return [SuspectPair(short, long, m, g, r) for (short, long), m, g, r in found
                if r < SAME_SCENE_CORRELATION or m < g]  # fmt: skip


#: Below this correlation of amplified short and long exposure, a pair is not one scene.
SAME_SCENE_CORRELATION = 0.5


def _blurred_grey(srgb: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(np.asarray(srgb, np.float32).mean(axis=2), (0, 0), 2.0)


@dataclass(frozen=True)
class SuspectPair:
    """A validation pair that looks wrong (:meth:`Validation.suspects`): its frames barely
    correlate (``correlation`` below :data:`SAME_SCENE_CORRELATION`: two scenes), or the base
    model scores below plain gain on it (a model that loses to amplification is more often
    shown a wrong pair than failing). PSNRs in dB."""

    short: str
    long: str
    psnr_model: float
    psnr_gain: float
    correlation: float = 1.0

    def describe(self) -> str:
        pair = f"suspicious validation pair {Path(self.short).name} + {Path(self.long).name}"
        if self.correlation < SAME_SCENE_CORRELATION:
            return (f"{pair}: the two frames do not look like one scene (correlation "
                    f"{self.correlation:.2f}); check the pairing")  # fmt: skip
        return (
            f"{pair}: the base model scores {self.psnr_model:.2f} dB, below plain gain "
            f"({self.psnr_gain:.2f} dB); check that both frames show the same scene"
        )


def load_dark_list(
    dark_frames: str | Path | Sequence[str | Path | RawFrame] | None,
) -> list[RawFrame]:
    """Dark frames (lens-cap shots) for the noise fit, each checked to be dark.

    Args:
        dark_frames: a folder, or files and frames; ``None``: none.

    Raises:
        DarkroomError: an unreadable file, or a frame with light in it.
    """
    if dark_frames is None:
        return []
    if isinstance(dark_frames, str | Path):
        frames = load_dark_frames(dark_frames)
    else:
        frames = [f if isinstance(f, RawFrame) else read_raw(f) for f in dark_frames]
    for frame in frames:
        measure_dark_frame(frame)  # a lit frame is the user's mistake: say so now
    return frames
