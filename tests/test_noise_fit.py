"""Noise-model fitting on frames made with a known noise model."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.errors import DarkroomError
from engine.finetune import (
    fit_noise_profile,
    measure_dark_frame,
    measure_pair,
    synthesise_extra_pairs,
)
from engine.io import ExifInfo, RawFrame, cfa_from_name
from engine.noise import NoiseParams, NoiseProfile, add_noise
from engine.render import normalise_mosaic
from tests.conftest import mosaic_from_rgb, smooth_scene

SIZE = 256
BLACK, WHITE = 512.0, 16383.0


def _frame(dn: np.ndarray, iso: float = 1600, name: str = "frame.dng") -> RawFrame:
    return RawFrame(
        mosaic=np.clip(dn, 0, WHITE).astype(np.uint16),
        cfa_pattern=cfa_from_name("RGGB"),
        black_level=np.full((2, 2), BLACK, np.float32),
        white_level=WHITE,
        wb_gains=np.array([2.0, 1.0, 1.6], np.float32),
        cam_to_srgb=np.eye(3, dtype=np.float32),
        exif=ExifInfo(make="Acme", model="Nightcam", iso=iso),
        path=name,
    )


def _pair(params: NoiseParams, ratio: float, seed: int, iso: float = 1600):
    """A clean long exposure and a short one with exactly ``params`` noise."""
    clean = mosaic_from_rgb(smooth_scene(SIZE, SIZE, seed), "RGGB") * (WHITE - BLACK)
    long = _frame(np.rint(clean + BLACK), iso, f"long{seed}.dng")
    noisy = add_noise(clean / ratio, params, np.random.default_rng(seed))
    return _frame(noisy + BLACK, iso, f"short{seed}.dng"), long, ratio


def _dark(params: NoiseParams, seed: int, iso: float = 1600) -> RawFrame:
    noisy = add_noise(np.zeros((SIZE, SIZE)), params, np.random.default_rng(seed + 50))
    return _frame(noisy + BLACK, iso, f"dark{seed}.dng")


@pytest.mark.parametrize(
    ("params", "ratio"),
    [
        (NoiseParams(k=2.0, sigma_read=3.0, lam=0.0, sigma_row=0.8), 50.0),
        (NoiseParams(k=0.5, sigma_read=2.0, lam=0.0, sigma_row=0.3), 20.0),
        (NoiseParams(k=8.0, sigma_read=10.0, lam=0.0, sigma_row=2.0), 100.0),
    ],
)
def test_pair_fit_recovers_gain_and_read_noise(params: NoiseParams, ratio: float) -> None:
    m = measure_pair(*_pair(params, ratio, seed=1))
    assert m.k == pytest.approx(params.k, rel=0.2)
    assert m.sigma_read == pytest.approx(params.sigma_read, rel=0.2)
    assert m.read_std == pytest.approx(params.gaussian_read_sigma, rel=0.2)
    assert m.sigma_row == pytest.approx(params.sigma_row, rel=0.5)


def test_dark_frame_fit_recovers_read_row_lambda_and_bias() -> None:
    params = NoiseParams(k=2.0, sigma_read=4.0, lam=-0.1, sigma_row=1.0, bias=(1, 2, 3, 4))
    m = measure_dark_frame(_dark(params, seed=3))
    assert m.sigma_read == pytest.approx(4.0, rel=0.2)
    assert m.sigma_row == pytest.approx(1.0, rel=0.2)
    assert m.lam == pytest.approx(-0.1, abs=0.05)
    np.testing.assert_allclose(m.bias, (1, 2, 3, 4), atol=0.3)
    lit = _frame(np.full((SIZE, SIZE), BLACK + 3000.0))
    with pytest.raises(DarkroomError, match="not a dark frame"):
        measure_dark_frame(lit)


def test_profile_reproduces_the_fitted_values_and_serialises() -> None:
    # Two ISOs (K = 1.25e-3 x ISO) with dark frames at both: slopes come from the data.
    low = NoiseParams(k=1.0, sigma_read=2.5, lam=0.05, sigma_row=0.5)
    high = NoiseParams(k=4.0, sigma_read=6.0, lam=0.05, sigma_row=1.2)
    pairs = [_pair(low, 30.0, seed=1, iso=800), _pair(high, 100.0, seed=2, iso=3200)]
    darks = [_dark(low, 1, iso=800), _dark(high, 2, iso=3200)]
    fit = fit_noise_profile(pairs, darks)
    p = fit.profile
    assert p.camera == "Acme Nightcam"
    assert p.k_min < 1.0 < 4.0 < p.k_max
    assert p.k_per_iso == pytest.approx(1.25e-3, rel=0.2)
    for params in (low, high):
        read = math.exp(p.read_slope * math.log(params.k) + p.read_intercept)
        row = math.exp(p.row_slope * math.log(params.k) + p.row_intercept)
        assert read == pytest.approx(params.sigma_read, rel=0.2)
        assert row == pytest.approx(params.sigma_row, rel=0.3)
    assert p.lambda_min <= 0.05 + 0.05 and p.lambda_max >= 0.05 - 0.05
    again = NoiseProfile.from_dict(json.loads(json.dumps(p.to_dict())))
    assert again == p
    assert "Acme Nightcam" in fit.summary()


def test_pairs_only_fit_fixes_lambda_and_says_so() -> None:
    params = NoiseParams(k=2.0, sigma_read=3.0, lam=0.0, sigma_row=0.8)
    fit = fit_noise_profile([_pair(params, 50.0, seed=4)])
    p = fit.profile
    assert p.lambda_min == p.lambda_max == 0.0
    assert any("lambda" in note for note in fit.notes)
    # One gain: the line goes through the measured read sigma at the measured K.
    (m,) = fit.measurements
    assert math.exp(p.read_slope * math.log(m.k) + p.read_intercept) == pytest.approx(
        m.sigma_read, rel=1e-6
    )
    drawn = p.sample_params(np.random.default_rng(0), k=m.k)
    assert drawn.sigma_read == pytest.approx(3.0, rel=0.4)


def test_extra_pairs_darken_the_long_exposure_with_the_fitted_noise() -> None:
    params = NoiseParams(k=2.0, sigma_read=3.0, lam=0.0, sigma_row=0.8)
    short, long, _ = _pair(params, 50.0, seed=5)
    profile = fit_noise_profile([(short, long, 50.0)]).profile
    extra = synthesise_extra_pairs([long], profile, 3, np.random.default_rng(0), ratios=[40.0])
    assert len(extra) == 3
    for pair in extra:
        assert pair.ratio == 40.0 and pair.target.shape == (SIZE, SIZE, 3)
        assert pair.dark.mosaic.shape == (SIZE, SIZE) and pair.dark.cfa_name == "RGGB"
        amplified = normalise_mosaic(pair.dark, pair.ratio, clip=False)
        clean = normalise_mosaic(long, 1.0)
        assert abs(float(amplified.mean() - clean.mean())) < 0.01
        # The synthetic short is as noisy as a real one would be (gain measured back).
        assert measure_pair(pair.dark, long, pair.ratio).k == pytest.approx(2.0, rel=0.3)
    with pytest.raises(DarkroomError, match="at least one"):
        fit_noise_profile([])
