"""A frame's noise level: measured on generated DNGs, from profiles, and as the network's map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.io import ExifInfo, read_raw, write_cfa_dng
from engine.noise import (
    PROFILES,
    SONY_A7S2_ISO_PARAMS,
    NoiseLevel,
    add_noise,
    estimate_noise_level,
    noise_level_for,
    noise_level_from_params,
    noise_level_from_profile,
)
from tests.conftest import smooth_scene

SONY = PROFILES["SonyA7S2"]


def scene_rgb(height: int = 320, width: int = 480) -> np.ndarray:
    """``(H, W, 3)`` a photo-like scene: gradients, soft blobs and a hundred sharp-edged
    patches."""
    rng = np.random.default_rng(103)
    rgb = smooth_scene(height, width, seed=3) * np.float32(0.8)
    for _ in range(100):
        y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
        dy, dx = (int(v) for v in rng.integers(3, 12, 2))
        rgb[y : y + dy, x : x + dx] = rng.uniform(0.05, 0.9, 3)
    return rgb


def _scene_mosaic(height: int = 320, width: int = 480) -> np.ndarray:
    """``(H, W)`` normalised RGGB mosaic of :func:`scene_rgb`. (Where texture covers every
    block and the noise is far below it, as on a busy scene at x1 and base ISO, the estimate
    comes out high.)"""
    rgb = scene_rgb(height, width)
    out = np.empty((height, width), np.float32)
    for dy in range(2):
        for dx in range(2):
            channel = (0, 1, 1, 2)[2 * dy + dx]
            out[dy::2, dx::2] = rgb[dy::2, dx::2, channel]
    return out


def _dark_dng(path: Path, iso: int, ratio: float, seed: int = 0) -> tuple[Path, np.ndarray]:
    """A DNG of the scene ``ratio`` times underexposed with the Sony's noise at ``iso``; and
    the expected normalised signal of every pixel."""
    clean = _scene_mosaic() / np.float32(ratio)
    noisy = add_noise(clean * SONY.dn_range, SONY_A7S2_ISO_PARAMS[iso],
                      np.random.default_rng(seed))  # fmt: skip
    dn = np.clip(np.rint(noisy + SONY.black_level), 0, SONY.white_level).astype(np.uint16)
    write_cfa_dng(path, dn, "RGGB", black_level=SONY.black_level,
                  white_level=int(SONY.white_level), exif=ExifInfo(iso=iso))  # fmt: skip
    return path, clean


@pytest.mark.parametrize("iso", [100, 1600, 6400, 25600])
@pytest.mark.parametrize("ratio", [1, 10, 100, 300])
def test_the_frame_estimate_is_within_1_5x_of_the_true_sigma(
    tmp_path: Path, iso: int, ratio: float
) -> None:
    """Measured on the file alone (no profile), at the dark, middle and bright signal."""
    path, clean = _dark_dng(tmp_path / "dark.dng", iso, ratio, seed=iso + int(ratio))
    estimate = estimate_noise_level(read_raw(path))
    truth = noise_level_from_params(SONY_A7S2_ISO_PARAMS[iso], SONY)
    for q in (0.1, 0.5, 0.9):
        signal = float(np.quantile(clean, q))
        factor = float(estimate.sigma(signal, 1.0) / truth.sigma(signal, 1.0))
        assert 1 / 1.5 < factor < 1.5, (q, factor, estimate, truth)


def test_a_known_camera_with_an_iso_uses_its_profile(tmp_path: Path) -> None:
    path, _ = _dark_dng(tmp_path / "sony.dng", 6400, 10)
    frame = read_raw(path)
    frame = type(frame)(**{**frame.__dict__, "exif": ExifInfo(make="Sony", model="ILCE-7SM2",
                                                              iso=6400)})  # fmt: skip
    level = noise_level_for(frame, PROFILES.values())
    assert level.source == "SonyA7S2 profile at ISO 6400"
    assert level == noise_level_from_profile(SONY, 6400)
    truth = noise_level_from_params(SONY_A7S2_ISO_PARAMS[6400], SONY)
    assert level.gain == pytest.approx(truth.gain, rel=0.01)  # K = 9.563e-4 x ISO
    unknown = type(frame)(**{**frame.__dict__, "exif": ExifInfo(make="Kodak", iso=100)})
    assert noise_level_for(unknown, PROFILES.values()).source == "estimated from the frame"


def test_sigma_map_follows_the_amplified_signal() -> None:
    level = NoiseLevel(gain=1e-4, floor=1e-7)
    packed = np.zeros((4, 6, 8), np.float32)
    packed[:, :, 4:] = 0.5
    sigma = level.sigma_map(packed, ratio=100.0)
    assert sigma.shape == packed.shape and sigma.dtype == np.float32
    dark, bright = sigma[0, 0, 0], sigma[0, 0, 7]
    assert dark == pytest.approx(100 * np.sqrt(1e-7), rel=1e-4)  # the floor, amplified
    assert bright == pytest.approx(np.sqrt(100 * 1e-4 * 0.5 + 1e4 * 1e-7), rel=1e-4)
    assert level.scaled(0.5).sigma(0.5, 100.0) == pytest.approx(bright / 2, rel=1e-4)


@pytest.mark.parametrize("bad", [{"gain": -1.0, "floor": 1e-6}, {"gain": 1e-4, "floor": 0.0},
                                 {"gain": float("nan"), "floor": 1e-6}])  # fmt: skip
def test_noise_level_refuses_nonsense(bad: dict) -> None:
    with pytest.raises(ValueError):
        NoiseLevel(**bad)


def test_a_clipped_frame_cannot_be_measured(tmp_path: Path) -> None:
    flat = np.full((64, 64), 16383, np.uint16)
    path = tmp_path / "white.dng"
    write_cfa_dng(path, flat, "RGGB", black_level=512, white_level=16383)
    with pytest.raises(ValueError, match="too few unclipped"):
        estimate_noise_level(read_raw(path))
