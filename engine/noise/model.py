"""The ELD physics-based sensor noise model (Wei et al., CVPR 2020): noise parameters, a
camera's calibrated parameter distributions, and applying the noise to a clean signal.

Public through :mod:`engine.noise`, which also re-exports the published calibrations
(:mod:`engine.noise.profiles`) and the Tukey-lambda maths (:mod:`engine.noise.tukey_lambda`).

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
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from engine.files import atomic_write_json
from engine.io import cfa_pattern_of, packed_positions, tile_pattern
from engine.noise.tukey_lambda import sample_tukey_lambda, tukey_lambda_variance


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
        camera: profile name (key in :data:`engine.noise.profiles.PROFILES`).
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
        """Write :meth:`to_dict` as indented JSON, atomically."""
        atomic_write_json(path, self.to_dict())

    @classmethod
    def load_json(cls, path: str | os.PathLike[str]) -> NoiseProfile:
        """Read a profile written by :meth:`save_json`; bad JSON raises ValueError."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc.msg})") from None
        return cls.from_dict(data)


def _bias_map(shape: tuple[int, ...], bias: tuple[float, ...], cfa: str | np.ndarray) -> np.ndarray:
    """Per-pixel bias, broadcastable to ``shape`` (mosaic or packed).

    ``cfa``: a 2x2 layout's name or pattern; a 6x6 X-Trans pattern places red's, blue's and
    the two greens' mean bias by each pixel's colour.
    """
    if len(shape) == 3:
        return np.asarray(bias, np.float64).reshape(4, 1, 1)
    pattern = cfa_pattern_of(cfa)
    if pattern.shape == (2, 2):
        block = np.empty((2, 2), np.float64)
        for ch, (dy, dx) in enumerate(packed_positions(pattern)):
            block[dy, dx] = bias[ch]
    else:
        by_colour = np.array([bias[0], (bias[1] + bias[3]) / 2, bias[2]], np.float64)
        block = by_colour[pattern.astype(np.intp)]
    return tile_pattern(block, shape[0], shape[1])


def add_noise(
    clean: np.ndarray,
    params: NoiseParams,
    rng: np.random.Generator,
    *,
    cfa: str | np.ndarray = "RGGB",
    shot: bool = True,
    read: bool = True,
    row: bool = True,
    quantise: bool = True,
) -> np.ndarray:
    """Apply the ELD noise model to an expected clean signal.

    Args:
        clean: expected signal in DN above black at the profile's bit depth, either an
            ``(H, W)`` Bayer mosaic (H, W even) or a packed ``(4, h, w)`` array with channels
            R, G1, B, G2 (see :mod:`engine.render.packing`). Negative values are treated as 0 for
            shot noise. Any real dtype.
        params: one realisation (:meth:`NoiseProfile.sample_params`).
        rng: random generator; the same seed gives the same noise.
        cfa: the mosaic's 2x2 layout (name or pattern) or 6x6 X-Trans pattern, used only to
            place ``params.bias`` on an ``(H, W)`` mosaic (packed arrays already are in R, G1,
            B, G2 order).
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
    cfa: str | np.ndarray = "RGGB",
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
