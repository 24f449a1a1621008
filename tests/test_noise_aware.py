"""Noise-aware networks end to end: training inputs, the synthetic recipe, the app's render."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.io import read_raw
from engine.models import ModelCard, create_model, save_model
from engine.noise import PROFILES, NoiseLevel
from engine.render import Enhancer, demosaic_planes, pack_rggb, pad_frame_border
from engine.train import SyntheticPairSource, TrainConfig, synthesise_pair, train
from engine.train.batches import make_batch
from tests.conftest import smooth_scene

TINY_FAST = {"widths": [4, 6, 8], "encoder_convs": [1, 1, 1], "decoder_convs": [1, 1]}


class _Photos:
    def __init__(self) -> None:
        self.photos = [smooth_scene(64, 64, seed) ** (1 / 2.2) for seed in range(3)]

    def __len__(self) -> int:
        return 3

    def sample(self, rng: np.random.Generator):
        return synthesise_pair(self.photos[int(rng.integers(3))], rng, ratio=50.0)


def test_synthetic_pairs_know_their_true_noise_and_the_map_follows_it() -> None:
    pair = _Photos().sample(np.random.default_rng(0))
    assert isinstance(pair.noise, NoiseLevel) and pair.noise.gain > 0
    x = pair.network_input(pair.noise)
    assert x.shape == (8, 32, 32) and x.dtype == np.float32
    packed, sigma = x[:4], x[4:]
    np.testing.assert_array_equal(packed, pair.network_input())
    # The map is the level's sigma of the local signal: brighter pixels are noisier.
    bright, dark = packed.mean(axis=0) > 0.5, packed.mean(axis=0) < 0.2
    if bright.any() and dark.any():
        assert sigma.mean(axis=0)[bright].mean() > sigma.mean(axis=0)[dark].mean()


def test_batches_carry_the_noise_map_only_for_noise_aware_models() -> None:
    rng = np.random.default_rng(1)
    assert make_batch(_Photos(), rng, 2).inputs.shape[1] == 4
    batch = make_batch(_Photos(), rng, 2, noise_input=True)
    assert batch.inputs.shape[1] == 8
    assert torch.all(batch.inputs[:, 4:] > 0) and torch.all(batch.inputs[:, 4:] <= 1)
    # A model that starts from the demosaic gets the one the app would give it.
    batch = make_batch(_Photos(), rng, 2, noise_input=True, demosaic_input=True)
    assert batch.inputs.shape[1] == 20
    x = batch.inputs[1].numpy()
    np.testing.assert_allclose(x[8:], demosaic_planes(x[:4]), atol=1e-6)


def test_a_noise_aware_model_trains_and_lowers_its_loss() -> None:
    config = TrainConfig(variant="fast", model_config=TINY_FAST, iterations=60, lr=1e-2,
                         device="cpu", precision="fp32", seed=0)  # fmt: skip
    result = train(config, _Photos())
    assert result.model.noise_input and result.model.in_channels == 20
    assert np.mean(result.losses[-10:]) < 0.8 * np.mean(result.losses[:10])


def test_the_recipe_draws_wide_ratios_and_near_clean_pairs(tmp_path: Path) -> None:
    import imageio.v3 as iio

    path = tmp_path / "p.png"
    iio.imwrite(path, (smooth_scene(64, 64, 0) * 255).astype(np.uint8))
    source = SyntheticPairSource([path], crop=64, ratio_range=(1.0, 300.0), clean_fraction=0.2)
    rng = np.random.default_rng(2)
    pairs = [source.sample(rng) for _ in range(200)]
    ratios = np.array([p.ratio for p in pairs])
    assert ratios.min() >= 1.0 and ratios.max() <= 300.0
    assert (ratios < 4).mean() > 0.25  # x1-x4 is a real share (0.2 clean + log-uniform's 0.24)
    clean = [p for p in pairs if p.ratio == 1.0]
    assert 20 < len(clean) < 70
    lowest = {round(p.k_min / p.dn_range, 12) for p in PROFILES.values()}
    assert all(round(p.noise.gain, 12) in lowest for p in clean)  # each profile's lowest gain


def test_the_app_gives_a_noise_aware_model_its_map(make_dng, tmp_path: Path, monkeypatch) -> None:
    """The Enhancer measures the frame's level once and hands the 20-plane input over (mosaic,
    noise map, demosaic); a binned preview's map is scaled down with the averaging and its
    demosaic is the binned mosaic's."""
    model = create_model("fast", **TINY_FAST)
    weights = tmp_path / "tiny_fast.safetensors"
    save_model(model, ModelCard(name="tiny_fast", architecture="fast", config=model.config),
               weights)  # fmt: skip
    frame = read_raw(make_dng("n.dng", height=96, width=128, ratio=20.0))
    enhancer = Enhancer(str(weights), device="cpu")
    seen: list[np.ndarray] = []
    run, border, multiple = enhancer.runner.run, enhancer.runner.border, enhancer.runner.multiple

    def record(x: np.ndarray, *args: object, frame_size: tuple[int, int], **kw: object):
        # The input comes mirrored outwards for the runner; the frame is its interior.
        height, width = frame_size
        seen.append(x[:, border : border + height, border : border + width])
        expected = pad_frame_border(np.ascontiguousarray(seen[-1]), border, multiple)
        np.testing.assert_array_equal(x, expected)
        return run(x, *args, frame_size=frame_size, **kw)

    monkeypatch.setattr(enhancer.runner, "run", record)
    out = enhancer.render(frame, 20.0)
    assert out.srgb.shape == (96, 128, 3) and np.isfinite(out.srgb).all()
    assert seen[-1].shape == (20, 48, 64)
    level = enhancer.noise_level(frame)
    assert enhancer.noise_level(frame) is level  # measured once per frame
    packed, _ = pack_rggb(frame, 20.0)
    np.testing.assert_allclose(seen[-1][4:8], level.sigma_map(packed, 20.0), rtol=1e-6)
    np.testing.assert_allclose(seen[-1][8:], demosaic_planes(packed), atol=1e-6)
    enhancer.render_preview(frame, 20.0, max_side=32)
    binned = seen[-1]
    assert binned.shape[0] == 20 and binned.shape[1] < 48
    assert binned[4:8].mean() < 0.6 * seen[0][4:8].mean()  # 4x4 bins: a quarter of the noise
    np.testing.assert_allclose(binned[8:], demosaic_planes(binned[:4]), atol=1e-6)


def test_old_cards_build_models_without_noise_input() -> None:
    lite = create_model("lite", base_features=4)
    assert not lite.noise_input and lite.in_channels == 4
    plain = create_model("fast", noise_input=False, base="bilinear", **TINY_FAST)
    assert plain.in_channels == 4 and not plain.demosaic_input


@pytest.mark.parametrize("bad", ["1", "0:300", "300:10", "a:b"])
def test_train_refuses_bad_ratio_ranges(bad: str, capsys) -> None:
    from engine.cli import main

    code = main(["train", "--variant", "fast", "--data", ".", "--iterations", "1",
                 "--out", "/tmp/never.safetensors", "--ratios", bad])  # fmt: skip
    assert code != 0 and "--ratios" in capsys.readouterr().err


def test_demosaic_planes_are_the_classical_demosaic_space_to_depthed() -> None:
    from engine.render import demosaic
    from engine.render.packing import RGGB, unpack_bayer

    packed = np.random.default_rng(3).random((4, 20, 24), dtype=np.float32)
    rggb_mosaic = unpack_bayer(packed, RGGB)
    planes = torch.from_numpy(demosaic_planes(packed))[None]
    back = torch.nn.functional.pixel_shuffle(planes, 2)[0].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(back, demosaic(rggb_mosaic, "RGGB"))
    assert rggb_mosaic[1, 1] == packed[2, 0, 0]  # blue at the bottom right
