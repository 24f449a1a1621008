"""Fine detail back from the classical render where it stands above the noise
(:func:`engine.render.restore_detail`), and the renders of a model whose card asks for it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.evaluate.metrics import hf_energy_ratio
from engine.io import read_raw
from engine.models import Finishing, ModelCard, create_model, save_model
from engine.noise import NoiseLevel
from engine.render import DETAIL_WINDOW, Enhancer, restore_detail
from engine.render.detail import DEMOSAIC_NOISE, DETAIL_LIMIT, DETAIL_RADIUS

GAINS = np.array([2.0, 1.0, 1.6], np.float32)
LEVEL = NoiseLevel(gain=1e-4, floor=1e-6)


def _balanced_residual(field: np.ndarray) -> torch.Tensor:
    """A ``(3, H, W)`` camera-RGB difference whose white-balanced channels all equal ``field``."""
    return torch.from_numpy((field[None] / GAINS[:, None, None]).astype(np.float32))


def test_noise_alone_mostly_stays_out() -> None:
    # A flat grey whose classical render differs from the network by noise of exactly the
    # expected size: a local Wiener weight returns little of it.
    network = torch.full((3, 256, 256), 0.2)
    noise_sd = float(np.sqrt(np.mean((GAINS * LEVEL.sigma(0.2, 1.0)) ** 2)))
    field = np.random.default_rng(0).normal(0.0, noise_sd, (256, 256))
    classical = network + _balanced_residual(field)
    out = restore_detail(network.clone(), classical, LEVEL, 1.0, GAINS)
    returned = ((out - network) * torch.from_numpy(GAINS)[:, None, None]).std().item()
    assert returned < 0.4 * noise_sd


def test_texture_above_the_noise_comes_back() -> None:
    y, x = np.mgrid[0:128, 0:128]
    texture = 0.05 * np.sin(x * 1.3) * np.sin(y * 0.9)
    network = torch.full((3, 128, 128), 0.3)
    classical = network + _balanced_residual(texture)
    quiet = NoiseLevel(gain=1e-7, floor=1e-9)  # noise 0.0003 at this grey: far below it
    out = restore_detail(network.clone(), classical, quiet, 1.0, GAINS)
    assert (out - classical).abs().max().item() < 0.05 * 0.05
    # At LEVEL's noise (0.0085 balanced) most of it still returns, less where it is faint.
    out = restore_detail(network.clone(), classical, LEVEL, 1.0, GAINS)
    lost = classical - network
    kept = float(((out - network) * lost).sum() / (lost**2).sum())
    assert 0.8 < kept < 1.0


@pytest.mark.parametrize("size", [1, 2])
def test_a_lone_outlier_makes_no_black_or_white_speck(size: int) -> None:
    # A pixel of read noise's heavy tail (or the 2x2 cluster the demosaic spreads it into), far
    # above the level: the window's energy stands above the noise, so without a limit it would
    # come back as a black (or white) speck. Its own weight is too small a share of the square
    # around it to lift the limit.
    network = torch.full((3, 21, 21), 0.05)
    for sign in (-1.0, 1.0):
        field = np.zeros((21, 21))
        field[10 : 10 + size, 10 : 10 + size] = sign * 0.2
        out = restore_detail(network.clone(), network + _balanced_residual(field), LEVEL, 1.0,
                             GAINS)  # fmt: skip
        balanced = torch.from_numpy(GAINS)
        ratio = float((balanced * out[:, 10, 10]).sum() / (balanced * network[:, 10, 10]).sum())
        assert 1 / DETAIL_LIMIT - 1e-5 <= ratio <= DETAIL_LIMIT + 1e-5
        assert ratio < 0.7 if sign < 0 else ratio > 1.4  # limited, not dropped


def test_the_limit_is_lifted_inside_texture() -> None:
    # Dark texture far above the noise all around: it hides a speck, so it comes back whole,
    # beyond the limit (a dark gap between leaves is darker than 1 / DETAIL_LIMIT of the
    # network's smooth guess).
    y, x = np.mgrid[0:64, 0:64]
    texture = 0.06 * np.sign(np.sin(x * 0.9) * np.sin(y * 1.1))
    network = torch.full((3, 64, 64), 0.05)
    classical = network + _balanced_residual(texture)
    out = restore_detail(network.clone(), classical, LEVEL, 1.0, GAINS)
    balanced = torch.from_numpy(GAINS)[:, None, None]
    ratio = (balanced * out).sum(0) / (balanced * network).sum(0)
    inner = ratio[16:48, 16:48]  # away from the mirrored borders
    assert inner.min().item() < 0.5 and inner.max().item() > 1.6  # past 1 / 1.5 and 1.5
    lost = (classical - network)[:, 16:48, 16:48]
    kept = float(((out - network)[:, 16:48, 16:48] * lost).sum() / (lost**2).sum())
    assert kept > 0.9


def test_x_trans_keeps_the_limit_inside_texture() -> None:
    # LibRaw's X-Trans interpolation spreads an outlier wider than the texture test above can
    # tell from texture: X-Trans frames keep the limit everywhere, and get exactly the limited
    # change (the same texture, the same limit).
    y, x = np.mgrid[0:64, 0:64]
    texture = 0.06 * np.sign(np.sin(x * 0.9) * np.sin(y * 1.1))
    network = torch.full((3, 64, 64), 0.05)
    classical = network + _balanced_residual(texture)
    out = restore_detail(network.clone(), classical, LEVEL, 1.0, GAINS, "x-trans")
    balanced = torch.from_numpy(GAINS)[:, None, None]
    ratio = (balanced * out).sum(0) / (balanced * network).sum(0)
    assert ratio.min().item() >= 1 / DETAIL_LIMIT - 1e-5
    assert ratio.max().item() <= DETAIL_LIMIT + 1e-5
    assert ratio.min().item() < 1 / DETAIL_LIMIT + 0.01  # limited, not dropped
    assert ratio.max().item() > DETAIL_LIMIT - 0.01
    # Each channel by the luminance change over its gain: neutral, as on Bayer frames.
    change = (out - network) * balanced
    assert torch.allclose(change[0], change[1], atol=1e-6)


def test_x_trans_renders_count_their_demosaics_larger_noise() -> None:
    # A difference whose energy is 1.15x the rule's noise: above it for DHT's renders (a little
    # returns), below DEMOSAIC_NOISE's 1.3x for X-Trans renders (nothing returns).
    assert DEMOSAIC_NOISE["bayer"] == 1.0 and DEMOSAIC_NOISE["x-trans"] > 1.15
    network = torch.full((3, 64, 64), 0.2)
    variance = float(np.mean(GAINS**2 * LEVEL.variance(0.2, 1.0)))
    field = np.where(np.indices((64, 64)).sum(0) % 2 == 0, 1.0, -1.0) * np.sqrt(1.15 * variance)
    classical = network + _balanced_residual(field)
    bayer = restore_detail(network.clone(), classical, LEVEL, 1.0, GAINS, "bayer")
    x_trans = restore_detail(network.clone(), classical, LEVEL, 1.0, GAINS, "x-trans")
    assert (bayer - network).abs().max().item() > 1e-3
    assert (x_trans - network).abs().max().item() == 0.0


def test_restored_detail_is_neutral_after_white_balance() -> None:
    # Colour in the difference (chroma noise, a colour fringe) never returns: what is added is
    # the same in every white-balanced channel.
    rng = np.random.default_rng(1)
    network = torch.from_numpy(rng.uniform(0.1, 0.5, (3, 40, 50)).astype(np.float32))
    classical = network + torch.from_numpy(rng.normal(0.0, 0.05, (3, 40, 50)).astype(np.float32))
    out = restore_detail(network.clone(), classical, LEVEL, 1.0, GAINS)
    added = ((out - network) * torch.from_numpy(GAINS)[:, None, None]).numpy()
    assert np.abs(added).max() > 1e-3  # something came back...
    np.testing.assert_allclose(added[0], added[1], atol=1e-6)  # ...the same in each channel
    np.testing.assert_allclose(added[2], added[1], atol=1e-6)


def test_no_difference_changes_nothing_in_place() -> None:
    network = torch.rand(3, 7, 9)
    before = network.clone()
    out = restore_detail(network, network.clone(), LEVEL, 4.0, np.append(GAINS, 1.0))
    assert out is network and out.shape == (3, 7, 9) and out.dtype == torch.float32
    assert torch.equal(out, before)


def test_the_restoration_reads_only_its_neighbourhood() -> None:
    # A pixel's result depends on the difference within DETAIL_RADIUS pixels only (what a
    # preview region's extra context is sized by): its energy window, and the texture square
    # around it that lifts the limit. Here: differences about as large as the noise, so the
    # texture square is partly lifted, and spikes on rows 19 and 20 that pass the limit.
    rng = np.random.default_rng(2)
    network = torch.full((3, 41, 41), 0.05)
    field = rng.normal(0, 0.005, (41, 41))
    field[19:21, ::3] = 0.1
    classical = network + _balanced_residual(field)
    out = restore_detail(network.clone(), classical, LEVEL, 1.0, GAINS)
    far = classical.clone()
    far[:, : 20 - DETAIL_RADIUS] += 0.1  # every row above what row 20 reads
    moved = restore_detail(network.clone(), far, LEVEL, 1.0, GAINS)
    assert torch.equal(out[:, 20], moved[:, 20])
    assert not torch.equal(out[:, 19], moved[:, 19])  # it reads one row further
    assert DETAIL_RADIUS > DETAIL_WINDOW // 2


@pytest.fixture(scope="module")
def tiny_fast_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same narrow ``fast`` weights twice: a card without detail restoration and one
    with it."""
    torch.manual_seed(0)
    model = create_model("fast", widths=(4, 6, 8, 10, 12))
    folder = tmp_path_factory.mktemp("models")
    paths = []
    for restores in (False, True):
        path = folder / f"tiny-{restores}.safetensors"
        card = ModelCard(name=path.stem, architecture="fast", config=model.config,
                         restores_detail=restores)  # fmt: skip
        save_model(model, card, path)
        paths.append(path)
    return paths[0], paths[1]


def test_a_detail_card_renders_more_of_the_scene_texture(
    make_dng, tiny_fast_pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Grey 4-pixel blocks at x1 with little noise: an untrained network smooths their edges
    # (its gate keeps part of the demosaic), the restoration brings the demosaic's edges back.
    # Both renders are told the true noise level: on a frame this small and this clean the
    # level found on the frame reads the edges as noise (the estimator's known bias, see
    # docs/noise.md), which would leave nothing above it to restore.
    true_level = NoiseLevel(gain=1e-9, floor=(1.0 / (16383 - 512)) ** 2)
    monkeypatch.setattr(Enhancer, "noise_level", lambda self, frame: true_level)
    blocks = np.random.default_rng(3).uniform(0.15, 0.6, (24, 32)).astype(np.float32)
    scene = np.repeat(np.kron(blocks, np.ones((4, 4), np.float32))[..., None], 3, axis=2)
    path = make_dng("texture.dng", height=96, width=128, ratio=1.0, noise=1.0, scene=scene)
    frame = read_raw(path)
    plain, detailed = (Enhancer(str(p), device="cpu", precision="fp32") for p in tiny_fast_pair)
    assert detailed.restores_detail and not plain.restores_detail
    classical = Enhancer("none", device="cpu").render(frame, 1.0).srgb
    smooth = plain.render(frame, 1.0).srgb
    restored = detailed.render(frame, 1.0).srgb
    assert hf_energy_ratio(restored, classical) > hf_energy_ratio(smooth, classical) + 0.1
    # Amount 0 is still exactly the classical render.
    assert np.array_equal(detailed.render(frame, 1.0, amount=0.0).srgb, classical)
    # A binned preview has no full-resolution texture to restore: both cards preview alike.
    a = plain.render_preview(frame, 1.0, max_side=40).srgb
    b = detailed.render_preview(frame, 1.0, max_side=40).srgb
    assert np.array_equal(a, b)


def test_restoring_is_reported_and_can_be_cancelled(make_dng, tiny_fast_pair) -> None:
    # The restoration takes seconds at 12 MP after the network's last tile: the progress says
    # what is going on, and a cancel during it stops the render.
    from engine.errors import Cancelled
    from engine.jobs import CancelToken

    frame = read_raw(make_dng("small.dng", height=64, width=96, ratio=4.0, noise=2.0))
    enhancer = Enhancer(str(tiny_fast_pair[1]), device="cpu", precision="fp32")
    messages: list[str] = []
    enhancer.render(frame, 4.0, lambda done, total, message: messages.append(message))
    assert messages[-1] == "restoring detail"
    token = CancelToken()

    def cancel_when_restoring(done: int, total: int, message: str) -> None:
        if message == "restoring detail":
            token.cancel()

    with pytest.raises(Cancelled):
        enhancer.render(frame, 4.0, cancel_when_restoring, token)


def test_cancel_during_the_second_demosaic_skips_the_restoration(
    make_dng, tiny_fast_pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The classical render the restoration reads takes 2 s at 12 MP: a cancel that arrives
    # while it is made stops the render before the restoration's own second.
    import engine.render.pipeline as pipeline
    from engine.errors import Cancelled
    from engine.jobs import CancelToken

    frame = read_raw(make_dng("small.dng", height=64, width=96, ratio=4.0, noise=2.0))
    enhancer = Enhancer(str(tiny_fast_pair[1]), device="cpu", precision="fp32")
    assert not enhancer.runner.model.demosaic_below_black  # so it demosaics a second time
    token = CancelToken()
    real_classical, restored = pipeline.classical_of, []

    def classical_then_cancel(job):
        image = real_classical(job)
        token.cancel()
        return image

    monkeypatch.setattr(pipeline, "classical_of", classical_then_cancel)
    import engine.render.finishing as finishing_steps

    monkeypatch.setattr(finishing_steps, "restore_detail", lambda *args: restored.append(1))
    with pytest.raises(Cancelled):
        enhancer.render(frame, 4.0, lambda *progress: None, token)
    assert restored == []


def test_fine_tune_validation_scores_the_restored_render(
    tiny_fast_pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fine-tune of a model that restores detail is saved restoring it too: its validation
    # (early stopping, keeping the base) scores that render, the app's own.
    import engine.render.finishing as finishing_steps
    from engine.evaluate import psnr
    from engine.finetune.data import Validation
    from engine.models import load_model
    from engine.train import synthesise_pair

    def blocks(seed: int) -> np.ndarray:  # sharp edges the untrained network softens
        grid = np.random.default_rng(seed).uniform(0.1, 0.7, (12, 16, 3)).astype(np.float32)
        return np.kron(grid, np.ones((8, 8, 1), np.float32))

    pairs = [synthesise_pair(blocks(s), np.random.default_rng(s), ratio=4.0) for s in range(2)]
    model, _ = load_model(tiny_fast_pair[1])
    cpu = torch.device("cpu")
    calls: list[tuple[object, float]] = []

    def spy(network, classical, level, ratio, wb_gains, sensor):  # type: ignore[no-untyped-def]
        calls.append((level, ratio, sensor))
        return restore_detail(network, classical, level, ratio, wb_gains, sensor)

    monkeypatch.setattr(finishing_steps, "restore_detail", spy)  # what the validation calls
    plain = Validation.build(pairs, side=128, label="plain").scores(model, cpu)
    assert calls == []
    validation = Validation.build(pairs, side=128, label="detail",
                                 finishing=Finishing(restores_detail=True))  # fmt: skip
    restored = validation.scores(model, cpu)
    assert calls == [(crop.noise, crop.ratio, "bayer") for crop in validation.crops]
    app = Enhancer(str(tiny_fast_pair[1]), device="cpu", precision="fp32")
    for crop, reference, score, before in zip(
        validation.crops, validation.references, restored, plain, strict=True
    ):
        shown = psnr(app.render(crop.dark, crop.ratio).srgb, reference)
        # Closer to the app's render than the unrestored score is (the app also fades
        # near-clipped highlights, which validation leaves out: not exactly equal).
        assert abs(score - shown) < 0.5 * abs(before - shown)


def test_training_on_from_a_model_keeps_its_restoration(tmp_path: Path, tiny_fast_pair) -> None:
    from engine.cli.training import _init_finishing

    assert _init_finishing(str(tiny_fast_pair[1]))[0] is True
    assert _init_finishing(str(tiny_fast_pair[0]))[0] is False
    assert _init_finishing(None)[0] is False
    bare = tmp_path / "bare.safetensors"
    bare.write_bytes(tiny_fast_pair[1].read_bytes())  # weights without a card beside them
    assert _init_finishing(str(bare))[0] is False
