"""Clipped highlights develop white with every model and the classical path (issue 21)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.io import read_raw, write_cfa_dng
from engine.models import list_models
from engine.render import CLASSICAL, Enhancer, normalise_mosaic
from engine.render.highlights import neutralise_highlights
from tests.conftest import mosaic_from_rgb, smooth_scene

RATIO = 30.0
WB = (2.0, 1.0, 1.6)


@pytest.fixture(scope="module")
def sky_dng(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dark (x30), noisy exposure of a neutral sky that clips at the top once amplified,
    fading to 0.8 of the clip point, over textured ground."""
    height, width, black, white = 96, 128, 512, 16383
    sky = np.linspace(1.3, 0.8, height // 2, dtype=np.float32)[:, None, None]
    sky = sky * np.ones((1, width, 3), np.float32)
    ground = smooth_scene(height - height // 2, width, 3) * np.float32(0.5)
    rgb = np.concatenate([sky, ground])
    cam = rgb / np.asarray(WB, np.float32) * np.float32(min(WB))  # develops neutral
    electrons = np.minimum(mosaic_from_rgb(cam, "RGGB"), 1.0) / RATIO * (white - black)
    rng = np.random.default_rng(0)
    dn = rng.poisson(electrons) + black + rng.normal(0.0, 3.0, electrons.shape)
    path = tmp_path_factory.mktemp("sky") / "sky.dng"
    write_cfa_dng(path, np.clip(np.rint(dn), 0, white).astype(np.uint16), cfa="RGGB",
                  black_level=black, white_level=white, wb_gains=WB)  # fmt: skip
    return path


def _near_clip(frame) -> np.ndarray:
    """Pixels whose 2x2 CFA block is clipped or within 5 % of clipping once amplified."""
    m = normalise_mosaic(frame, RATIO)
    h, w = m.shape
    block = m.reshape(h // 2, 2, w // 2, 2).max(axis=(1, 3))
    return np.repeat(np.repeat(block >= 0.95, 2, 0), 2, 1)


@pytest.mark.parametrize("model", [CLASSICAL, *list_models()])
def test_clipped_neutral_sky_has_no_colour_cast(
    sky_dng: Path, model: str, one_torch_thread
) -> None:
    frame = read_raw(sky_dng)
    mask = _near_clip(frame)
    assert mask.sum() > 2000  # the sky's top third
    srgb = np.rint(Enhancer(model, device="cpu").render(frame, RATIO).srgb * 255.0)
    chroma = (srgb.max(axis=-1) - srgb.min(axis=-1))[mask]
    assert chroma.mean() <= 2.0, (model, chroma.mean(), chroma.max())


def test_neutralising_fades_in_and_leaves_the_rest_alone() -> None:
    linear = torch.tensor([0.45, 0.8, 0.5]).view(3, 1, 1).repeat(1, 8, 8)  # a reddish patch
    near = torch.full((8, 8), 0.5)
    near[:, 6:] = 1.0  # clipped at the right edge
    out = neutralise_highlights(linear.clone(), near, np.array(WB))
    balanced = out * torch.tensor(WB).view(3, 1, 1)
    spread = balanced.amax(0) - balanced.amin(0)  # per pixel, after white balance
    torch.testing.assert_close(out[:, :, :4], linear[:, :, :4])  # far from the clip: untouched
    assert spread[0, 4] < spread[0, 3] and spread[0, 5] < spread[0, 4]  # a smooth ramp...
    assert spread[:, 6:].max() < 1e-6  # ...to grey where clipped,
    assert balanced[:, 0, 7].tolist() == pytest.approx([2.5 / 3] * 3)  # at its own level


def test_noisy_neutral_shadows_stay_neutral_in_the_classical_render(tmp_path: Path) -> None:
    """Clipping the noise below black before the demosaic biased red and blue up, and white
    balance doubled it: a grey shadow at 2 % of white came out [40, 32, 39] (purple)."""
    height, width, black, white, ratio, wb = 128, 192, 512, 16383, 50.0, (1.9, 1.0, 1.7)
    cam = np.full((height, width, 3), 0.02, np.float32) / np.asarray(wb, np.float32)
    electrons = mosaic_from_rgb(cam, "RGGB") / ratio * (white - black)
    rng = np.random.default_rng(0)
    dn = rng.poisson(electrons) + black + rng.normal(0.0, 4.0, electrons.shape)
    path = tmp_path / "shadow.dng"
    write_cfa_dng(path, np.clip(np.rint(dn), 0, white).astype(np.uint16), cfa="RGGB",
                  black_level=black, white_level=white, wb_gains=wb)  # fmt: skip
    mean = (Enhancer(CLASSICAL).render(read_raw(path), ratio).srgb * 255).reshape(-1, 3).mean(0)
    assert abs(mean[0] - mean[1]) <= 2.0 and abs(mean[2] - mean[1]) <= 2.0, mean


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (2, 1), (5, 9), (64, 33)])
def test_max_3x3_is_max_pool(shape: tuple[int, int]) -> None:
    import torch.nn.functional as F  # noqa: N812 - the usual alias

    from engine.render.highlights import _max_3x3

    image = torch.randn(shape, generator=torch.Generator().manual_seed(3))
    expected = F.max_pool2d(image[None, None], 3, stride=1, padding=1)[0, 0]
    assert torch.equal(torch.from_numpy(_max_3x3(image.numpy())), expected)
