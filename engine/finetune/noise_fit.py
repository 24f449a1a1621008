"""Fit the ELD noise model to a photographer's own camera from a few frames.

In the spirit of "Lighting Every Darkness in Two Pairs" (Jin et al., ICCV 2023): a couple of
short/long pairs, plus optional dark frames (lens-cap shots), pin down the camera's noise well
enough to synthesise more training pairs from the user's own clean long exposures.

Measurements (:mod:`engine.finetune.noise_measure`; all in DN above black, at the camera's own bit
depth; model and units as in :mod:`engine.noise.model`):

* **Dark frame** (no light): per CFA position (per colour on X-Trans), the mean is the colour
  bias; the variance of the row means is ``sigma_row**2 + read_var / W``; what is left after
  removing the row means is the read noise. Its Tukey-lambda shape is the lambda whose
  quantiles correlate best with the sorted samples (the probability-plot correlation
  coefficient, as ELD fits it), and its scale the slope of that probability plot over the
  central 98 % (robust to hot pixels).
* **Short/long pair** (the long one is the clean reference): the short exposure's expected
  signal is ``S = long / ratio``, and the residual ``r = short - S`` (bias and row means
  removed) has variance ``K * S + read_var`` (photon shot noise plus read noise; the long
  exposure's own noise adds ``(K * S + read_var / ratio) / ratio``, corrected for). A weighted
  line through the variance of ``r`` in 32 bins of ``S`` gives the system gain ``K`` (slope)
  and the read variance (intercept). Read noise is taken as Gaussian-like there: lambda is
  not identifiable under shot noise, so it is fixed at ``DEFAULT_LAMBDA`` (0, logistic
  tails) unless dark frames measured it.

The :class:`~engine.noise.model.NoiseProfile` then has a K range of
:data:`K_RANGE_FACTOR` around the measured gains and log-linear read/row regressions whose
slope and intercept reproduce the measured values exactly (with one gain, the slope is the
typical published :data:`DEFAULT_READ_SLOPE`/:data:`DEFAULT_ROW_SLOPE`); its log-std is the
regression's residual spread, at least :data:`MIN_LOG_STD`.

:func:`synthesise_extra_pairs` darkens the user's long exposures with that profile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from engine.errors import DarkroomError
from engine.finetune.noise_measure import (
    DEFAULT_LAMBDA,
    MIN_SIGMA,
    NoiseMeasurement,
    measure_dark_frame,
    measure_pair,
)
from engine.io import RawFrame, raw_files_in, read_raw
from engine.noise import NoiseLevel, NoiseProfile, noise_level_from_params, synthesise_dark
from engine.render import classical_linear, normalise_mosaic
from engine.train import RATIO_RANGE, TrainingPair

#: Regression slopes used when all measurements share one gain (published profiles:
#: read 0.46-0.66, row 0.45-0.73).
DEFAULT_READ_SLOPE = 0.5
DEFAULT_ROW_SLOPE = 0.5
#: The profile's K range spans the measured gains widened by this factor each way.
K_RANGE_FACTOR = 1.25
#: Smallest log-std of the read/row regressions (some spread keeps training robust).
MIN_LOG_STD = 0.05
#: Lambda range half-width around the measured values.
LAMBDA_MARGIN = 0.02


@dataclass
class NoiseFit:
    """A fitted profile and how it came about.

    Attributes:
        profile: the camera's :class:`~engine.noise.model.NoiseProfile`.
        measurements: every frame's or pair's measurement, gains filled in.
        notes: assumptions made (one line each), for model cards and reports.
    """

    profile: NoiseProfile
    measurements: list[NoiseMeasurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: camera, K range, read and row sigma at the measured gain(s)."""
        p = self.profile
        ks = sorted({round(m.k, 4) for m in self.measurements if m.k})
        k_text = ", ".join(f"{k:.3g}" for k in ks)
        reads = ", ".join(f"{m.read_std:.2f}" for m in self.measurements)
        return (
            f"{p.camera}: K {k_text} DN/e- (range {p.k_min:.3g}-{p.k_max:.3g}), read noise "
            f"{reads} DN, lambda {p.lambda_min:+.2f}..{p.lambda_max:+.2f}"
        )


# --------------------------------------------------------------------------------------------
# The profile


def _log_fit(
    ks: Sequence[float], values: Sequence[float], default_slope: float
) -> tuple[float, float, float]:
    """``log value = slope * log K + intercept``; ``(slope, intercept, log_std)``."""
    lk = np.log(np.asarray(ks, np.float64))
    lv = np.log(np.maximum(np.asarray(values, np.float64), MIN_SIGMA))
    if lk.max() - lk.min() > math.log(1.1):
        slope, intercept = (float(c) for c in np.polyfit(lk, lv, 1))
        spread = float(np.std(lv - (slope * lk + intercept)))
    else:
        # One gain: keep a typical slope and put the line through the measured values.
        slope = default_slope
        intercept = float(np.mean(lv - slope * lk))
        spread = float(np.std(lv)) if lv.size > 1 else 0.0
    return slope, intercept, max(spread, MIN_LOG_STD)


def _with_pair_gains(
    darks: list[NoiseMeasurement], k_per_iso: float | None, median_k: float, notes: list[str]
) -> list[NoiseMeasurement]:
    """Dark frames carry no signal to measure gain on: each gets ``k_per_iso x ISO`` from the
    pairs, or the pairs' median gain (noted) when either ISO is unknown."""
    filled = []
    for dark in darks:
        if k_per_iso is not None and dark.iso:
            k = k_per_iso * dark.iso
        else:
            k = median_k
            notes.append(f"{dark.source}: no ISO to relate it to the pairs; assumed their gain")
        filled.append(replace(dark, k=k))
    return filled


def fit_noise_profile(
    pairs: Sequence[tuple[RawFrame, RawFrame, float]],
    dark_frames: Sequence[RawFrame] = (),
    camera: str | None = None,
) -> NoiseFit:
    """A :class:`~engine.noise.model.NoiseProfile` of the user's camera.

    Args:
        pairs: ``(short, long, ratio)`` of aligned real pairs (at least one).
        dark_frames: lens-cap shots of the same camera (optional; they measure read noise,
            row noise, lambda and colour bias better than pairs can).
        camera: profile name (default: the first short frame's camera).

    Returns:
        The fit. Dark frames get their gain from ``K = k_per_iso x ISO``, with ``k_per_iso``
        from the pairs (the median of ``K / ISO``); without ISOs, the pairs' median gain.

    Raises:
        DarkroomError: no pairs, or a pair or dark frame that cannot be measured.
    """
    if not pairs:
        raise DarkroomError("fitting a noise profile needs at least one short/long pair")
    notes: list[str] = []
    darks = [measure_dark_frame(f) for f in dark_frames]
    dark_lams = [d.lam for d in darks]
    lam = float(np.median(dark_lams)) if darks else DEFAULT_LAMBDA
    pair_ms = [measure_pair(s, lg, ratio, lam) for s, lg, ratio in pairs]
    gains = [m.k for m in pair_ms if m.k]
    per_iso = [m.k / m.iso for m in pair_ms if m.k and m.iso]
    k_per_iso = float(np.median(per_iso)) if per_iso else None
    darks = _with_pair_gains(darks, k_per_iso, float(np.median(gains)), notes)

    noise_points = darks or pair_ms
    ks = [m.k for m in noise_points if m.k]
    read_slope, read_icpt, read_std = _log_fit(
        ks, [m.sigma_read for m in noise_points], DEFAULT_READ_SLOPE
    )
    row_slope, row_icpt, row_std = _log_fit(
        ks, [m.sigma_row for m in noise_points], DEFAULT_ROW_SLOPE
    )
    if darks:
        lam_lo = min(dark_lams) - LAMBDA_MARGIN
        lam_hi = max(dark_lams) + LAMBDA_MARGIN
        bias = tuple(float(np.mean([d.bias[c] for d in darks])) for c in range(4))
    else:
        lam_lo = lam_hi = DEFAULT_LAMBDA
        bias = (0.0, 0.0, 0.0, 0.0)
        notes.append(
            f"no dark frames: read-noise shape fixed at lambda {DEFAULT_LAMBDA:g} (logistic), "
            "read and row noise measured on the pairs"
        )
    all_k = gains + ks
    if len({round(k, 6) for k in ks}) < 2:
        notes.append(
            f"one gain measured: read/row regressions use the typical slopes "
            f"{DEFAULT_READ_SLOPE:g}/{DEFAULT_ROW_SLOPE:g}"
        )
    first_short, first_long = pairs[0][0], pairs[0][1]
    profile = NoiseProfile(
        camera=(camera or first_short.exif.camera).strip() or "unknown camera",
        k_min=min(all_k) / K_RANGE_FACTOR,
        k_max=max(all_k) * K_RANGE_FACTOR,
        read_slope=read_slope, read_intercept=read_icpt, read_log_std=read_std,
        lambda_min=lam_lo, lambda_max=lam_hi,
        row_slope=row_slope, row_intercept=row_icpt, row_log_std=row_std,
        white_level=float(first_long.white_level),
        black_level=float(first_long.black_level.mean()),
        colour_bias=bias,  # type: ignore[arg-type]
        k_per_iso=k_per_iso,
    )  # fmt: skip
    return NoiseFit(profile=profile, measurements=pair_ms + darks, notes=notes)


def load_dark_frames(folder: str | Path) -> list[RawFrame]:
    """Every RAW file in ``folder`` as a dark frame.

    Raises:
        DarkroomError: no such folder, no RAW files, or an unreadable one.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DarkroomError(f"{root}: no such folder (dark frames)")
    files = raw_files_in(root)
    if not files:
        raise DarkroomError(f"{root}: no RAW files (dark frames)")
    return [read_raw(p) for p in files]


# --------------------------------------------------------------------------------------------
# Extra pairs


def darken_frame(
    long: RawFrame, ratio: float, profile: NoiseProfile, rng: np.random.Generator
) -> RawFrame:
    """A synthetic short exposure of a clean frame: darkened by ``ratio``, with fitted noise.

    Returns:
        A frame like ``long`` (same CFA, Bayer or X-Trans, levels, EXIF) whose float32 mosaic
        holds the noisy dark signal in DN, clipped to ``[0, white_level]`` as a file would be.
    """
    return darken_with_level(long, ratio, profile, rng)[0]


def darken_with_level(
    long: RawFrame, ratio: float, profile: NoiseProfile, rng: np.random.Generator
) -> tuple[RawFrame, NoiseLevel]:
    """:func:`darken_frame`, and the noise level it drew (for noise-aware models)."""
    clean = normalise_mosaic(long, 1.0, clip=True)
    params = profile.sample_params(rng)
    # The pattern, not its name: an X-Trans frame's colour bias is placed by its 6x6 tile.
    dark = synthesise_dark(clean, ratio, params, profile, rng, cfa=long.cfa_pattern, clip=False)
    black = long.black_map()
    dn = dark * (np.float32(long.white_level) - black) + black
    np.clip(dn, 0.0, long.white_level, out=dn)
    return long.with_mosaic(dn.astype(np.float32)), noise_level_from_params(params, profile)


def sample_extra_ratio(rng: np.random.Generator, ratios: Sequence[float] | None) -> float:
    """One of ``ratios`` (uniformly), or log-uniform in the synthetic ``RATIO_RANGE``."""
    if ratios:
        return float(ratios[int(rng.integers(len(ratios)))])
    lo, hi = RATIO_RANGE
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def synthesise_extra_pairs(
    long_frames: Sequence[RawFrame],
    profile: NoiseProfile,
    n: int,
    rng: np.random.Generator,
    ratios: Sequence[float] | None = None,
) -> list[TrainingPair]:
    """Extra training pairs from the user's own clean long exposures.

    Each pair takes a random long frame, darkens it by a ratio from ``ratios`` (default:
    log-uniform in :data:`engine.train.synthesis.RATIO_RANGE`) and adds noise drawn from ``profile``
    (:func:`darken_frame`); its target is ``classical_linear(long, 1.0)``, exactly as for real
    pairs.

    Returns:
        ``n`` pairs: full-size float32 dark mosaics in DN and ``(H, W, 3)`` float32 targets in
        [0, 1].
    """
    if not long_frames:
        raise DarkroomError("no long exposures to synthesise pairs from")
    targets: dict[int, np.ndarray] = {}
    pairs = []
    for i in range(n):
        index = int(rng.integers(len(long_frames)))
        long = long_frames[index]
        if index not in targets:
            targets[index] = classical_linear(long, 1.0)
        ratio = sample_extra_ratio(rng, ratios)
        dark = darken_frame(long, ratio, profile, rng)
        name = f"{Path(long.path).stem if long.path else 'long'} synthetic x{ratio:.3g} #{i}"
        pairs.append(TrainingPair(name=name, dark=dark, ratio=ratio, target=targets[index]))
    return pairs
