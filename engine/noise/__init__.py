"""Physics-based sensor noise after Wei et al., "A Physics-based Noise Formation Model for
Extreme Low-light Raw Denoising" (CVPR 2020, "ELD").

Training on clean exposures darkened with this model is what lets a network learn real sensor
noise without thousands of real dark/bright pairs: the paper reports 36.36 dB raw PSNR on SID at
x300 from ELD-synthetic pairs against 30.66 dB from plain Poisson-Gaussian noise.

This module is the public entry point; the code lives in four focused modules:

* :mod:`engine.noise.model`: :class:`NoiseParams`, :class:`NoiseProfile`, :func:`add_noise` and
  :func:`synthesise_dark` (units convention and per-pixel model documented there);
* :mod:`engine.noise.profiles`: the published calibrations, :data:`PROFILES`,
  :data:`SONY_A7S2_ISO_PARAMS` and :func:`get_profile`;
* :mod:`engine.noise.tukey_lambda`: the Tukey-lambda read-noise distribution;
* :mod:`engine.noise.level`: a frame's noise level (from a profile and the ISO, or measured on
  the frame) and the per-pixel noise map noise-aware networks take.
"""

from __future__ import annotations

from engine.noise.level import (
    FALLBACK,
    NoiseLevel,
    card_noise_profile,
    estimate_noise_level,
    noise_level_for,
    noise_level_from_params,
    noise_level_from_profile,
    profile_for,
)
from engine.noise.model import NoiseParams, NoiseProfile, add_noise, synthesise_dark
from engine.noise.profiles import EXIF_MODELS, PROFILES, SONY_A7S2_ISO_PARAMS, get_profile
from engine.noise.tukey_lambda import (
    sample_tukey_lambda,
    tukey_lambda_quantile,
    tukey_lambda_variance,
)

__all__ = [
    "EXIF_MODELS",
    "FALLBACK",
    "PROFILES",
    "SONY_A7S2_ISO_PARAMS",
    "NoiseLevel",
    "NoiseParams",
    "NoiseProfile",
    "add_noise",
    "card_noise_profile",
    "estimate_noise_level",
    "get_profile",
    "noise_level_for",
    "noise_level_from_params",
    "noise_level_from_profile",
    "profile_for",
    "sample_tukey_lambda",
    "synthesise_dark",
    "tukey_lambda_quantile",
    "tukey_lambda_variance",
]
