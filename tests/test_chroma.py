"""The chroma step after the network (engine.render.smooth_chroma): colour noise and false
colour out, luminance and real colour edges kept, local, and the same in bands as whole."""

# The fine-tune fixtures are test_finetune's, imported by name (pytest finds them so).
# ruff: noqa: F811
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine.render.chroma as chroma
from engine.models import Finishing, ModelCard, create_model, read_card, save_model
from engine.noise import NoiseLevel
from engine.render import Enhancer, finish_output, smooth_chroma
from tests.test_finetune import shot  # noqa: F401

GAINS = np.array([2.1, 1.0, 1.6], np.float32)


def _balanced(image: np.ndarray) -> np.ndarray:
    return image * GAINS[:, None, None]


def _luminance(image: np.ndarray) -> np.ndarray:
    return _balanced(image).mean(axis=0)


def _textured_grey(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Grey (in balanced RGB) luminance texture: what must survive untouched."""
    grey = 0.3 + 0.2 * rng.random((height, width), np.float32)
    return np.stack([grey / g for g in GAINS]).astype(np.float32)


def test_luminance_is_kept_and_colour_noise_is_removed() -> None:
    rng = np.random.default_rng(0)
    clean = _textured_grey(rng, 120, 140)
    # Colour noise: zero-mean in luminance, so only the chroma is noisy.
    noise = rng.normal(0.0, 0.03, (3, 120, 140)).astype(np.float32)
    noise -= noise.mean(axis=0, keepdims=True)
    noisy = clean + noise / GAINS[:, None, None]
    # The frame's noise level that makes it: 0.03**2 per balanced channel, on average.
    level = NoiseLevel(0.0, 0.03**2 / float(np.mean(GAINS**2)))
    out = smooth_chroma(torch.from_numpy(noisy.copy()), GAINS, level, 1.0).numpy()
    assert np.abs(_luminance(out) - _luminance(noisy)).max() < 1e-6
    error_before = np.abs(_balanced(noisy) - _balanced(clean)).mean()
    error_after = np.abs(_balanced(out) - _balanced(clean)).mean()
    assert error_after < 0.3 * error_before


def test_a_colour_edge_with_a_luminance_edge_stays_sharp() -> None:
    # Dark red on the left, bright green on the right: the chroma follows the luminance.
    image = np.empty((3, 40, 40), np.float32)
    image[:, :, :20] = (np.array([0.20, 0.05, 0.05]) / GAINS)[:, None, None]
    image[:, :, 20:] = (np.array([0.30, 0.70, 0.30]) / GAINS)[:, None, None]
    out = smooth_chroma(torch.from_numpy(image.copy()), GAINS).numpy()
    assert np.abs(out - image).max() < 0.01
    # Averaged without the guide, the same edge would bleed by tenths.
    blurred = image.copy()
    blurred[:, :, 17:23] = image[:, :, 14:26].mean(axis=2, keepdims=True)
    assert np.abs(blurred - image).max() > 0.05


def test_colour_without_a_luminance_edge_is_kept_where_it_stands_above_the_noise() -> None:
    # Red and blue stripes of one luminance (a painted mural): the fit alone sees no edge.
    red = np.array([0.45, 0.10, 0.20], np.float32)
    blue = np.array([0.15, 0.15, 0.45], np.float32)
    assert abs(red.mean() - blue.mean()) < 1e-6
    stripes = np.where((np.arange(48) // 8) % 2 == 0, 1.0, 0.0).astype(np.float32)
    balanced = red[:, None, None] * stripes + blue[:, None, None] * (1 - stripes)
    image = np.broadcast_to(balanced, (3, 40, 48)) / GAINS[:, None, None]
    image = np.ascontiguousarray(image, np.float32)
    quiet = NoiseLevel(1e-5, 1e-6)  # a clean photo
    kept = smooth_chroma(torch.from_numpy(image.copy()), GAINS, quiet, 1.0).numpy()
    # Exact two pixels from an edge; at the edge softened by a pixel (colour at the pixel
    # scale is what the fit's pixel-scale part removes).
    inside = (np.arange(48) % 8 >= 2) & (np.arange(48) % 8 <= 5)
    assert np.abs(kept - image)[:, :, inside].max() < 0.01
    contrast = (_balanced(image)[0] - _balanced(image)[2]).std()
    assert (_balanced(kept)[0] - _balanced(kept)[2]).std() > 0.85 * contrast
    # Without the noise to judge by, the fit turns them to their mean: what the gate is for.
    fitted = smooth_chroma(torch.from_numpy(image.copy()), GAINS).numpy()
    assert np.abs(fitted - image).max() > 0.05


@pytest.mark.parametrize("gated", [True, False])
def test_a_pixel_reaches_exactly_its_reach(gated: bool) -> None:
    rng = np.random.default_rng(1)
    image = rng.random((3, 61, 61), np.float32)
    changed = image.copy()
    changed[:, 30, 30] += 0.5
    level = NoiseLevel(1e-4, 1e-5) if gated else None
    a = smooth_chroma(torch.from_numpy(image.copy()), GAINS, level, 4.0).numpy()
    b = smooth_chroma(torch.from_numpy(changed), GAINS, level, 4.0).numpy()
    rows, cols = np.nonzero(np.abs(a - b).max(axis=0) > 0)
    reach = chroma.CHROMA_REACH if gated else 2 * chroma.CHROMA_RADIUS
    assert rows.min() == 30 - reach and rows.max() == 30 + reach
    assert cols.min() == 30 - reach and cols.max() == 30 + reach


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("height", [5, 37, 64, 100])
def test_bands_equal_the_whole_picture(monkeypatch, height: int, threads: int) -> None:
    rng = np.random.default_rng(2)
    image = rng.random((3, height, 23), np.float32)
    level = NoiseLevel(1e-3, 1e-5)
    whole = chroma._filter_block(image.copy(), GAINS, chroma.CHROMA_RADIUS, chroma.CHROMA_EPS,
                                 level, 2.0)  # fmt: skip
    monkeypatch.setattr(chroma, "_BAND_ROWS", 16)  # several bands, each past the reach
    before = torch.get_num_threads()
    torch.set_num_threads(threads)  # bands filtered that many at a time
    try:
        banded = smooth_chroma(torch.from_numpy(image.copy()), GAINS, level, 2.0).numpy()
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(banded, whole)


def test_a_radius_past_the_band_is_refused() -> None:
    with pytest.raises(ValueError, match="radius"):
        smooth_chroma(torch.zeros(3, 8, 8), GAINS, radius=chroma._BAND_ROWS // 3 + 1)


def test_cards_before_the_field_do_not_smooth_and_the_default_does() -> None:
    old = ModelCard.from_json({"name": "old", "architecture": "fast"}, "old.json")
    assert old.smooths_chroma is False
    from engine.resources import bundled_models_dir

    assert read_card(bundled_models_dir() / "fast.safetensors").smooths_chroma is True


def test_the_render_smooths_chroma_where_the_card_says(tmp_path, make_dng) -> None:
    torch.manual_seed(0)
    model = create_model("fast", widths=(4, 6, 8, 10, 12))
    plain = tmp_path / "plain.safetensors"
    smoothing = tmp_path / "smoothing.safetensors"
    save_model(model, ModelCard(name="plain", architecture="fast", config=model.config), plain)
    card = ModelCard(name="smoothing", architecture="fast", config=model.config,
                     smooths_chroma=True)  # fmt: skip
    save_model(model, card, smoothing)
    from engine.io import read_raw

    frame = read_raw(make_dng("c.dng", height=96, width=128, ratio=10.0, noise=3.0))
    with_step = Enhancer(str(smoothing), device="cpu", precision="fp32")
    without = Enhancer(str(plain), device="cpu", precision="fp32")
    assert with_step.smooths_chroma and not without.smooths_chroma
    a = with_step.render(frame, 10.0).linear_sensor
    b = without.render(frame, 10.0).linear_sensor
    assert np.abs(a - b).max() > 1e-3
    # The luminance is the network's (clipping at white aside).
    gains = frame.wb_gains[:3]
    lum_a, lum_b = (a * gains).mean(axis=2), (b * gains).mean(axis=2)
    inside = (a < 1).all(axis=2) & (b < 1).all(axis=2) & (a > 0).all(axis=2)
    assert np.abs(lum_a - lum_b)[inside].max() < 1e-5
    # Its regions carry the filter's reach more context than the same weights without it.
    assert with_step.region_context()[0] == without.region_context()[0] + chroma.CHROMA_REACH
    # Amount 0 is still exactly the classical render.
    classical = Enhancer("none", device="cpu").render(frame, 10.0).srgb
    assert np.array_equal(with_step.render(frame, 10.0, amount=0.0).srgb, classical)


def test_a_fine_tune_inherits_the_step_and_validates_with_it(tmp_path, shot, monkeypatch) -> None:
    import json

    import engine.render.finishing as finishing_steps
    from tests.test_finetune import _run

    torch.manual_seed(0)
    model = create_model("fast", widths=(4, 6, 8), encoder_convs=(1, 1, 1), decoder_convs=(1, 1))
    base = tmp_path / "base.safetensors"
    card = ModelCard(name="base", architecture="fast", config=model.config, smooths_chroma=True)
    save_model(model, card, base, dtype=torch.float32)
    calls: list[float] = []

    def spy(image, wb_gains, level=None, ratio=1.0, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(ratio)
        assert level is not None  # the crop's level, as the app's render has
        return smooth_chroma(image, wb_gains, level, ratio, **kwargs)

    monkeypatch.setattr(finishing_steps, "smooth_chroma", spy)  # what the validation calls
    _, pairs = shot
    lib = tmp_path / "lib"
    _run(base, pairs, "tuned", lib, iterations=0)
    assert json.loads((lib / "tuned.json").read_text())["smooths_chroma"] is True
    assert calls  # the base was scored with the step


def test_training_on_from_a_model_keeps_its_chroma_step(tmp_path) -> None:
    from engine.cli.training import _init_finishing

    torch.manual_seed(0)
    model = create_model("fast", widths=(4, 6, 8), encoder_convs=(1, 1, 1), decoder_convs=(1, 1))
    path = tmp_path / "init.safetensors"
    card = ModelCard(name="init", architecture="fast", config=model.config, smooths_chroma=True)
    save_model(model, card, path)
    assert _init_finishing(str(path)) == (False, True)


def test_a_card_that_smooths_chroma_gets_the_frames_level_for_its_gate(tmp_path) -> None:
    # A network without the noise input still needs the level: without it the step would run
    # ungated, which greys colour that changes without the luminance.
    torch.manual_seed(0)
    model = create_model("baseline", base_features=4)
    path = tmp_path / "plain-baseline.safetensors"
    card = ModelCard(name="b", architecture="baseline", config=model.config, smooths_chroma=True)
    save_model(model, card, path)
    enhancer = Enhancer(str(path), device="cpu", precision="fp32")
    assert not enhancer.takes_noise and enhancer.smooths_chroma and enhancer.needs_level
    srgb = ModelCard(name="s", architecture="baseline", output_space="srgb", smooths_chroma=True)
    assert srgb.finishing == Finishing()  # the steps work in linear camera RGB only


def test_finishing_refuses_a_restoration_without_its_source() -> None:
    out = torch.zeros(3, 8, 8)
    with pytest.raises(ValueError, match="source"):
        finish_output(out, Finishing(restores_detail=True), NoiseLevel(1e-4, 1e-6), 1.0, GAINS)
