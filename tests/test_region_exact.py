"""A full-resolution preview region is the export's own pixels (issue 20, part 1).

The 100 % view renders only what is on screen, with the network's whole receptive field around
it and on the whole frame's pooling grid; these tests prove it equals the same pixels of the
full render, for every Bayer layout (packing mirrors three of them), odd region offsets, an
Amount below 100 %, the classical path, and frames with clipped highlights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.io import read_raw
from engine.models import ModelCard, create_model, save_model
from engine.render import Enhancer
from tests.conftest import LAYOUTS


@pytest.fixture(scope="module")
def small_fast(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A narrow ``fast`` network with random weights: the default architecture's receptive
    field, pooling grid and inputs (noise map, demosaic planes) at a fraction of its cost.
    Every weight is drawn large: as initialised, the network's residual is near zero and its
    output would hardly depend on the context it is given."""
    import torch

    torch.manual_seed(0)
    model = create_model("fast", widths=(4, 6, 8, 10, 12))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.15)
    path = tmp_path_factory.mktemp("models") / "small-fast.safetensors"
    save_model(model, ModelCard(name="small-fast", architecture="fast", config=model.config),
               path)  # fmt: skip
    # The same weights restoring detail (the default's card does): its window reads the
    # output around each pixel, which the region's context must cover too.
    card = ModelCard(name="small-fast-detail", architecture="fast", config=model.config,
                     restores_detail=True)  # fmt: skip
    save_model(model, card, path.with_name("small-fast-detail.safetensors"))
    # And taking its demosaic below black, which the restoration then reads back.
    below = create_model("fast", widths=(4, 6, 8, 10, 12), base_below_black=True)
    below.load_state_dict(model.state_dict(), strict=True)
    card = ModelCard(name="small-fast-below", architecture="fast", config=below.config,
                     restores_detail=True)  # fmt: skip
    save_model(below, card, path.with_name("small-fast-below.safetensors"))
    # Restoring detail and then smoothing chroma (the default's card does both): the chroma's
    # guided filter reads further around each pixel still.
    card = ModelCard(name="small-fast-chroma", architecture="fast", config=model.config,
                     restores_detail=True, smooths_chroma=True)  # fmt: skip
    save_model(model, card, path.with_name("small-fast-chroma.safetensors"))
    return path


def _as_uint8(srgb: np.ndarray) -> np.ndarray:
    return np.clip(srgb * 255.0 + 0.5, 0, 255).astype(np.uint8).astype(np.int16)


@pytest.mark.parametrize("card", ["plain", "detail", "below", "chroma"])
@pytest.mark.parametrize("cfa", LAYOUTS)
def test_a_full_resolution_region_equals_the_whole_render(make_dng, small_fast, cfa, card) -> None:
    # Big enough that the region's context stops inside the frame on every side.
    path = make_dng(f"{cfa}.dng", height=1260, width=1302, cfa=cfa, ratio=20.0, noise=2.0,
                    seed=3)  # fmt: skip
    frame = read_raw(path)
    detail = card != "plain"
    weights = small_fast.with_name(f"small-fast-{card}.safetensors") if detail else small_fast
    enhancer = Enhancer(str(weights), device="cpu", precision="fp32")
    assert enhancer.restores_detail is detail
    assert enhancer.smooths_chroma is (card == "chroma")
    context, align = enhancer.region_context()
    region = (577, 603, 61, 97)  # odd offsets and sizes
    assert region[0] > context and frame.height - sum(region[::2]) > context
    for amount in (1.0, 0.4):
        whole = enhancer.render(frame, 20.0, amount=amount).srgb
        part = enhancer.render_preview(frame, 20.0, max(region[2:]), region, amount=amount)
        assert part.covers == region
        top, left, h, w = region
        expected = whole[top : top + h, left : left + w]
        assert part.srgb.shape == expected.shape
        assert np.abs(_as_uint8(part.srgb) - _as_uint8(expected)).max() <= 1
        assert np.abs(part.srgb - expected).max() < 1e-4
    if detail:  # the restoration changed this region, so the comparison above tested it
        before = (
            small_fast
            if card != "chroma"
            else small_fast.with_name("small-fast-detail.safetensors")
        )
        plain = Enhancer(str(before), device="cpu", precision="fp32").render(frame, 20.0)
        restored = enhancer.render(frame, 20.0)
        changed = np.abs(plain.srgb - restored.srgb)[top : top + h, left : left + w]
        assert changed.max() > 1e-3
    # The cut is on the frame's pooling grid from both ends, whichever way packing mirrors.
    assert align % 2 == 0


def test_a_region_whose_context_is_the_whole_frame_is_still_the_region(make_dng) -> None:
    frame = read_raw(make_dng("small.dng", height=120, width=160, ratio=10.0, cfa="GRBG"))
    enhancer = Enhancer("none", device="cpu")
    whole = enhancer.render(frame, 10.0).srgb
    region = (3, 5, 111, 150)  # with its context, the cut is the whole mosaic
    part = enhancer.render_preview(frame, 10.0, 150, region)
    assert part.covers == region and part.srgb.shape == (111, 150, 3)
    assert np.abs(part.srgb - whole[3:114, 5:155]).max() < 1e-5


def test_classical_regions_with_highlights_are_exact(make_dng) -> None:
    # A dim noisy scene, a small white patch far from the regions, and a tall stripe near the
    # clip point: neither LibRaw's demosaic range nor the highlight fade's strips may depend on
    # what else is in the crop.
    from tests.conftest import smooth_scene

    scene = smooth_scene(600, 420, seed=1) * 0.35
    scene[10:20, 10:20] = 1.0
    scene[:, 200:236] = 0.93
    scene[40:60, 300:400] = 1.0  # a bright band above a region...
    scene[450:452, 60:64] = 1.0  # ...and a lamp inside it
    path = make_dng("bright.dng", height=600, width=420, noise=8.0, seed=1, scene=scene)
    frame = read_raw(path)
    enhancer = Enhancer("none", device="cpu")
    whole = enhancer.render(frame, 1.0).srgb
    for region in ((237, 181, 51, 77), (300, 31, 120, 150), (540, 351, 60, 69),
                   (420, 280, 60, 120), (446, 20, 30, 100)):  # fmt: skip
        part = enhancer.render_preview(frame, 1.0, max(region[2:]), region).srgb
        top, left, h, w = region
        assert np.abs(part - whole[top : top + h, left : left + w]).max() < 1e-5, region


@pytest.fixture(scope="module")
def small_baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SID U-Net's shape (receptive radius 107, size multiple 16) with random weights large
    enough that its output depends on its context (as initialised it hardly does)."""
    import torch

    torch.manual_seed(1)
    model = create_model("baseline", base_features=4)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.1)
    path = tmp_path_factory.mktemp("models") / "small-baseline.safetensors"
    save_model(model, ModelCard(name="small-baseline", architecture="baseline",
                                config=model.config), path)  # fmt: skip
    return path


@pytest.mark.parametrize("weights", ["small_fast", "small_baseline"])
def test_a_region_equals_a_tiled_export_too(make_dng, weights, request) -> None:
    # Tiles small enough that both the whole render and the region's are cut into several,
    # along different seams: every kept pixel still has its whole receptive field.
    frame = read_raw(make_dng("tiled.dng", height=1000, width=1100, ratio=20.0, noise=2.0))
    path = request.getfixturevalue(weights)
    enhancer = Enhancer(str(path), device="cpu", precision="fp32", tile=96)
    assert len(enhancer.runner.plan(frame.height // 2, frame.width // 2).cores()) > 4
    whole = enhancer.render(frame, 20.0).srgb
    region = (431, 467, 81, 113)
    part = enhancer.render_preview(frame, 20.0, max(region[2:]), region).srgb
    assert np.abs(part - whole[431:512, 467:580]).max() < 1e-4
