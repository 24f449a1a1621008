"""Fit the ELD noise model to a photographer's own camera from a few frames.

In the spirit of "Lighting Every Darkness in Two Pairs" (Jin et al., ICCV 2023): a couple of
short/long pairs, plus optional dark frames (lens-cap shots), pin down the camera's noise well
enough to synthesise more training pairs from the user's own clean long exposures.

Measurements (all in DN above black, at the camera's own bit depth; model and units as in
:mod:`engine.noise_model`):

* **Dark frame** (no light): per CFA position, the mean is the colour bias; the variance of the
  row means is ``sigma_row**2 + read_var / W``; what is left after removing the row means is
  the read noise. Its Tukey-lambda shape is the lambda whose quantiles correlate best with the
  sorted samples (the probability-plot correlation coefficient, as ELD fits it), and its scale
  the slope of that probability plot over the central 98 % (robust to hot pixels).
* **Short/long pair** (the long one is the clean reference): the short exposure's expected
  signal is ``S = long / ratio``, and the residual ``r = short - S`` (bias and row means
  removed) has variance ``K * S + read_var`` (photon shot noise plus read noise; the long
  exposure's own noise adds ``(K * S + read_var / ratio) / ratio``, corrected for). A weighted
  line through the variance of ``r`` in 32 bins of ``S`` gives the system gain ``K`` (slope)
  and the read variance (intercept). Read noise is taken as Gaussian-like there: lambda is
  not identifiable under shot noise, so it is fixed at :data:`DEFAULT_LAMBDA` (0, logistic
  tails) unless dark frames measured it.

The :class:`~engine.noise_model.NoiseProfile` then has a K range of
:data:`K_RANGE_FACTOR` around the measured gains and log-linear read/row regressions whose
slope and intercept reproduce the measured values exactly (with one gain, the slope is the
typical published :data:`DEFAULT_READ_SLOPE`/:data:`DEFAULT_ROW_SLOPE`); its log-std is the
regression's residual spread, at least :data:`MIN_LOG_STD`.

:func:`synthesise_extra_pairs` darkens the user's long exposures with that profile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.colour import classical_linear
from engine.errors import DarkroomError
from engine.noise import NoiseProfile, synthesise_dark, tukey_lambda_quantile, tukey_lambda_variance
from engine.packing import normalise_mosaic, packed_positions
from engine.raw_io import RAW_EXTENSIONS, RawFrame, read_raw
from engine.synthesis import RATIO_RANGE, Pair

#: Read-noise shape assumed without dark frames (0 = logistic, close to Gaussian).
DEFAULT_LAMBDA = 0.0
#: Candidate lambdas of the probability-plot fit.
LAMBDA_GRID = np.round(np.arange(-0.30, 0.301, 0.01), 2)
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
#: Variance bins of the gain fit, and the fewest pixels a bin needs.
GAIN_BINS = 32
MIN_BIN_PIXELS = 50
#: Fewest usable pixels for a gain fit.
MIN_PAIR_PIXELS = 2000
#: Long-exposure pixels above this fraction of the range are excluded (clipped or non-linear).
LINEAR_LIMIT = 0.95
#: Samples of a dark frame used for the lambda fit.
LAMBDA_SAMPLES = 100_000
#: Smallest sigma a fit reports, DN (a log-linear regression needs positive values).
MIN_SIGMA = 1e-3
#: Variance of rounding to integer DN.
QUANTISATION_VAR = 1.0 / 12.0
#: Frames are measured on a centre crop of at most this side: 4 million pixels are plenty,
#: and float64 copies of a whole 24-megapixel frame would cost gigabytes.
MAX_FIT_SIDE = 2048


@dataclass(frozen=True)
class NoiseMeasurement:
    """Noise measured on one dark frame or one short/long pair (DN above black).

    Attributes:
        source: file name(s) measured.
        kind: ``"dark"`` or ``"pair"``.
        iso: the (short) frame's ISO, if known.
        k: system gain K (DN per electron); measured for pairs, from the ISO for dark frames
            (``None`` until :func:`fit_noise_profile` assigns it).
        read_std: standard deviation of the read noise (Gaussian equivalent), DN.
        lam: Tukey-lambda shape (measured on dark frames, assumed for pairs).
        sigma_read: Tukey-lambda scale, ``read_std / sqrt(tukey_lambda_variance(lam))``, DN.
        sigma_row: standard deviation of the per-row offset, DN.
        bias: mean offsets in packed order (R, G1, B, G2), DN.
    """

    source: str
    kind: str
    iso: float | None
    k: float | None
    read_std: float
    lam: float
    sigma_read: float
    sigma_row: float
    bias: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


@dataclass
class NoiseFit:
    """A fitted profile and how it came about.

    Attributes:
        profile: the camera's :class:`~engine.noise_model.NoiseProfile`.
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
# Measurements


def _centre(frame: RawFrame, side: int = MAX_FIT_SIDE) -> RawFrame:
    h, w = frame.height, frame.width
    if max(h, w) <= side:
        return frame
    ch, cw = min(side, h), min(side, w)
    return frame.crop((h - ch) // 2, (w - cw) // 2, ch, cw)


def _name(frame: RawFrame) -> str:
    return Path(frame.path).name if frame.path else "frame"


def _is_integral(frame: RawFrame) -> bool:
    mosaic = frame.mosaic
    if np.issubdtype(mosaic.dtype, np.integer):
        return True
    sample = mosaic.reshape(-1)[:: max(1, mosaic.size // 10_000)]
    return bool(np.all(sample == np.rint(sample)))


def _packed_means(x: np.ndarray, cfa_pattern: np.ndarray, valid: np.ndarray | None = None) -> list:
    """Mean of ``x`` at each CFA position, packed order (R, G1, B, G2)."""
    means = []
    for dy, dx in packed_positions(cfa_pattern):
        plane = x[dy::2, dx::2]
        if valid is not None:
            plane = plane[valid[dy::2, dx::2]]
        means.append(float(plane.mean()) if plane.size else 0.0)
    return means


def _subtract_packed(x: np.ndarray, cfa_pattern: np.ndarray, values: Sequence[float]) -> None:
    for (dy, dx), value in zip(packed_positions(cfa_pattern), values, strict=True):
        x[dy::2, dx::2] -= value


def fit_lambda(samples: np.ndarray) -> tuple[float, float, float]:
    """Tukey-lambda shape and scale of zero-mean read noise samples (probability plot).

    Args:
        samples: 1-D read-noise values, DN (any number; at most :data:`LAMBDA_SAMPLES` used).

    Returns:
        ``(lam, scale, ppcc)``: the grid lambda with the highest probability-plot correlation,
        the plot's slope over the central 98 % of points (the Tukey-lambda scale, DN), and that
        correlation.
    """
    x = np.sort(np.asarray(samples, dtype=np.float64).reshape(-1))
    if x.size > LAMBDA_SAMPLES:
        x = x[np.linspace(0, x.size - 1, LAMBDA_SAMPLES).astype(np.int64)]
    n = x.size
    u = (np.arange(1, n + 1) - 0.5) / n
    # Trim 0.01 % at each end: hot and dead pixels would otherwise choose the tails.
    keep = slice(int(n * 1e-4), n - int(n * 1e-4))
    best = (DEFAULT_LAMBDA, -2.0)
    for lam in LAMBDA_GRID:
        q = tukey_lambda_quantile(u[keep], float(lam))
        r = float(np.corrcoef(q, x[keep])[0, 1])
        if r > best[1]:
            best = (float(lam), r)
    lam = best[0]
    central = slice(int(n * 0.01), n - int(n * 0.01))
    q = tukey_lambda_quantile(u[central], lam)
    scale = float(np.polyfit(q, x[central], 1)[0])
    return lam, max(scale, MIN_SIGMA), best[1]


def measure_dark_frame(frame: RawFrame) -> NoiseMeasurement:
    """Read noise, row noise, lambda and colour bias of a dark frame (lens-cap shot).

    Raises:
        DarkroomError: the frame is not dark (more than a few percent of the range above
            black on average).
    """
    frame = _centre(frame)
    x = frame.mosaic.astype(np.float64) - frame.black_map(np.float64)
    span = float(frame.white_level - frame.black_level.mean())
    bias = _packed_means(x, frame.cfa_pattern)
    if max(abs(b) for b in bias) > 0.02 * span:
        raise DarkroomError(
            f"{_name(frame)}: not a dark frame (mean {max(bias):.0f} DN above black; "
            "shoot with the lens cap on)"
        )
    _subtract_packed(x, frame.cfa_pattern, bias)
    rows = x.mean(axis=1)
    residual = x - rows[:, None]
    w = x.shape[1]
    # Removing each row's own mean takes 1/W of the pixel variance with it.
    total_var = float(residual.var()) * w / max(w - 1, 1)
    lam, scale, _ = fit_lambda(residual)
    read_var = total_var - (QUANTISATION_VAR if _is_integral(frame) else 0.0)
    read_std = math.sqrt(max(read_var, MIN_SIGMA**2))
    row_var = float(rows.var()) - total_var / w
    return NoiseMeasurement(
        source=_name(frame),
        kind="dark",
        iso=frame.exif.iso,
        k=None,
        read_std=read_std,
        lam=lam,
        # The probability-plot slope ignores rounding; scale it to the de-quantised std.
        sigma_read=max(scale * read_std / math.sqrt(total_var), MIN_SIGMA),
        sigma_row=math.sqrt(max(row_var, MIN_SIGMA**2)),
        bias=tuple(bias),  # type: ignore[arg-type]
    )


def _robust_var(values: np.ndarray) -> float:
    """Variance without outliers beyond 5 robust sigmas (scene edges, hot pixels)."""
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med))) * 1.4826
    kept = values[np.abs(values - med) <= 5.0 * max(mad, 1.0)]
    return float(kept.var(ddof=1)) if kept.size > 1 else math.nan


def measure_pair(
    short: RawFrame, long: RawFrame, ratio: float, lam: float = DEFAULT_LAMBDA
) -> NoiseMeasurement:
    """System gain, read noise and row noise from a short exposure and its long reference.

    Args:
        short, long: aligned frames of one scene, same size, CFA and levels.
        ratio: exposure ratio long / short (>= 1).
        lam: the read-noise shape to convert the read std into a Tukey-lambda scale.

    Raises:
        DarkroomError: mismatched frames, too few usable pixels (a clipped or black long
            exposure), or noise that does not grow with the signal (no fit).
    """
    what = f"{_name(short)} / {_name(long)}"
    if short.mosaic.shape != long.mosaic.shape or short.cfa_name != long.cfa_name:
        raise DarkroomError(f"{what}: frames differ in size or CFA layout")
    short, long = _centre(short), _centre(long)
    if not (math.isfinite(ratio) and ratio >= 1.0):
        raise DarkroomError(f"{what}: exposure ratio {ratio:.3g} is below 1")
    black = long.black_map(np.float64)
    span = long.white_level - black
    s = short.mosaic.astype(np.float64) - short.black_map(np.float64)
    lng = long.mosaic.astype(np.float64) - black
    expected = lng / ratio
    valid = (lng < LINEAR_LIMIT * span) & (expected >= 0.0)
    valid &= short.mosaic.astype(np.float64) < LINEAR_LIMIT * short.white_level
    if int(valid.sum()) < MIN_PAIR_PIXELS:
        raise DarkroomError(f"{what}: too few unclipped pixels to measure the noise")
    r = s - expected
    bias = _packed_means(r, short.cfa_pattern, valid)
    _subtract_packed(r, short.cfa_pattern, bias)
    r = np.where(valid, r, 0.0)
    counts = valid.sum(axis=1)
    rows_ok = counts >= max(8, r.shape[1] // 4)
    row_means = np.zeros(r.shape[0])
    row_means[rows_ok] = r[rows_ok].sum(axis=1) / counts[rows_ok]
    r -= row_means[:, None]

    sig, res = expected[valid & rows_ok[:, None]], r[valid & rows_ok[:, None]]
    edges = np.unique(np.quantile(sig, np.linspace(0.0, 1.0, GAIN_BINS + 1)))
    index = np.clip(np.searchsorted(edges, sig, side="right") - 1, 0, len(edges) - 2)
    means, variances = [], []
    for b in range(len(edges) - 1):
        chosen = index == b
        if int(chosen.sum()) >= MIN_BIN_PIXELS:
            var = _robust_var(res[chosen])
            if math.isfinite(var):
                means.append(float(sig[chosen].mean()))
                variances.append(var)
    if len(means) < 3 or max(means) - min(means) <= 0:
        raise DarkroomError(f"{what}: the long exposure has too little tonal range to fit")
    mu, var = np.asarray(means), np.asarray(variances)
    # A bin's variance estimate is uncertain in proportion to itself; weight accordingly.
    slope, intercept = np.polyfit(mu, var, 1, w=1.0 / np.maximum(var, 1e-6))
    # The long exposure's noise, scaled by 1/ratio, adds K*S/ratio and read_var/ratio**2.
    k = float(slope) / (1.0 + 1.0 / ratio)
    if not (math.isfinite(k) and k > 0):
        raise DarkroomError(f"{what}: the noise does not grow with the signal (cannot fit gain)")
    quant = QUANTISATION_VAR if _is_integral(short) else 0.0
    read_var = (float(intercept) - quant) / (1.0 + 1.0 / ratio**2)
    read_std = math.sqrt(max(read_var, MIN_SIGMA**2))
    width = float(counts[rows_ok].mean())
    row_var = float(row_means[rows_ok].var()) - float(var.mean()) / width
    return NoiseMeasurement(
        source=what,
        kind="pair",
        iso=short.exif.iso,
        k=k,
        read_std=read_std,
        lam=float(lam),
        sigma_read=max(read_std / math.sqrt(tukey_lambda_variance(lam)), MIN_SIGMA),
        sigma_row=math.sqrt(max(row_var, MIN_SIGMA**2)),
        bias=tuple(bias),  # type: ignore[arg-type]
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


def fit_noise_profile(
    pairs: Sequence[tuple[RawFrame, RawFrame, float]],
    dark_frames: Sequence[RawFrame] = (),
    camera: str | None = None,
) -> NoiseFit:
    """A :class:`~engine.noise_model.NoiseProfile` of the user's camera.

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
    median_k = float(np.median(gains))
    filled = []
    for d in darks:
        if k_per_iso is not None and d.iso:
            k = k_per_iso * d.iso
        else:
            k = median_k
            notes.append(f"{d.source}: no ISO to relate it to the pairs; assumed their gain")
        filled.append(
            NoiseMeasurement(
                d.source, d.kind, d.iso, k, d.read_std, d.lam, d.sigma_read, d.sigma_row, d.bias
            )
        )
    darks = filled

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
    files = sorted(
        p for p in root.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in RAW_EXTENSIONS
    )  # fmt: skip
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
        A frame like ``long`` (same CFA, levels, EXIF) whose float32 mosaic holds the noisy dark
        signal in DN, clipped to ``[0, white_level]`` as a file would be.
    """
    clean = normalise_mosaic(long, 1.0, clip=True)
    params = profile.sample_params(rng)
    dark = synthesise_dark(clean, ratio, params, profile, rng, cfa=long.cfa_name, clip=False)
    black = long.black_map()
    dn = dark * (np.float32(long.white_level) - black) + black
    np.clip(dn, 0.0, long.white_level, out=dn)
    return long.with_mosaic(dn.astype(np.float32))


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
) -> list[Pair]:
    """Extra training pairs from the user's own clean long exposures.

    Each pair takes a random long frame, darkens it by a ratio from ``ratios`` (default:
    log-uniform in :data:`engine.synthesis.RATIO_RANGE`) and adds noise drawn from ``profile``
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
        pairs.append(Pair(name=name, dark=dark, ratio=ratio, target=targets[index]))
    return pairs
