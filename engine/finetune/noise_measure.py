"""Measure a camera's noise on a dark frame or a short/long pair (DN above black).

The measurements :mod:`engine.finetune.noise_fit` turns into a profile; the method, in its module
docstring: colour bias, row and read noise (with its Tukey-lambda shape) from dark frames;
system gain K and read variance from the residual of a short exposure against its long one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import DarkroomError
from engine.io import BLUE, GREEN, RED, RawFrame, packed_positions
from engine.noise import tukey_lambda_quantile, tukey_lambda_variance

#: Read-noise shape assumed without dark frames (0 = logistic, close to Gaussian).
DEFAULT_LAMBDA = 0.0
#: Candidate lambdas of the probability-plot fit.
LAMBDA_GRID = np.round(np.arange(-0.30, 0.301, 0.01), 2)
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
        bias: mean offsets in packed order (R, G1, B, G2), DN (per colour on X-Trans, where
            G1 and G2 are the mean of every green).
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


def _bias_sites(cfa_pattern: np.ndarray) -> list[list[tuple[int, int]]]:
    """The positions of the CFA period behind each entry of the packed order (R, G1, B, G2):
    one each in a Bayer block; on a 6x6 X-Trans tile every red, every green (for G1 and G2
    alike) and every blue, so the bias is measured per colour, as the noise model places it
    (:func:`engine.noise.model.add_noise`)."""
    pattern = np.asarray(cfa_pattern)
    if pattern.shape == (2, 2):
        return [[site] for site in packed_positions(pattern)]
    red, green, blue = ([(int(y), int(x)) for y, x in np.argwhere(pattern == c)]
                        for c in (RED, GREEN, BLUE))  # fmt: skip
    return [red, green, blue, green]


def _packed_means(x: np.ndarray, cfa_pattern: np.ndarray, valid: np.ndarray | None = None) -> list:
    """Mean of ``x`` at each CFA position (per colour on X-Trans), packed order (R, G1, B,
    G2)."""
    n = np.asarray(cfa_pattern).shape[0]
    means = []
    for sites in _bias_sites(cfa_pattern):
        total, count = 0.0, 0
        for dy, dx in sites:
            plane = x[dy::n, dx::n]
            if valid is not None:
                plane = plane[valid[dy::n, dx::n]]
            total += float(plane.sum())
            count += int(plane.size)
        means.append(total / count if count else 0.0)
    return means


def _subtract_packed(x: np.ndarray, cfa_pattern: np.ndarray, values: Sequence[float]) -> None:
    """Subtract each packed entry's value at its positions (each position once)."""
    n = np.asarray(cfa_pattern).shape[0]
    per_site: dict[tuple[int, int], float] = {}
    for sites, value in zip(_bias_sites(cfa_pattern), values, strict=True):
        per_site.update(dict.fromkeys(sites, value))
    for (dy, dx), value in per_site.items():
        x[dy::n, dx::n] -= value


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


def _binned_variance(signal: np.ndarray, residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean signal and robust residual variance in up to :data:`GAIN_BINS` equal-count bins of
    the signal (bins with too few pixels or no finite variance are left out)."""
    edges = np.unique(np.quantile(signal, np.linspace(0.0, 1.0, GAIN_BINS + 1)))
    index = np.clip(np.searchsorted(edges, signal, side="right") - 1, 0, len(edges) - 2)
    means, variances = [], []
    for b in range(len(edges) - 1):
        chosen = index == b
        if int(chosen.sum()) >= MIN_BIN_PIXELS:
            var = _robust_var(residual[chosen])
            if math.isfinite(var):
                means.append(float(signal[chosen].mean()))
                variances.append(var)
    return np.asarray(means), np.asarray(variances)


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
    if short.mosaic.shape != long.mosaic.shape or not np.array_equal(
        short.cfa_pattern, long.cfa_pattern
    ):
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

    used = valid & rows_ok[:, None]
    mu, var = _binned_variance(expected[used], r[used])
    if len(mu) < 3 or mu.max() - mu.min() <= 0:
        raise DarkroomError(f"{what}: the long exposure has too little tonal range to fit")
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
