"""A network given the demosaic with the noise below black kept (``base_below_black``): what
it is given in training and in use, and the render reading that demosaic back for the detail it
restores instead of demosaicking the frame a second time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import ModelError
from engine.io import read_raw
from engine.models import ModelCard, create_model, save_model
from engine.render import (
    NOISE_FLOOR,
    Enhancer,
    classical_linear,
    network_channels,
    pack_rggb,
)
from engine.render import finishing as finishing_steps
from engine.render import pipeline as render_pipeline
from engine.render.inputs import demosaic_of_input
from engine.train import TrainingPair, to_rggb


@pytest.fixture(scope="module")
def below_black_fast(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A narrow ``fast`` network that takes its demosaic below black and restores detail."""
    torch.manual_seed(0)
    model = create_model("fast", widths=(4, 6, 8, 10, 12), base_below_black=True)
    path = tmp_path_factory.mktemp("models") / "below-black.safetensors"
    card = ModelCard(name=path.stem, architecture="fast", config=model.config,
                     restores_detail=True)  # fmt: skip
    save_model(model, card, path)
    return path


def test_the_option_is_in_the_card_only_when_set() -> None:
    plain = create_model("fast", widths=(4, 6, 8, 10, 12))
    assert "base_below_black" not in plain.config and not plain.demosaic_below_black
    below = create_model("fast", widths=(4, 6, 8, 10, 12), base_below_black=True)
    assert below.config["base_below_black"] is True and below.demosaic_below_black
    # The same weights load into either: only what the runner feeds them differs.
    below.load_state_dict(plain.state_dict(), strict=True)
    for config in ({"base": "bilinear"}, {"sensor": "x-trans"}):
        with pytest.raises(ModelError, match="base_below_black"):
            create_model("fast", widths=(4, 6, 8, 10, 12), base_below_black=True, **config)


#: A dark grey whose noise at x50 reaches well below black.
DARK = {"ratio": 50.0, "noise": 20.0, "scene": np.full((64, 96, 3), 0.02, np.float32)}


def test_the_input_demosaic_keeps_the_noise_below_black(make_dng) -> None:
    frame = read_raw(make_dng("dark.dng", height=64, width=96, **DARK))
    unclipped, _ = pack_rggb(frame, 50.0, clip=False)
    packed = np.clip(unclipped, 0.0, 1.0)
    below = np.clip(unclipped, -NOISE_FLOOR, 1.0)
    clipped = network_channels(packed, 50.0, demosaic=True)
    kept = network_channels(packed, 50.0, demosaic=True, below_black=below)
    np.testing.assert_array_equal(kept[:4], clipped[:4])  # the mosaic planes stay in [0, 1]
    assert clipped[4:].min() >= 0.0
    assert kept[4:].min() < -0.05  # the dark noise's lower half is there
    # Read back at full resolution, it is the classical render's own demosaic, pixel for
    # pixel (an RGGB frame is packed without mirroring).
    border = 8
    x = network_channels(packed, 50.0, demosaic=True, below_black=below, border=border,
                         multiple=16)  # fmt: skip
    back = demosaic_of_input(x, border, *packed.shape[1:])
    classical = classical_linear(frame, 50.0, keep_negative=True).transpose(2, 0, 1)
    np.testing.assert_array_equal(back.numpy(), classical)


def test_a_training_pair_gives_what_the_app_gives(make_dng) -> None:
    frame = read_raw(make_dng("pair.dng", height=64, width=96, cfa="GBRG", **DARK))
    target = np.zeros((64, 96, 3), np.float32)
    pair = to_rggb(TrainingPair("p", frame, 50.0, target))
    x = pair.network_input(demosaic=True, below_black=True)
    unclipped, mirror = pack_rggb(pair.dark, 50.0, clip=False)
    assert not any(mirror)
    expected = network_channels(np.clip(unclipped, 0.0, 1.0), 50.0, demosaic=True,
                                below_black=np.clip(unclipped, -NOISE_FLOOR, 1.0))  # fmt: skip
    np.testing.assert_array_equal(x, expected)
    assert x[4:].min() < 0.0 <= pair.network_input(demosaic=True)[4:].min()


def test_restoring_reads_the_input_demosaic_back(
    make_dng, below_black_fast, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At Amount 100 % the restored detail comes from the network's own input: the frame is
    # not demosaicked a second time, and the source is the classical render's pixels.
    seen: list[torch.Tensor] = []
    restore = finishing_steps.restore_detail

    def spy(out, source, *args):  # type: ignore[no-untyped-def]
        seen.append(source.clone())
        return restore(out, source, *args)

    def no_second_demosaic(job):  # type: ignore[no-untyped-def]
        raise AssertionError("the classical render was made again")

    monkeypatch.setattr(finishing_steps, "restore_detail", spy)  # what the render calls
    monkeypatch.setattr(render_pipeline, "classical_of", no_second_demosaic)
    frame = read_raw(make_dng("frame.dng", height=64, width=96, ratio=20.0, noise=3.0))
    enhancer = Enhancer(str(below_black_fast), device="cpu", precision="fp32")
    assert enhancer.restores_detail
    restored = enhancer.render(frame, 20.0)
    classical = classical_linear(frame, 20.0, keep_negative=True).transpose(2, 0, 1)
    np.testing.assert_array_equal(seen[0].numpy(), classical)
    assert np.isfinite(restored.srgb).all()
    # Below 100 % the blend is with the classical render itself, which is then made.
    monkeypatch.undo()
    half = enhancer.render(frame, 20.0, amount=0.5).srgb
    none = Enhancer("none", device="cpu").render(frame, 20.0).srgb
    assert np.abs(half - none).mean() < np.abs(restored.srgb - none).mean()


def test_such_a_network_trains_on_the_input_it_will_be_given() -> None:
    from engine.train import TrainConfig, synthesise_pair, train
    from engine.train.batches import make_batch
    from tests.conftest import smooth_scene

    class DarkPhotos:
        def __init__(self) -> None:
            self.photos = [smooth_scene(64, 64, seed) ** 2 * 0.2 for seed in range(2)]

        def __len__(self) -> int:
            return 2

        def sample(self, rng: np.random.Generator) -> TrainingPair:
            return synthesise_pair(self.photos[int(rng.integers(2))], rng, ratio=100.0)

    rng = np.random.default_rng(0)
    kept = make_batch(DarkPhotos(), rng, 2, noise_input=True, demosaic_input=True,
                      below_black=True)  # fmt: skip
    assert kept.inputs[:, 8:].min() < 0.0 <= kept.inputs[:, :4].min()
    tiny = {"widths": [4, 6, 8], "encoder_convs": [1, 1, 1], "decoder_convs": [1, 1]}
    config = TrainConfig(variant="fast", iterations=2, device="cpu", precision="fp32", seed=0,
                         model_config={**tiny, "base_below_black": True})  # fmt: skip
    result = train(config, DarkPhotos())
    assert result.model.demosaic_below_black and len(result.losses) == 2
