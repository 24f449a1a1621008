import json
import math
from pathlib import Path

import numpy as np
import pytest

from engine.io import cfa_from_name
from engine.noise import (
    PROFILES,
    SONY_A7S2_ISO_PARAMS,
    NoiseParams,
    NoiseProfile,
    add_noise,
    get_profile,
    sample_tukey_lambda,
    synthesise_dark,
    tukey_lambda_quantile,
    tukey_lambda_variance,
)
from engine.render import unpack_bayer
from tests.conftest import LAYOUTS


def _tl_variance(lam: float) -> float:
    """Independent textbook formula, so the module's implementation is checked too."""
    if lam == 0:
        return math.pi**2 / 3
    return 2 / lam**2 * (1 / (1 + 2 * lam) - math.gamma(lam + 1) ** 2 / math.gamma(2 * lam + 2))


def test_tukey_lambda_quantile_limits_and_continuity() -> None:
    u = np.array([1e-9, 0.01, 0.3, 0.5, 0.9, 1 - 1e-9])
    np.testing.assert_allclose(tukey_lambda_quantile(u, 0.0), np.log(u / (1 - u)), rtol=1e-12)
    # No jump or cancellation noise as lambda passes through 0.
    for lam in (1e-14, -1e-10, 1e-7):
        np.testing.assert_allclose(
            tukey_lambda_quantile(u, lam), tukey_lambda_quantile(u, 0.0), rtol=1e-5, atol=1e-9
        )
    # lambda = 1: uniform on [-1, 1]; lambda = 0.5 by the closed form.
    np.testing.assert_allclose(tukey_lambda_quantile(u, 1.0), 2 * u - 1, atol=1e-12)
    np.testing.assert_allclose(
        tukey_lambda_quantile(u, 0.5), (np.sqrt(u) - np.sqrt(1 - u)) / 0.5, atol=1e-12
    )
    assert np.all(np.diff(tukey_lambda_quantile(u, -0.2)) > 0)


@pytest.mark.parametrize("lam", [-0.243, -0.1, 0.0, 1e-5, 0.14, 1.0])
def test_tukey_lambda_variance_formula(lam: float) -> None:
    expected = _tl_variance(lam) if abs(lam) > 1e-4 else math.pi**2 / 3
    assert tukey_lambda_variance(lam) == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError):
        tukey_lambda_variance(-0.5)


def test_tukey_lambda_samples_have_the_analytic_variance() -> None:
    rng = np.random.default_rng(3)
    for lam in (-0.1, 0.0, 0.14):
        samples = sample_tukey_lambda(rng, lam, (400_000,))
        assert abs(samples.mean()) < 0.02
        assert samples.var() == pytest.approx(_tl_variance(lam), rel=0.03)


@pytest.mark.parametrize("lam", [-0.05, 0.12])
def test_flat_patch_mean_and_variance_match_the_model(lam: float) -> None:
    params = NoiseParams(k=1.5, sigma_read=2.0, lam=lam, sigma_row=0.8, bias=(0.7,) * 4)
    rng = np.random.default_rng(11)
    for signal in (0.0, 20.0, 300.0, 3000.0):
        clean = np.full((1024, 1024), signal, np.float32)
        noisy = add_noise(clean, params, rng)
        assert noisy.dtype == np.float32 and noisy.shape == clean.shape
        assert np.all(noisy == np.rint(noisy))  # quantised to whole DN
        expected_var = (
            params.k * signal
            + _tl_variance(lam) * params.sigma_read**2
            + params.sigma_row**2
            + 1 / 12
        )
        # The row offsets are only 1024 draws, so the mean may wander by a few sigma_row/32.
        assert noisy.mean() == pytest.approx(signal + 0.7, abs=0.12)
        assert noisy.var() == pytest.approx(expected_var, rel=0.05)


def test_shot_noise_alone_scales_with_gain() -> None:
    rng = np.random.default_rng(5)
    clean = np.full((512, 512), 50.0, np.float32)
    for k in (0.2, 4.0):
        params = NoiseParams(k=k, sigma_read=0.0, lam=0.0, sigma_row=0.0)
        noisy = add_noise(clean, params, rng, quantise=False)
        assert noisy.var() == pytest.approx(k * 50.0, rel=0.05)
        # K * Poisson: the values lie on a lattice of spacing K.
        np.testing.assert_allclose(noisy / k, np.rint(noisy / k), atol=1e-3)


def test_row_noise_is_constant_along_sensor_rows() -> None:
    params = NoiseParams(k=1.0, sigma_read=0.0, lam=0.0, sigma_row=2.5)
    rng = np.random.default_rng(7)
    clean = np.full((4096, 64), 10.0, np.float32)
    noisy = add_noise(clean, params, rng, shot=False, read=False, quantise=False)
    assert np.all(noisy == noisy[:, :1])  # nothing varies within a row
    assert noisy[:, 0].std() == pytest.approx(2.5, rel=0.05)
    assert noisy.mean() == pytest.approx(10.0, abs=0.2)


@pytest.mark.parametrize("cfa", LAYOUTS)
def test_packed_row_noise_follows_the_two_sensor_rows(cfa: str) -> None:
    params = NoiseParams(k=1.0, sigma_read=0.0, lam=0.0, sigma_row=1.0)
    rng = np.random.default_rng(8)
    packed = add_noise(
        np.zeros((4, 2048, 16), np.float32), params, rng, shot=False, read=False, quantise=False
    )
    # R/G1 share one sensor row, B/G2 the next, whatever the layout.
    np.testing.assert_array_equal(packed[0], packed[1])
    np.testing.assert_array_equal(packed[2], packed[3])
    assert abs(np.corrcoef(packed[0, :, 0], packed[2, :, 0])[0, 1]) < 0.1
    mosaic = unpack_bayer(packed, cfa_from_name(cfa))
    assert np.all(mosaic == mosaic[:, :1])
    assert mosaic[:, 0].std() == pytest.approx(1.0, rel=0.06)


@pytest.mark.parametrize("cfa", LAYOUTS)
def test_colour_bias_lands_on_the_right_pixels(cfa: str) -> None:
    params = NoiseParams(k=1.0, sigma_read=0.0, lam=0.0, sigma_row=0.0, bias=(1, 2, 3, 4))
    rng = np.random.default_rng(0)
    mosaic = add_noise(np.zeros((4, 6), np.float32), params, rng, cfa=cfa, shot=False)
    packed = add_noise(np.zeros((4, 2, 3), np.float32), params, rng, shot=False)
    np.testing.assert_array_equal(unpack_bayer(packed, cfa_from_name(cfa)), mosaic)
    np.testing.assert_array_equal(packed[:, 0, 0], [1, 2, 3, 4])


def test_add_noise_rejects_bad_shapes() -> None:
    params = NoiseParams(k=1.0, sigma_read=1.0, lam=0.0, sigma_row=0.1)
    rng = np.random.default_rng(0)
    for shape in [(3, 4), (3, 4, 4), (4,)]:
        with pytest.raises(ValueError):
            add_noise(np.zeros(shape, np.float32), params, rng)
    with pytest.raises(ValueError):
        NoiseParams(k=0.0, sigma_read=1.0, lam=0.0, sigma_row=0.1)


def test_sample_params_is_in_range_and_reproducible() -> None:
    profile = get_profile("SonyA7S2")
    draws = [profile.sample_params(np.random.default_rng(s)) for s in range(300)]
    ks = np.array([d.k for d in draws])
    lams = np.array([d.lam for d in draws])
    assert np.all((ks >= profile.k_min) & (ks <= profile.k_max))
    assert np.all((lams >= profile.lambda_min) & (lams <= profile.lambda_max))
    assert ks.min() < 0.2 and ks.max() > 3.0  # log-uniform over the whole range
    again = profile.sample_params(np.random.default_rng(42))
    assert again == profile.sample_params(np.random.default_rng(42))
    assert again != profile.sample_params(np.random.default_rng(43))


def test_sample_params_follows_the_log_linear_fits() -> None:
    profile = get_profile("CanonEOS70D")
    rng = np.random.default_rng(1)
    k = 4.0
    draws = [profile.sample_params(rng, k=k) for _ in range(3000)]
    assert all(d.k == k for d in draws)
    log_read = np.log([d.sigma_read for d in draws])
    log_row = np.log([d.sigma_row for d in draws])
    assert log_read.mean() == pytest.approx(0.4868 * math.log(k) + 1.4643, abs=0.03)
    assert log_read.std() == pytest.approx(0.3820, rel=0.06)
    assert log_row.mean() == pytest.approx(0.7292 * math.log(k) - 0.9371, abs=0.03)
    assert log_row.std() == pytest.approx(0.2502, rel=0.06)


def test_published_profiles_are_shipped() -> None:
    # K min, K max | read a, b, sigma-hat | row a, b, sigma-hat | lambda min, max
    published = {
        "SonyA7S2": (0.0939, 6.0106, 0.4621, 0.5657, 0.2634,
                     0.5275, -0.5917, 0.2943, -0.143, 0.129),
        "NikonD850": (0.4150, 26.5625, 0.4774, -0.0904, 0.2392,
                      0.4483, -1.7977, 0.2322, -0.243, -0.100),
        "CanonEOS5D4": (0.2182, 13.9641, 0.6559, 1.0927, 0.2860,
                        0.4713, -0.8079, 0.2436, 0.014, 0.200),
        "CanonEOS70D": (0.4075, 26.0798, 0.4868, 1.4643, 0.3820,
                        0.7292, -0.9371, 0.2502, -0.171, 0.143),
        "CanonEOS700D": (0.4476, 28.6482, 0.5982, 1.5370, 0.3888,
                         0.6221, -0.7756, 0.2485, -0.157, 0.129),
    }  # fmt: skip
    assert set(PROFILES) == set(published)
    for name, values in published.items():
        p = PROFILES[name]
        got = (
            p.k_min, p.k_max, p.read_slope, p.read_intercept, p.read_log_std,
            p.row_slope, p.row_intercept, p.row_log_std, p.lambda_min, p.lambda_max,
        )  # fmt: skip
        assert got == values, name
    sony = get_profile("sony a7s2")
    assert (sony.white_level, sony.black_level) == (16383, 512)
    assert sony.k_for_iso(1600) == pytest.approx(1.5301, rel=1e-3)
    assert sony.iso_for_k(sony.k_for_iso(6400)) == pytest.approx(6400)
    assert SONY_A7S2_ISO_PARAMS[2000].sigma_read < SONY_A7S2_ISO_PARAMS[1600].sigma_read
    with pytest.raises(ValueError):
        get_profile("NikonD850").k_for_iso(100)  # no ISO calibration published
    with pytest.raises(ValueError):
        get_profile("Leica M")


def test_profiles_round_trip_through_json(tmp_path: Path) -> None:
    for profile in PROFILES.values():
        assert NoiseProfile.from_dict(json.loads(json.dumps(profile.to_dict()))) == profile
    custom = NoiseProfile(
        camera="Bench",
        k_min=np.float32(0.5), k_max=2.0,
        read_slope=0.5, read_intercept=0.1, read_log_std=0.2,
        lambda_min=-0.1, lambda_max=0.1,
        row_slope=0.4, row_intercept=-1.0, row_log_std=0.2,
        white_level=4095, black_level=256, colour_bias=(0.5, -0.2, 0.1, 0.0), k_per_iso=1e-3,
    )  # fmt: skip
    path = tmp_path / "bench.json"
    custom.save_json(path)
    assert NoiseProfile.load_json(path) == custom


def test_profile_validation() -> None:
    good = PROFILES["SonyA7S2"].to_dict()
    for key, value in [
        ("k_min", 0.0),
        ("k_max", 0.01),
        ("lambda_max", -0.5),
        ("read_log_std", -1.0),
        ("black_level", 20000.0),
        ("colour_bias", [0, 0, 0]),
        ("k_per_iso", "fast"),
        ("camera", ""),
    ]:
        with pytest.raises(ValueError):
            NoiseProfile.from_dict({**good, key: value})
    with pytest.raises(ValueError, match="missing"):
        NoiseProfile.from_dict({k: v for k, v in good.items() if k != "k_max"})
    with pytest.raises(ValueError, match="unknown"):
        NoiseProfile.from_dict({**good, "iso": 100})


def test_synthesise_dark_is_darkened_and_noisy_in_normalised_units() -> None:
    profile = get_profile("SonyA7S2")
    params = NoiseParams(k=2.0, sigma_read=3.0, lam=0.0, sigma_row=0.5)
    clean = np.full((512, 512), 0.6, np.float32)
    dark = synthesise_dark(clean, 100.0, params, profile, np.random.default_rng(2))
    assert dark.dtype == np.float32 and dark.shape == clean.shape
    scale = profile.white_level - profile.black_level
    assert dark.mean() == pytest.approx(0.006, rel=0.01)
    expected_sd = math.sqrt(2.0 * 0.006 * scale + 9 * math.pi**2 / 3 + 0.25 + 1 / 12) / scale
    assert dark.std() == pytest.approx(expected_sd, rel=0.05)
    # Deep shadows go below black but not below what a file can hold.
    black = synthesise_dark(np.zeros_like(clean), 100.0, params, profile, np.random.default_rng(2))
    assert black.min() < 0 and black.min() >= -profile.black_level / scale
