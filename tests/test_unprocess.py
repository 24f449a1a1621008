from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.io import cfa_from_name
from engine.render import (
    classical_linear,
    develop,
    develop_numpy,
    pack_bayer,
    srgb_decode,
    srgb_encode,
)
from engine.train.unprocess import (
    BAYER_LAYOUTS,
    CAMERAS,
    WIDE_WB_GAIN_RANGE,
    CameraColour,
    UnprocessParams,
    inverse_smoothstep,
    mosaic,
    sample_unprocess_params,
    smoothstep,
    to_raw_frame,
    unprocess,
)
from tests.conftest import LAYOUTS, smooth_scene


def _photo(seed: int) -> np.ndarray:
    """A photo-like sRGB image with stronger colours than smooth_scene alone, plus a band of
    pure primaries and secondaries, the hardest colours to carry through a camera matrix."""
    scene = smooth_scene(64, 96, seed)
    grey = scene.mean(axis=2, keepdims=True)
    photo = np.clip(grey + 1.6 * (scene - grey), 0.0, 1.0).astype(np.float32)
    for i, colour in enumerate([(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0, 1, 1), (1, 0, 1)]):
        photo[:8, 16 * i : 16 * (i + 1)] = colour
    return photo


def _in_gamut(srgb: np.ndarray, params: UnprocessParams) -> np.ndarray:
    """Pixels whose white-balanced camera RGB fits in [0, 1], i.e. that nothing clips."""
    linear = srgb_decode(torch.from_numpy(srgb.astype(np.float64))).numpy() * params.brightness
    cam = linear @ np.linalg.inv(params.camera.cam_to_srgb.astype(np.float64)).T
    return np.all((cam >= 0.0) & (cam <= 1.0), axis=2)


def _develop(linear: np.ndarray, params: UnprocessParams) -> np.ndarray:
    chw = torch.from_numpy(linear).permute(2, 0, 1)
    return develop(chw, params.wb_gains, params.camera.cam_to_srgb).permute(1, 2, 0).numpy()


def test_camera_matrices_keep_white_white() -> None:
    assert set(CAMERAS) >= {"Sony ILCE-7S"}
    np.testing.assert_allclose(
        CAMERAS["Sony ILCE-7S"].xyz_to_cam.reshape(-1) * 10000,
        [5838, -1430, -246, -3497, 11477, 2297, -748, 1885, 5778],
    )
    for camera in CAMERAS.values():
        m = camera.cam_to_srgb
        assert m.shape == (3, 3) and m.dtype == np.float32
        np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(camera.srgb_to_cam @ m, np.eye(3), atol=1e-9)
        # A real camera matrix is far from identity: it desaturates towards camera RGB.
        assert np.abs(m - np.eye(3)).max() > 0.2
    with pytest.raises(ValueError):
        CameraColour.from_adobe_coeff("broken", [1, 2, 3])


@pytest.mark.parametrize("cfa", LAYOUTS)
def test_develop_inverts_unprocess(cfa: str) -> None:
    rng = np.random.default_rng(LAYOUTS.index(cfa))
    for seed in range(3):
        params = sample_unprocess_params(rng, cfa=cfa)
        photo = _photo(seed)
        linear = unprocess(photo, params)
        assert linear.shape == photo.shape and linear.dtype == np.float32
        assert linear.min() >= 0.0 and linear.max() <= 1.0
        # These cameras' sRGB->camera matrices are all positive with rows summing to 1, so
        # at brightness <= 1 every sRGB colour, pure primaries included, survives unclipped.
        mask = _in_gamut(photo, params)
        assert mask.all()
        # Unprocessing darkens by `brightness` in linear light; develop shows exactly that.
        expected = srgb_encode(srgb_decode(torch.from_numpy(photo)) * params.brightness).numpy()
        error = np.abs(_develop(linear, params) - expected)[mask]
        assert error.mean() < 1 / 255 and error.max() < 2 / 255
        # At brightness 1 the photo itself comes back.
        same = replace(params, brightness=1.0)
        mask = _in_gamut(photo, same)
        assert np.abs(_develop(unprocess(photo, same), same) - photo)[mask].mean() < 1 / 255


def test_highlights_pushed_past_white_clip_and_the_rest_round_trips() -> None:
    params = UnprocessParams(CAMERAS["Canon EOS 5D Mark IV"], np.array([2.1, 1.0, 1.8]))
    params = replace(params, brightness=1.8)
    photo = _photo(4)
    linear = unprocess(photo, params)
    assert linear.max() <= 1.0
    mask = _in_gamut(photo, params)
    assert 0.2 < mask.mean() < 0.9  # some highlights really clip
    expected = srgb_encode(srgb_decode(torch.from_numpy(photo)) * 1.8).numpy()
    developed = _develop(linear, params)
    assert np.abs(developed - expected)[mask].mean() < 1 / 255
    # What clips is the bright part, and it stays in range (desaturated, as highlights are).
    assert expected[~mask].max(axis=1).mean() > expected[mask].max(axis=1).mean()
    assert 0.0 <= developed.min() and developed.max() <= 1.0


def test_unprocess_gives_camera_like_raw() -> None:
    params = UnprocessParams(CAMERAS["Sony ILCE-7S"], np.array([2.2, 1.0, 1.7]))
    grey = np.full((4, 4, 3), 0.5, np.float32)
    linear = unprocess(grey, params)
    # Grey in sRGB is neutral camera RGB divided by the white balance: green brightest.
    expected = srgb_decode(torch.tensor(0.5)).item() / np.array([2.2, 1.0, 1.7])
    np.testing.assert_allclose(linear[0, 0], expected, rtol=1e-5)
    assert not np.allclose(unprocess(_photo(0), params), srgb_decode(torch.from_numpy(_photo(0))))


def test_inverse_tone_option_undoes_smoothstep() -> None:
    y = np.linspace(0.0, 1.0, 101)
    np.testing.assert_allclose(smoothstep(inverse_smoothstep(y)), y, atol=1e-12)
    params = UnprocessParams(CAMERAS["Nikon D850"], np.array([2.0, 1.0, 1.6]))
    photo = _photo(1)
    toned = smoothstep(inverse_smoothstep(photo))
    np.testing.assert_allclose(
        unprocess(photo, params, inverse_tone=True),
        unprocess(inverse_smoothstep(toned), params),
        atol=1e-6,
    )
    assert (
        np.abs(unprocess(photo, params, inverse_tone=True) - unprocess(photo, params)).max() > 0.01
    )


@pytest.mark.parametrize("cfa", LAYOUTS)
def test_mosaic_samples_through_the_cfa(cfa: str) -> None:
    rgb = np.zeros((4, 6, 3), np.float32)
    for c in range(3):
        rgb[..., c] = c + 1
    out = mosaic(rgb, cfa)
    assert out.shape == (4, 6) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:2, :2], cfa_from_name(cfa) + 1)
    np.testing.assert_array_equal(out, np.tile(out[:2, :2], (2, 3)))
    with pytest.raises(ValueError):
        mosaic(np.zeros((5, 6, 3), np.float32), cfa)


@pytest.mark.parametrize("cfa", LAYOUTS)
def test_raw_frame_develops_back_to_the_photo(cfa: str) -> None:
    params = replace(sample_unprocess_params(np.random.default_rng(9), cfa=cfa), brightness=1.0)
    params = replace(params, black_level=512.0, white_level=16383.0)
    photo = _photo(2)
    linear = unprocess(photo, params)
    frame = to_raw_frame(linear, params)
    assert frame.mosaic.dtype == np.uint16 and frame.mosaic.shape == photo.shape[:2]
    assert frame.cfa_name == cfa and frame.black_level.shape == (2, 2)
    assert frame.mosaic.min() >= 512 and frame.mosaic.max() <= 16383
    developed = develop_numpy(classical_linear(frame, 1.0), frame)
    mask = _in_gamut(photo, params)
    # Demosaicking smooth content costs little, but more than the exact round trip.
    assert np.abs(developed - photo)[mask].mean() < 3 / 255
    packed = pack_bayer(frame)
    assert packed.shape == (4, 32, 48)
    # Packed channel R holds the red camera values, up to the 14-bit rounding.
    red_y, red_x = np.argwhere(frame.cfa_pattern == 0)[0]
    np.testing.assert_allclose(packed[0], linear[red_y::2, red_x::2, 0], atol=1 / 15871)


def test_sampled_params_are_brooks_like() -> None:
    rng = np.random.default_rng(0)
    draws = [sample_unprocess_params(rng) for _ in range(200)]
    red = np.array([p.wb_gains[0] for p in draws])
    blue = np.array([p.wb_gains[2] for p in draws])
    assert np.all((red >= 1.9) & (red <= 2.4)) and np.all((blue >= 1.5) & (blue <= 1.9))
    assert all(p.wb_gains[1] == 1.0 for p in draws)
    assert all(0.5 <= p.brightness <= 1.0 for p in draws)
    assert {p.cfa for p in draws} == set(BAYER_LAYOUTS)
    assert {p.camera.name for p in draws} == set(CAMERAS)
    assert all(p.black_level < p.white_level <= 65535 for p in draws)
    a = sample_unprocess_params(np.random.default_rng(5))
    b = sample_unprocess_params(np.random.default_rng(5))
    assert a.camera is b.camera and np.array_equal(a.wb_gains, b.wb_gains) and a.cfa == b.cfa
    with pytest.raises(ValueError):
        sample_unprocess_params(rng, cfa="RGBG")
    with pytest.raises(ValueError):
        UnprocessParams(CAMERAS["Canon EOS 70D"], np.array([2.0, 1.0, -1.0]))


def test_wide_white_balance_mix_covers_neutral_and_tungsten_raw() -> None:
    rng = np.random.default_rng(1)
    draws = np.array(
        [sample_unprocess_params(rng, wide_wb_fraction=0.3).wb_gains for _ in range(600)]
    )
    red, blue = draws[:, 0], draws[:, 2]
    lo, hi = WIDE_WB_GAIN_RANGE
    assert np.all((red >= lo) & (red <= hi)) and np.all((blue >= lo) & (blue <= hi))
    brooks = (red >= 1.9) & (red <= 2.4) & (blue >= 1.5) & (blue <= 1.9)
    # About 30 % are wide draws; a few of those land inside Brooks' box by chance.
    assert 0.6 < brooks.mean() < 0.8, brooks.mean()
    assert ((red < 1.3) & (blue < 1.3)).any(), "no near-neutral raw (white balance ~1)"
    assert ((red < 1.5) & (blue > 2.4)).any(), "no tungsten-like white balance"
    # Fraction 0 draws nothing extra: the held-out evaluation pairs do not move.
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    pa = sample_unprocess_params(a)
    pb = sample_unprocess_params(b, wide_wb_fraction=0.0)
    assert np.array_equal(pa.wb_gains, pb.wb_gains) and a.random() == b.random()
