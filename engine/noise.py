"""Physics-based sensor noise after Wei et al., "A Physics-based Noise Formation Model for
Extreme Low-light Raw Denoising" (CVPR 2020, "ELD").

Training on clean exposures darkened with this model is what lets a network learn real sensor
noise without thousands of real dark/bright pairs: the paper reports 36.36 dB raw PSNR on SID at
x300 from ELD-synthetic pairs against 30.66 dB from plain Poisson-Gaussian noise.

Units convention (used by every function here):
    Signals are in digital numbers (DN) *above black* at the noise profile's own bit depth,
    i.e. a normalised sensor value ``v`` in [0, 1] is ``v * (white_level - black_level)`` DN of
    the profile's calibration. :func:`add_noise` takes the *expected* clean signal in those DN
    and returns the noisy DN above black (float32, may be negative: read and row noise swing
    around the black level). :func:`synthesise_dark` wraps this for normalised mosaics.

Per-pixel model for an expected signal ``S`` (DN above black) at system gain ``K`` (DN/e-)::

    D = K * Poisson(S / K)            shot noise (photon counting)
      + sigma_read * TukeyLambda(lam)  read noise (heavy-tailed, from the source follower)
      + r_row                          one Normal(0, sigma_row) offset per sensor row
      + bias[channel]                  colour-dependent black level error
    then rounded to integer DN          quantisation (ADC)
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from engine.packing import packed_positions
from engine.raw_io import cfa_from_name

# Below this |lambda| the Tukey-lambda quantile is replaced by its logistic limit: expm1 keeps
# full precision down to here, and beyond it lambda * log(u) would underflow.
_TUKEY_LAMBDA_EPS = 1e-12

# u is kept this far from 0 and 1 so log(u) and log(1 - u) stay finite; it truncates the
# tails at about 5e-17 probability, far beyond anything a finite sample reaches.
_U_EPS = 2.0**-55


def tukey_lambda_quantile(u: np.ndarray, lam: float) -> np.ndarray:
    """Quantile function of the standard Tukey-lambda distribution.

    ``Q(u) = (u**lam - (1 - u)**lam) / lam``, and the logistic ``log(u / (1 - u))`` at
    ``lam = 0``. Written as ``(expm1(lam log u) - expm1(lam log(1-u))) / lam`` so it is
    continuous and accurate as ``lam`` approaches 0 (the naive form cancels catastrophically).

    Args:
        u: probabilities, any shape, float, in (0, 1).
        lam: shape parameter; lam < 0 gives heavier-than-logistic tails, lam ~ 0.14 is close to
            a Gaussian.

    Returns:
        float64 array of ``u``'s shape.
    """
    u = np.asarray(u, dtype=np.float64)
    log_u = np.log(u)
    log_v = np.log1p(-u)
    if abs(lam) < _TUKEY_LAMBDA_EPS:
        return log_u - log_v
    return (np.expm1(lam * log_u) - np.expm1(lam * log_v)) / lam


def tukey_lambda_variance(lam: float) -> float:
    """Variance of the standard Tukey-lambda distribution (finite for lam > -1/2).

    ``2/lam**2 * (1/(1 + 2 lam) - Gamma(lam + 1)**2 / Gamma(2 lam + 2))``; ``pi**2 / 3`` (the
    logistic) at lam = 0. Used to turn a (sigma, lambda) pair into an equivalent Gaussian
    sigma, e.g. for noise-level conditioning or tests.
    """
    if not math.isfinite(lam) or lam <= -0.5:
        raise ValueError(f"Tukey-lambda variance needs a finite lambda > -1/2, got {lam}")
    if abs(lam) < 1e-3:
        # The closed form cancels badly near 0; its Taylor series (coefficients computed with
        # 50-digit mpmath) is accurate to ~1e-10 here.
        return math.pi**2 / 3 + lam * (
            -11.387963880031283 + lam * (27.646382311762688 - lam * 59.82668028405663)
        )
    ratio = math.exp(2 * math.lgamma(lam + 1) - math.lgamma(2 * lam + 2))
    return 2.0 / lam**2 * (1.0 / (1.0 + 2.0 * lam) - ratio)


def sample_tukey_lambda(rng: np.random.Generator, lam: float, shape: tuple[int, ...]) -> np.ndarray:
    """Standard Tukey-lambda samples by inverse-transform sampling.

    Returns:
        float64 array of ``shape``; scale by sigma for read noise.
    """
    u = rng.random(shape)
    np.clip(u, _U_EPS, 1.0 - _U_EPS, out=u)
    return tukey_lambda_quantile(u, lam)


@dataclass(frozen=True)
class NoiseParams:
    """One sampled noise realisation's parameters (all in the profile's DN).

    Attributes:
        k: system gain K in DN per electron (higher ISO = larger K).
        sigma_read: scale of the Tukey-lambda read noise, DN.
        lam: Tukey-lambda shape.
        sigma_row: standard deviation of the per-row offset, DN.
        bias: per-channel mean offsets in packed order (R, G1, B, G2), DN.
    """

    k: float
    sigma_read: float
    lam: float
    sigma_row: float
    bias: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bias", tuple(float(b) for b in self.bias))
        if not (math.isfinite(self.k) and self.k > 0):
            raise ValueError(f"K must be positive and finite, got {self.k}")
        for name in ("sigma_read", "sigma_row"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be >= 0 and finite, got {value}")
        if not math.isfinite(self.lam):
            raise ValueError(f"lambda must be finite, got {self.lam}")
        if len(self.bias) != 4 or not all(math.isfinite(b) for b in self.bias):
            raise ValueError(f"bias needs 4 finite values (R, G1, B, G2), got {self.bias}")

    @property
    def gaussian_read_sigma(self) -> float:
        """Standard deviation of the read noise alone (sigma_read * sd of Tukey-lambda)."""
        return self.sigma_read * math.sqrt(tukey_lambda_variance(self.lam))


@dataclass(frozen=True)
class NoiseProfile:
    """A camera's calibrated noise model: distributions that :class:`NoiseParams` are drawn from.

    ELD's "log-linear" regressions use natural logs: ``log sigma ~ Normal(slope * log K +
    intercept, log_std)``.

    Attributes:
        camera: profile name (key in :data:`PROFILES`).
        k_min, k_max: range of the system gain K (DN/e-) at the profile's bit depth;
            ``log K`` is drawn uniformly in it.
        read_slope, read_intercept, read_log_std: regression of ``log sigma_TL`` on ``log K``.
        lambda_min, lambda_max: Tukey-lambda shape range (drawn uniformly).
        row_slope, row_intercept, row_log_std: regression of ``log sigma_row`` on ``log K``.
        white_level, black_level: DN levels of the calibration, fixing the DN scale
            (``white - black``) that normalised signals are mapped onto.
        colour_bias: per-channel mean offsets in packed order (R, G1, B, G2), DN.
        k_per_iso: K = ``k_per_iso`` x ISO where known (a linear-gain sensor), else None.
    """

    camera: str
    k_min: float
    k_max: float
    read_slope: float
    read_intercept: float
    read_log_std: float
    lambda_min: float
    lambda_max: float
    row_slope: float
    row_intercept: float
    row_log_std: float
    white_level: float = 16383.0
    black_level: float = 512.0
    colour_bias: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    k_per_iso: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "colour_bias", tuple(float(b) for b in self.colour_bias))
        if not isinstance(self.camera, str) or not self.camera.strip():
            raise ValueError("noise profile needs a camera name")
        numeric = [f.name for f in fields(self) if f.name not in ("camera", "colour_bias")]
        for name in numeric:
            value = getattr(self, name)
            if value is None and name == "k_per_iso":
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"{self.camera}: {name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{self.camera}: {name} must be finite, got {value}")
            # Plain floats keep to_dict() JSON-serialisable when numpy scalars were passed.
            object.__setattr__(self, name, float(value))
        if not 0 < self.k_min <= self.k_max:
            raise ValueError(
                f"{self.camera}: need 0 < k_min <= k_max, got {self.k_min}, {self.k_max}"
            )
        if self.read_log_std < 0 or self.row_log_std < 0:
            raise ValueError(f"{self.camera}: log standard deviations must be >= 0")
        if not self.lambda_min <= self.lambda_max:
            raise ValueError(
                f"{self.camera}: need lambda_min <= lambda_max, got "
                f"{self.lambda_min}, {self.lambda_max}"
            )
        if not 0 <= self.black_level < self.white_level:
            raise ValueError(
                f"{self.camera}: need 0 <= black_level < white_level, got "
                f"{self.black_level}, {self.white_level}"
            )
        if len(self.colour_bias) != 4 or not all(math.isfinite(b) for b in self.colour_bias):
            raise ValueError(f"{self.camera}: colour_bias needs 4 finite values (R, G1, B, G2)")
        if self.k_per_iso is not None and self.k_per_iso <= 0:
            raise ValueError(f"{self.camera}: k_per_iso must be positive, got {self.k_per_iso}")

    @property
    def dn_range(self) -> float:
        """``white_level - black_level``: DN that a normalised value of 1 corresponds to."""
        return float(self.white_level - self.black_level)

    def k_for_iso(self, iso: float) -> float:
        """System gain at ``iso`` (linear model ``K = k_per_iso * ISO``)."""
        if self.k_per_iso is None:
            raise ValueError(f"{self.camera}: no ISO-to-K calibration in this profile")
        if not (math.isfinite(iso) and iso > 0):
            raise ValueError(f"ISO must be positive, got {iso}")
        return float(self.k_per_iso * iso)

    def iso_for_k(self, k: float) -> float:
        """Inverse of :meth:`k_for_iso`."""
        if self.k_per_iso is None:
            raise ValueError(f"{self.camera}: no ISO-to-K calibration in this profile")
        if not (math.isfinite(k) and k > 0):
            raise ValueError(f"K must be positive, got {k}")
        return float(k / self.k_per_iso)

    def sample_params(self, rng: np.random.Generator, k: float | None = None) -> NoiseParams:
        """Draw one realisation's parameters as ELD does.

        ``log K ~ U(log k_min, log k_max)`` unless ``k`` is given (it may lie outside the
        calibrated range, e.g. an extrapolated ISO); ``log sigma_TL`` and ``log sigma_row`` are
        Normal around their log-linear fits in ``log K``; lambda is uniform in its range.
        """
        if k is None:
            log_k = rng.uniform(math.log(self.k_min), math.log(self.k_max))
        else:
            if not (math.isfinite(k) and k > 0):
                raise ValueError(f"K must be positive and finite, got {k}")
            log_k = math.log(k)
        log_read = rng.normal(self.read_slope * log_k + self.read_intercept, self.read_log_std)
        log_row = rng.normal(self.row_slope * log_k + self.row_intercept, self.row_log_std)
        lam = rng.uniform(self.lambda_min, self.lambda_max)
        return NoiseParams(
            k=float(math.exp(log_k)),
            sigma_read=float(math.exp(log_read)),
            lam=float(lam),
            sigma_row=float(math.exp(log_row)),
            bias=self.colour_bias,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (tuples become lists); inverse of :meth:`from_dict`."""
        out = asdict(self)
        out["colour_bias"] = list(self.colour_bias)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NoiseProfile:
        """Build from :meth:`to_dict` output; unknown or missing keys raise ValueError."""
        if not isinstance(data, dict):
            raise ValueError(f"noise profile must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown noise profile keys: {', '.join(unknown)}")
        required = {f.name for f in fields(cls) if f.default is MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise ValueError(f"noise profile is missing: {', '.join(missing)}")
        kwargs = dict(data)
        if "colour_bias" in kwargs:
            kwargs["colour_bias"] = tuple(kwargs["colour_bias"])
        try:
            return cls(**kwargs)
        except TypeError as exc:  # e.g. a list where a number belongs
            raise ValueError(f"invalid noise profile: {exc}") from None

    def save_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` as indented JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load_json(cls, path: str | os.PathLike[str]) -> NoiseProfile:
        """Read a profile written by :meth:`save_json`; bad JSON raises ValueError."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc.msg})") from None
        return cls.from_dict(data)


# Published ELD calibrations: Wei et al., CVPR 2020, camera parameter files released with the
# paper (identical values in the LED, ICCV 2023, configs); transcribed from
# /work/shared/reference/noise-calibrations.md. Only the Sony's levels (512 / 16383, 14-bit)
# are given there; the other four are 14-bit cameras too and reuse that DN scale, which is
# an assumption: replace black/white if the calibration's own levels become known.
# K = 9.563e-4 x ISO for the Sony A7S2 is from the PMN code (Feng et al., ACM MM 2022).
PROFILES: dict[str, NoiseProfile] = {
    p.camera: p
    for p in (
        NoiseProfile(
            camera="SonyA7S2",
            k_min=0.0939, k_max=6.0106,
            read_slope=0.4621, read_intercept=0.5657, read_log_std=0.2634,
            lambda_min=-0.143, lambda_max=0.129,
            row_slope=0.5275, row_intercept=-0.5917, row_log_std=0.2943,
            white_level=16383.0, black_level=512.0, k_per_iso=9.563e-4,
        ),
        NoiseProfile(
            camera="NikonD850",
            k_min=0.4150, k_max=26.5625,
            read_slope=0.4774, read_intercept=-0.0904, read_log_std=0.2392,
            lambda_min=-0.243, lambda_max=-0.100,
            row_slope=0.4483, row_intercept=-1.7977, row_log_std=0.2322,
        ),
        NoiseProfile(
            camera="CanonEOS5D4",
            k_min=0.2182, k_max=13.9641,
            read_slope=0.6559, read_intercept=1.0927, read_log_std=0.2860,
            lambda_min=0.014, lambda_max=0.200,
            row_slope=0.4713, row_intercept=-0.8079, row_log_std=0.2436,
        ),
        NoiseProfile(
            camera="CanonEOS70D",
            k_min=0.4075, k_max=26.0798,
            read_slope=0.4868, read_intercept=1.4643, read_log_std=0.3820,
            lambda_min=-0.171, lambda_max=0.143,
            row_slope=0.7292, row_intercept=-0.9371, row_log_std=0.2502,
        ),
        NoiseProfile(
            camera="CanonEOS700D",
            k_min=0.4476, k_max=28.6482,
            read_slope=0.5982, read_intercept=1.5370, read_log_std=0.3888,
            lambda_min=-0.157, lambda_max=0.129,
            row_slope=0.6221, row_intercept=-0.7756, row_log_std=0.2485,
        ),
    )
}  # fmt: skip

# Per-ISO Sony A7S2 fits from the PMN code (Feng et al., ACM MM 2022), same reference file.
# The sensor is dual-gain, so read noise drops at ISO 2000; use these instead of sampling when
# a specific ISO matters.
SONY_A7S2_ISO_PARAMS: dict[int, NoiseParams] = {
    100: NoiseParams(k=0.0956, lam=0.149, sigma_read=0.702, sigma_row=0.139),
    400: NoiseParams(k=0.3825, lam=0.022, sigma_read=1.182, sigma_row=0.362),
    1600: NoiseParams(k=1.5301, lam=-0.044, sigma_read=3.228, sigma_row=0.989),
    2000: NoiseParams(k=1.9126, lam=-0.013, sigma_read=1.436, sigma_row=0.331),
    6400: NoiseParams(k=6.1203, lam=-0.075, sigma_read=3.450, sigma_row=0.722),
    25600: NoiseParams(k=24.4813, lam=-0.091, sigma_read=12.176, sigma_row=2.276),
}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def get_profile(name: str) -> NoiseProfile:
    """Profile by name, ignoring case, spaces and punctuation ("sony a7s2" -> "SonyA7S2")."""
    wanted = _key(name)
    for key, profile in PROFILES.items():
        if _key(key) == wanted:
            return profile
    raise ValueError(f"unknown noise profile {name!r}; known: {', '.join(PROFILES)}")


def _bias_map(shape: tuple[int, ...], bias: tuple[float, ...], cfa: str) -> np.ndarray:
    """Per-pixel bias, broadcastable to ``shape`` (mosaic or packed)."""
    if len(shape) == 3:
        return np.asarray(bias, np.float64).reshape(4, 1, 1)
    block = np.empty((2, 2), np.float64)
    for ch, (dy, dx) in enumerate(packed_positions(cfa_from_name(cfa))):
        block[dy, dx] = bias[ch]
    return np.tile(block, (shape[0] // 2, shape[1] // 2))


def add_noise(
    clean: np.ndarray,
    params: NoiseParams,
    rng: np.random.Generator,
    *,
    cfa: str = "RGGB",
    shot: bool = True,
    read: bool = True,
    row: bool = True,
    quantise: bool = True,
) -> np.ndarray:
    """Apply the ELD noise model to an expected clean signal.

    Args:
        clean: expected signal in DN above black at the profile's bit depth, either an
            ``(H, W)`` Bayer mosaic (H, W even) or a packed ``(4, h, w)`` array with channels
            R, G1, B, G2 (see :mod:`engine.packing`). Negative values are treated as 0 for shot
            noise. Any real dtype.
        params: one realisation (:meth:`NoiseProfile.sample_params`).
        rng: random generator; the same seed gives the same noise.
        cfa: the mosaic's 2x2 layout, used only to place ``params.bias`` on an ``(H, W)``
            mosaic (packed arrays already are in R, G1, B, G2 order).
        shot, read, row, quantise: switch single sources off (for tests and ablations).
            Quantisation rounds the DN above black, the same as rounding absolute DN for the
            integer black levels real sensors have; bias is added before it, as the ADC sees
            the offset black level.

    Returns:
        Noisy DN above black, float32, same shape; may be negative and is not clipped to the
        sensor range (callers that simulate a file clip at ``-black`` and ``white - black``).

    Row noise is one offset per *sensor* row. A packed row holds two sensor rows: R and G1 come
    from one, B and G2 from the next, whatever the layout, so R/G1 share one offset and B/G2
    another, independent one.
    """
    signal = np.asarray(clean)
    if signal.ndim == 2:
        if signal.shape[0] % 2 or signal.shape[1] % 2:
            raise ValueError(f"mosaic must have even height and width, got {signal.shape}")
    elif signal.ndim != 3 or signal.shape[0] != 4:
        raise ValueError(f"expected an (H, W) mosaic or (4, h, w) packed array, got {signal.shape}")
    if not np.issubdtype(signal.dtype, np.floating) and not np.issubdtype(signal.dtype, np.integer):
        raise ValueError(f"clean signal must be numeric, got {signal.dtype}")

    expected = np.maximum(signal.astype(np.float64), 0.0)
    if shot:
        # K * Poisson(S / K): photo-electrons are counted, then amplified by the system gain.
        out = rng.poisson(expected / params.k).astype(np.float64) * params.k
    else:
        out = expected.copy()
    if read and params.sigma_read > 0:
        out += params.sigma_read * sample_tukey_lambda(rng, params.lam, out.shape)
    if row and params.sigma_row > 0:
        if out.ndim == 2:
            out += rng.normal(0.0, params.sigma_row, (out.shape[0], 1))
        else:
            h = out.shape[1]
            offsets = rng.normal(0.0, params.sigma_row, (2, h, 1))
            out[0:2] += offsets[0]  # R, G1: the red pixel's sensor row
            out[2:4] += offsets[1]  # B, G2: the blue pixel's sensor row
    if any(params.bias):
        out += _bias_map(out.shape, params.bias, cfa)
    if quantise:
        np.rint(out, out=out)
    return out.astype(np.float32)


def synthesise_dark(
    clean_norm: np.ndarray,
    ratio: float,
    params: NoiseParams,
    profile: NoiseProfile,
    rng: np.random.Generator,
    *,
    cfa: str = "RGGB",
    clip: bool = True,
) -> np.ndarray:
    """A noisy under-exposure of a clean normalised frame, in normalised units.

    The clean signal is darkened by ``ratio`` (a ``ratio`` times shorter exposure), put on the
    profile's DN scale, given noise by :func:`add_noise` and scaled back by
    ``white - black``. It is *not* multiplied back by ``ratio``: callers pack and amplify it
    exactly like a real dark file (``pack_bayer(..., ratio)``).

    Args:
        clean_norm: ``(H, W)`` mosaic (or ``(4, h, w)`` packed) float, black-subtracted and
            normalised, nominally in [0, 1].
        ratio: exposure ratio >= 1 (bright / dark).
        params: noise realisation, in ``profile``'s DN.
        profile: gives the DN scale ``white_level - black_level``.
        rng: random generator.
        cfa: layout of a mosaic input (for the colour bias).
        clip: clip to what a file can hold, ``[-black / (white - black), 1]``.

    Returns:
        float32 array of ``clean_norm``'s shape: noisy dark signal, normalised (values near
        ``clean_norm / ratio``, may be slightly negative).
    """
    if not (math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"exposure ratio must be positive, got {ratio}")
    scale = profile.dn_range
    dark_dn = np.asarray(clean_norm, dtype=np.float64) * (scale / ratio)
    noisy = add_noise(dark_dn, params, rng, cfa=cfa).astype(np.float64) / scale
    if clip:
        np.clip(noisy, -profile.black_level / scale, 1.0, out=noisy)
    return noisy.astype(np.float32)
