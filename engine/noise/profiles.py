"""Published noise calibrations for the ELD model: per-camera :class:`NoiseProfile`
distributions (:data:`PROFILES`, looked up by :func:`get_profile`) and the Sony A7S2's per-ISO
:class:`NoiseParams` fits (:data:`SONY_A7S2_ISO_PARAMS`).

Public through :mod:`engine.noise`.
"""

from __future__ import annotations

import re

from engine.noise.model import NoiseParams, NoiseProfile

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


#: EXIF model names of the cameras the shipped profiles were calibrated on (LibRaw's spelling),
#: so a file from one of them finds its profile.
EXIF_MODELS: dict[str, tuple[str, ...]] = {
    "SonyA7S2": ("ILCE-7SM2",),
    "NikonD850": ("D850",),
    "CanonEOS5D4": ("EOS 5D Mark IV",),
    "CanonEOS70D": ("EOS 70D",),
    "CanonEOS700D": ("EOS 700D", "EOS Rebel T5i", "EOS Kiss X7i"),
}


def exif_models(profile: NoiseProfile) -> tuple[str, ...]:
    """EXIF model names that :data:`EXIF_MODELS` knows for ``profile`` (none for others)."""
    return EXIF_MODELS.get(profile.camera, ())


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def get_profile(name: str) -> NoiseProfile:
    """Profile by name, ignoring case, spaces and punctuation ("sony a7s2" -> "SonyA7S2")."""
    wanted = _key(name)
    for key, profile in PROFILES.items():
        if _key(key) == wanted:
            return profile
    raise ValueError(f"unknown noise profile {name!r}; known: {', '.join(PROFILES)}")
