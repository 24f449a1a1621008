import numpy as np
import pytest
import torch

from engine.io import RawFrame, read_raw
from engine.render import (
    apply_orientation,
    classical_linear,
    demosaic,
    develop,
    develop_batch,
    highlight_gains,
    leaky_clamp,
    srgb_decode,
    srgb_encode,
)
from tests.conftest import LAYOUTS, mosaic_from_rgb


def test_srgb_curve_round_trip_and_known_values() -> None:
    x = torch.linspace(0, 1, 1001)
    torch.testing.assert_close(srgb_decode(srgb_encode(x)), x, atol=1e-5, rtol=0)
    assert srgb_encode(torch.tensor(0.18)).item() == pytest.approx(0.4614, abs=1e-3)
    assert srgb_encode(torch.tensor([-1.0, 2.0])).tolist() == pytest.approx([0.0, 1.0], abs=1e-6)


@pytest.mark.parametrize("cfa", LAYOUTS)
def test_demosaic_flat_colour_for_every_layout(cfa: str) -> None:
    colour = np.array([0.6, 0.3, 0.1], np.float32)
    mosaic = mosaic_from_rgb(np.broadcast_to(colour, (16, 20, 3)).copy(), cfa)
    rgb = demosaic(mosaic, cfa)
    np.testing.assert_allclose(rgb[4:-4, 4:-4], np.broadcast_to(colour, (8, 12, 3)), atol=2e-4)


@pytest.mark.parametrize("cfa", LAYOUTS)
def test_demosaic_keeps_every_sample_and_beats_bilinear_on_detail(cfa: str) -> None:
    """LibRaw's DHT leaves each recorded sample where it was (any layout, odd sizes) and
    reconstructs a detailed scene better than bilinear interpolation, which a frame too small
    for LibRaw gets."""
    import cv2

    from tests.test_pairing import textured_scene

    truth = textured_scene(61, 87, seed=4)
    mosaic = mosaic_from_rgb(truth, cfa)
    rgb = demosaic(mosaic, cfa)
    pattern = np.array(["RGB".index(c) for c in cfa]).reshape(2, 2)
    for dy in range(2):
        for dx in range(2):
            np.testing.assert_allclose(rgb[dy::2, dx::2, pattern[dy, dx]], mosaic[dy::2, dx::2],
                                       atol=1 / 65535)  # fmt: skip
    codes = {"RGGB": cv2.COLOR_BayerBG2RGB, "BGGR": cv2.COLOR_BayerRG2RGB,
             "GRBG": cv2.COLOR_BayerGB2RGB, "GBRG": cv2.COLOR_BayerGR2RGB}  # fmt: skip
    u16 = np.rint(mosaic * 65535).astype(np.uint16)
    bilinear = cv2.cvtColor(u16, codes[cfa]).astype(np.float32) / 65535
    inner = (slice(4, -4), slice(4, -4))

    def error(x: np.ndarray) -> float:
        return float(np.mean((x[inner] - truth[inner]) ** 2))

    assert error(rgb) < 0.8 * error(bilinear)
    tiny = demosaic(mosaic[:10, :12], cfa)  # below LibRaw's 22 px: the bilinear fallback
    expected = cv2.cvtColor(np.ascontiguousarray(u16[:10, :12]), codes[cfa]).astype(np.float32)
    np.testing.assert_allclose(tiny, expected / 65535, atol=1e-7)


def test_develop_neutral_and_highlights_white() -> None:
    wb = np.array([2.0, 1.0, 1.5], np.float32)
    matrix = np.array([[1.6, -0.4, -0.2], [-0.2, 1.5, -0.3], [0.0, -0.5, 1.5]], np.float32)
    grey = torch.tensor([0.2 / 2.0, 0.2, 0.2 / 1.5]).view(3, 1, 1)
    out = develop(grey, wb, matrix)
    assert torch.allclose(out[0], out[1], atol=1e-5) and torch.allclose(out[1], out[2], atol=1e-5)
    blown = develop(torch.ones(3, 2, 2), wb, matrix)
    torch.testing.assert_close(blown, torch.ones(3, 2, 2))
    assert highlight_gains(np.array([0.8, 1.0, 1.2])).min() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("flip", "expected"),
    [(0, [[1, 2, 3], [4, 5, 6]]), (3, [[6, 5, 4], [3, 2, 1]]), (5, [[3, 6], [2, 5], [1, 4]]),
     (6, [[4, 1], [5, 2], [6, 3]]), (1, [[3, 2, 1], [6, 5, 4]])],
)  # fmt: skip
def test_orientation_codes(flip: int, expected: list[list[int]]) -> None:
    image = np.array([[1, 2, 3], [4, 5, 6]])
    assert apply_orientation(image, flip).tolist() == expected


def test_classical_pipeline_recovers_scene_from_dark_dng(make_dng) -> None:
    path = make_dng(height=40, width=60, cfa="GRBG", ratio=50.0, black=[510, 512, 514, 511])
    frame: RawFrame = read_raw(path)
    linear = classical_linear(frame, 50.0)
    from tests.conftest import smooth_scene

    scene = smooth_scene(40, 60)
    cam = scene / np.array([2.0, 1.0, 1.6], np.float32)
    # Quantisation of a x50-darkened 14-bit signal limits precision to ~50/16000 per step.
    err = np.abs(linear[4:-4, 4:-4] - np.clip(cam, 0, 1)[4:-4, 4:-4])
    assert err.mean() < 0.01


def test_develop_batch_matches_develop_per_image_and_has_gradients() -> None:
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.uniform(0.01, 0.35, (2, 3, 6, 7)).astype(np.float32))
    gains = [np.array([2.1, 1.0, 1.6]), np.array([1.5, 1.0, 2.4])]
    matrices = [
        np.array([[1.7, -0.5, -0.2], [-0.2, 1.5, -0.3], [0.0, -0.4, 1.4]]),
        np.eye(3) * 0.9,
    ]
    batch = images.clone().requires_grad_(True)
    out = develop_batch(
        batch,
        torch.from_numpy(np.stack([highlight_gains(g) for g in gains])),
        torch.from_numpy(np.stack(matrices).astype(np.float32)),
    )
    for i in range(2):
        expected = develop(images[i], gains[i], matrices[i])
        torch.testing.assert_close(out[i], expected, atol=1e-5, rtol=0)
    out.sum().backward()
    assert batch.grad is not None and torch.isfinite(batch.grad).all()
    # Every pixel below the clip points receives a gradient.
    assert (batch.grad[1].abs() > 0).float().mean() > 0.9


def test_develop_batch_gradient_pulls_crushed_and_blown_outputs_back() -> None:
    # A network output below black (or above white where the target is not clipped) must still
    # get a gradient from an L1 loss on the developed image, pointing towards the target.
    gains = torch.tensor([[2.0, 1.0, 1.5]])
    matrix = torch.tensor([[[1.6, -0.4, -0.2], [-0.2, 1.5, -0.3], [0.0, -0.5, 1.5]]])
    target = torch.full((1, 3, 2, 2), 0.2)
    out = torch.full((1, 3, 2, 2), 0.2)
    out[0, :, 0, 0] = -0.05  # crushed shadow
    out[0, :, 1, 1] = 1.4  # overshoot where the target is mid-grey
    out.requires_grad_(True)
    wanted = develop_batch(target, gains, matrix)
    shown = develop_batch(out, gains, matrix)
    assert shown.min() >= 0 and shown.max() <= 1  # the forward pass still clips
    torch.nn.functional.l1_loss(shown, wanted).backward()
    assert out.grad is not None
    assert (out.grad[0, :, 0, 0] < 0).all()  # descent raises the crushed pixel
    assert (out.grad[0, :, 1, 1] > 0).all()  # ...and lowers the overshoot


def test_leaky_clamp_clips_forward_and_leaks_gradient_outside() -> None:
    x = torch.tensor([-0.5, 0.3, 1.7], requires_grad=True)
    y = leaky_clamp(x, leak=0.1)
    assert y.tolist() == pytest.approx([0.0, 0.3, 1.0])
    y.sum().backward()
    assert x.grad is not None and x.grad.tolist() == pytest.approx([0.1, 1.0, 0.1])
