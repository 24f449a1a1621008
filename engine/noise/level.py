"""A frame's noise level: how noisy its raw data is, and the per-pixel map networks take.

Model, per pixel of the raw data *before* amplification, in normalised units (0 = black,
1 = white)::

    variance(v) = gain * v + floor

``v`` is the expected signal; ``gain`` is the system gain K over the DN range (shot noise:
photo-electrons are counted), ``floor`` the read noise and ADC quantisation (``1/12`` DN**2) over
the DN range squared. Row noise (one offset per sensor row) is left out: it is structured, not
per-pixel, and the estimator below cancels it by construction. Amplified by the exposure ratio
``r`` (``x = r * v``), the expected standard deviation of an input pixel ``x`` is::

    sigma(x) = sqrt(r * gain * x + r**2 * floor)

Where the level comes from (:func:`noise_level_for`, first that applies):

1. a profile for the frame's camera (a shipped calibration, or the one a fine-tuned model's card
   carries) that relates K to ISO, and the frame's ISO: the profile's mean read noise at that
   K (:func:`noise_level_from_profile`);
2. otherwise the frame itself (:func:`estimate_noise_level`): in each packed colour plane a
   3x3 operator that cancels smooth structure and row offsets (the difference of two
   Laplacians, Immerkaer 1996) gives a noise residual, and a 3x3 mean the local signal; pixels
   are binned by signal, a low quantile of each bin's residual (texture only ever adds to it)
   gives that bin's noise, and a weighted line through the bins gives ``gain`` and ``floor``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from engine.io import GREEN, RawFrame, packed_positions
from engine.noise.model import NoiseParams, NoiseProfile
from engine.noise.tukey_lambda import tukey_lambda_variance

if TYPE_CHECKING:
    from engine.models import ModelCard

#: ADC quantisation noise, DN**2 (a uniform error of one step).
QUANTISATION_VARIANCE = 1.0 / 12.0
#: The estimator's 3x3 operator: smooth structure and any constant per row or column cancel;
#: its squared coefficients sum to 36, so white noise of sigma gives responses of 6 sigma.
_OPERATOR = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32) / 6.0
#: Side of the blocks (packed pixels) whose residual variance is measured, the quantile of
#: block variances taken in each signal bin (the flattest blocks: texture only adds), and that
#: quantile's expected value for pure noise (measured, see the tests), which it is divided by.
_BLOCK = 16
_QUANTILE = 0.1
_QUANTILE_BIAS = 0.79
#: Signal bins, blocks a bin needs, and the local maximum above which pixels count as clipped.
_BINS = 16
_MIN_BIN = 24
_CLIP = 0.95


@dataclass(frozen=True)
class NoiseLevel:
    """Noise of a frame's raw data, see the module docstring.

    Attributes:
        gain: shot-noise slope, normalised units (variance per unit of signal), >= 0.
        floor: signal-independent variance, normalised units squared, > 0.
        source: where it came from, one line (shown to the user and written to cards).
    """

    gain: float
    floor: float
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("gain", "floor"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"noise level {name} must be a finite number >= 0, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.floor <= 0:
            raise ValueError("noise level floor must be positive")

    def variance(
        self, signal: np.ndarray | float, ratio: float, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Expected variance of amplified pixels of expected value ``signal``:
        ``r * gain * signal + r**2 * floor``.

        Args:
            signal: amplified signal ``r * v`` (any shape), normalised; clipped to [0, 1].
            ratio: the amplification ``r`` (>= 1 in practice).
            out: a float32 array of ``signal``'s shape to compute in (``signal`` itself, say):
                at 12 MP every intermediate array was 53 MB more.
        """
        x = np.clip(np.asarray(signal, np.float32), 0.0, 1.0, out=out)
        x = np.multiply(x, np.float32(ratio * self.gain), out=out)
        return np.add(x, np.float32(ratio**2 * self.floor), out=out)

    def sigma(
        self, signal: np.ndarray | float, ratio: float, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Expected standard deviation of amplified pixels of expected value ``signal``: the
        square root of :meth:`variance` (same arguments)."""
        return np.sqrt(self.variance(signal, ratio, out=out), out=out)

    def sigma_map(
        self, packed: np.ndarray, ratio: float, binning: float | np.ndarray = 1.0
    ) -> np.ndarray:
        """The per-pixel noise map a noise-aware network takes beside its packed input.

        Args:
            packed: ``(C, h, w)`` amplified packed input in [0, 1] (the network's input).
            ratio: the amplification it was made with.
            binning: each pixel is an average of ``binning**2`` samples of its colour, so its
                noise is ``1 / binning`` of one sample's: one number, or one per pixel
                ``(C, h, w)`` (a binned X-Trans preview averages more greens than reds).

        Returns:
            ``(C, h, w)`` float32: :meth:`sigma` of each pixel's 3x3 local mean (per plane;
            the noisy pixel itself would put its own noise into the map), at most 1.
        """
        smooth = np.empty(packed.shape, np.float32)
        for plane, c in zip(smooth, packed, strict=True):
            cv2.blur(np.ascontiguousarray(c, np.float32), (3, 3), dst=plane,
                     borderType=cv2.BORDER_REFLECT)  # fmt: skip
        self.sigma(smooth, ratio, out=smooth)
        if np.ndim(binning) or binning != 1:  # one pass fewer for the full-resolution render
            smooth /= np.asarray(binning, np.float32)
        return np.minimum(smooth, np.float32(1.0), out=smooth)

    def scaled(self, factor: float) -> NoiseLevel:
        """The same noise with standard deviations times ``factor`` (variances times factor**2)."""
        f2 = float(factor) ** 2
        return NoiseLevel(self.gain * f2, max(self.floor * f2, 1e-20), self.source)


def noise_level_from_params(params: NoiseParams, profile: NoiseProfile) -> NoiseLevel:
    """The exact level of one sampled noise realisation (synthetic training pairs)."""
    scale = profile.dn_range
    read = params.gaussian_read_sigma**2 + QUANTISATION_VARIANCE
    return NoiseLevel(params.k / scale, read / scale**2, f"{profile.camera}, K {params.k:.3g}")


def noise_level_from_profile(profile: NoiseProfile, iso: float) -> NoiseLevel:
    """A camera's level at ``iso``: K from the profile's ISO calibration, the read noise its
    regression's mean at that K, the Tukey-lambda shape the middle of its range.

    Raises:
        ValueError: the profile does not relate K to ISO, or ``iso`` is not positive.
    """
    k = profile.k_for_iso(iso)
    sigma_tl = math.exp(profile.read_slope * math.log(k) + profile.read_intercept)
    lam = 0.5 * (profile.lambda_min + profile.lambda_max)
    read = sigma_tl**2 * tukey_lambda_variance(lam) + QUANTISATION_VARIANCE
    scale = profile.dn_range
    return NoiseLevel(k / scale, read / scale**2, f"{profile.camera} profile at ISO {iso:g}")


def _planes(frame: RawFrame) -> list[np.ndarray]:
    """The four packed Bayer colour planes (X-Trans: the four greens of its 2x2 green blocks),
    black-subtracted and normalised (not clipped)."""
    if not frame.is_xtrans:
        # Plane by plane: each has one black level, and at 12 MP three passes over the whole
        # float32 mosaic took 0.4 s.
        h, w = frame.height // 2 * 2, frame.width // 2 * 2
        planes = []
        for dy, dx in packed_positions(frame.cfa_pattern):
            black = np.float32(frame.black_level[dy, dx])
            plane = frame.mosaic[dy:h:2, dx:w:2].astype(np.float32)
            plane -= black
            plane /= np.float32(frame.white_level) - black
            planes.append(plane)
        return planes
    black = frame.black_map(np.float32)
    norm = (frame.mosaic.astype(np.float32) - black) / (np.float32(frame.white_level) - black)
    oy, ox = xtrans_green_origin(frame.cfa_pattern)
    h = oy + (frame.height - oy) // 3 * 3
    w = ox + (frame.width - ox) // 3 * 3
    return [np.ascontiguousarray(norm[oy + a : h : 3, ox + b : w : 3])
            for a in (0, 1) for b in (0, 1)]  # fmt: skip


def xtrans_green_origin(pattern: np.ndarray) -> tuple[int, int]:
    """Where, within the first 3x3 pixels, an X-Trans pattern's 2x2 blocks of green start
    (they repeat every 3 pixels down and across).

    Raises:
        ValueError: not such a pattern.
    """
    green = np.asarray(pattern) == GREEN
    for oy in range(3):
        for ox in range(3):
            rows, cols = np.arange(oy, 6 + oy) % 6, np.arange(ox, 6 + ox) % 6
            tile = green[np.ix_(rows, cols)]
            if all(tile[a::3, b::3].all() for a in (0, 1) for b in (0, 1)):
                return oy, ox
    raise ValueError(f"no 2x2 green blocks in this 6x6 pattern: {np.asarray(pattern).tolist()}")


def _blocks(a: np.ndarray) -> np.ndarray:
    """``(h, w)`` -> ``(h // B, B, w // B, B)`` view of whole blocks (the remainder dropped)."""
    bh, bw = a.shape[0] // _BLOCK, a.shape[1] // _BLOCK
    return a[: bh * _BLOCK, : bw * _BLOCK].reshape(bh, _BLOCK, bw, _BLOCK)


#: An X-Trans frame's residuals are independent samples, whose blocks' low quantile sits
#: nearer their mean than the Bayer operator's correlated ones (0.888 for 256 samples of
#: pure noise, measured), so it is divided by its own expected value.
_XTRANS_QUANTILE_BIAS = 0.888


def _residuals(frame: RawFrame) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(signal, residual, local peak)`` maps, the residual's variance the noise's.

    Bayer: each packed plane, its residual the 3x3 operator's response. X-Trans
    (:func:`_planes`: the greens of each 2x2 green block): the block's mean, and the checker
    difference of its four greens (``(a - b - c + d) / 2``: one pixel apart, so a smooth scene
    cancels far better than on a plane sampled every 3 pixels).
    """
    planes = _planes(frame)
    if frame.is_xtrans:
        g00, g01, g10, g11 = planes
        residual = (g00 - g01 - g10 + g11) * np.float32(0.5)
        peak = cv2.dilate(np.maximum(np.maximum(g00, g01), np.maximum(g10, g11)),
                          np.ones((3, 3), np.uint8))  # fmt: skip
        return [((g00 + g01 + g10 + g11) * np.float32(0.25), residual, peak)]
    return [(plane[1:-1, 1:-1], cv2.filter2D(plane, cv2.CV_32F, _OPERATOR)[1:-1, 1:-1],
             cv2.dilate(plane, np.ones((3, 3), np.uint8))[1:-1, 1:-1])
            for plane in planes if min(plane.shape) >= _BLOCK + 2]  # fmt: skip


def _block_samples(frame: RawFrame) -> tuple[np.ndarray, np.ndarray]:
    """(mean signal, residual variance) of every unclipped block of every plane."""
    means, variances = [], []
    for signal, resp, peak in _residuals(frame):
        if min(signal.shape) < _BLOCK:
            continue
        keep = _blocks(peak).max(axis=(1, 3)) < _CLIP
        means.append(_blocks(signal).mean(axis=(1, 3))[keep])
        variances.append(_blocks(resp * resp).mean(axis=(1, 3))[keep])
    if not means:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    return np.concatenate(means), np.concatenate(variances)


def _fit_line(signal: np.ndarray, variance: np.ndarray) -> tuple[float, float]:
    """``variance = gain * signal + floor`` through the bins, each weighted by 1 / variance
    (its estimate is uncertain in proportion to itself); gain >= 0, floor > 0."""
    weights = 1.0 / np.maximum(variance, 1e-20)
    design = np.stack([np.maximum(signal, 0.0), np.ones_like(signal)], axis=1)
    gain, floor = np.linalg.lstsq(design * weights[:, None], variance * weights, rcond=None)[0]
    if gain < 0:  # no measurable shot noise: a constant level
        gain, floor = 0.0, float(np.sum(variance * weights) / np.sum(weights))
    if floor <= 0:  # the floor is below what the bins resolve: take the darkest bin's share
        gain = max(float(gain), 0.0)
        floor = max(float(np.min(variance - gain * np.maximum(signal, 0.0))), 0.0)
        floor = max(floor, 1e-3 * float(np.min(variance)), 1e-12)
    return float(gain), float(floor)


def estimate_noise_level(frame: RawFrame) -> NoiseLevel:
    """The frame's noise level measured on the frame itself (see the module docstring).

    Raises:
        ValueError: too few usable pixels (a tiny or fully clipped frame).
    """
    mean, var = _block_samples(frame)
    quantile_bias = _XTRANS_QUANTILE_BIAS if frame.is_xtrans else _QUANTILE_BIAS
    if mean.size < _MIN_BIN:
        raise ValueError("too few unclipped pixels to measure the noise")
    bins = int(np.clip(mean.size // _MIN_BIN, 2, _BINS))
    edges = np.unique(np.quantile(mean, np.linspace(0.0, 1.0, bins + 1)))
    index = np.clip(np.searchsorted(edges, mean, side="right") - 1, 0, len(edges) - 2)
    signal, variance = [], []
    for b in range(len(edges) - 1):
        chosen = index == b
        if int(chosen.sum()) < _MIN_BIN // 2:
            continue
        signal.append(float(np.median(mean[chosen])))
        low = float(np.quantile(var[chosen], _QUANTILE)) / quantile_bias
        variance.append(max(low, 1e-20))
    if len(signal) < 2:
        raise ValueError("too few unclipped pixels to measure the noise")
    gain, floor = _fit_line(np.asarray(signal), np.asarray(variance))
    return NoiseLevel(gain, floor, "estimated from the frame")


def profile_for(frame: RawFrame, profiles: Iterable[NoiseProfile]) -> NoiseProfile | None:
    """The first profile made for the frame's camera (matched on the EXIF camera name or one
    of the profile's known EXIF models), or ``None``."""
    from engine.noise.profiles import exif_models

    camera = frame.exif.camera.strip().lower()
    model = (frame.exif.model or "").strip().lower()
    for profile in profiles:
        names = {profile.camera.strip().lower(), *(m.lower() for m in exif_models(profile))}
        if camera in names or (model and model in names):
            return profile
    return None


#: What a frame that can be neither looked up nor measured (tiny, or clipped all over) gets:
#: the Sony A7S2 at ISO 1600, a middle of the shipped calibrations.
FALLBACK = NoiseLevel(1.5301 / 15871.0, (3.4**2 + QUANTISATION_VARIANCE) / 15871.0**2,
                      "could not be measured; a typical level assumed")  # fmt: skip


def noise_level_for(frame: RawFrame, profiles: Iterable[NoiseProfile] = ()) -> NoiseLevel:
    """The frame's noise level: from a matching profile with an ISO calibration and the
    frame's ISO, else estimated from the frame, else :data:`FALLBACK` (see the module
    docstring).

    Args:
        profiles: camera profiles to look in, best first (a fine-tuned model's own profile,
            then :data:`~engine.noise.profiles.PROFILES`).
    """
    profile = profile_for(frame, profiles)
    iso = frame.exif.iso
    if profile is not None and profile.k_per_iso is not None and iso and iso > 0:
        return noise_level_from_profile(profile, float(iso))
    try:
        return estimate_noise_level(frame)
    except ValueError:
        return FALLBACK


def card_noise_profile(card: ModelCard) -> NoiseProfile | None:
    """The fitted noise profile a fine-tuned model's card carries (JSON), else ``None``."""
    try:
        return NoiseProfile.from_dict(card.noise_fit) if card.noise_fit else None
    except (ValueError, TypeError):
        return None
