"""Trainer and pair synthesis on tiny data (seconds on a CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import Cancelled, DarkroomError
from engine.io import RawFrame, cfa_from_name
from engine.jobs import CancelToken
from engine.render import pack_bayer
from engine.train import (
    TrainConfig,
    TrainingPair,
    crop_sides,
    flip_pair,
    synthesise_pair,
    to_rggb,
    train,
)
from tests.conftest import LAYOUTS, smooth_scene

TINY = {"base_features": 4, "levels": 2}


class _Photos:
    """A pair source over a few fixed synthetic photos (64 x 64)."""

    def __init__(self, n: int = 3) -> None:
        self.photos = [smooth_scene(64, 64, seed) ** (1 / 2.2) for seed in range(n)]

    def __len__(self) -> int:
        return len(self.photos)

    def sample(self, rng: np.random.Generator) -> TrainingPair:
        photo = self.photos[int(rng.integers(len(self.photos)))]
        return synthesise_pair(photo, rng, ratio=20.0)


def test_synthesised_pair_is_consistent() -> None:
    rng = np.random.default_rng(0)
    pair = synthesise_pair(smooth_scene(32, 48) ** (1 / 2.2), rng, ratio=100.0)
    assert pair.dark.mosaic.shape == (32, 48) and pair.target.shape == (32, 48, 3)
    x = to_rggb(pair).network_input()
    assert x.shape == (4, 16, 24) and 0.0 <= x.min() and x.max() <= 1.0
    # Amplified dark input approximates the clean target (plus noise) on average.
    clean_packed = pack_bayer(pair.dark, pair.ratio, clip=False).mean()
    assert abs(clean_packed - pair.target.mean()) < 0.1


@pytest.mark.parametrize("cfa", LAYOUTS)
@pytest.mark.parametrize("flips", [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 1)])
def test_flips_keep_colours_on_their_pixels(cfa: str, flips: tuple[int, int, int]) -> None:
    # A mosaic whose every pixel holds its own colour's value of a known RGB image: after any
    # flip, packing must still find red values in R, green in G, blue in B.
    rgb = np.random.default_rng(1).random((8, 10, 3)).astype(np.float32)
    pattern = cfa_from_name(cfa)
    idx = np.tile(pattern, (4, 5))
    mosaic = np.take_along_axis(rgb, idx[..., None].astype(np.intp), axis=2)[..., 0]
    frame = RawFrame(mosaic=mosaic, cfa_pattern=pattern, black_level=np.zeros((2, 2), np.float32),
                     white_level=1.0, wb_gains=np.ones(3, np.float32),
                     cam_to_srgb=np.eye(3, dtype=np.float32))  # fmt: skip
    flipped = flip_pair(TrainingPair("t", frame, 1.0, rgb), *map(bool, flips))
    packed = pack_bayer(flipped.dark, clip=False)
    target = flipped.target
    from engine.render import packed_positions

    for ch, colour in enumerate((0, 1, 2, 1)):
        dy, dx = packed_positions(flipped.dark.cfa_pattern)[ch]
        np.testing.assert_allclose(packed[ch], target[dy::2, dx::2, colour])


@pytest.mark.parametrize(
    ("height", "width", "crop", "xtrans", "sides"),
    [
        (600, 700, 512, False, (512, 512)),
        (301, 513, 512, False, (300, 512)),  # odd sides made even
        (600, 700, 500, True, (492, 492)),  # whole 12-pixel steps
        (30, 95, 512, True, (24, 84)),
        (11, 40, 512, True, (6, 36)),  # under 12: whole 6-pixel periods
    ],
)
def test_crop_sides_are_whole_cfa_periods_and_packed_pixels(
    height: int, width: int, crop: int, xtrans: bool, sides: tuple[int, int]
) -> None:
    assert crop_sides(height, width, crop, xtrans=xtrans) == sides


@pytest.mark.parametrize("loss_space", ["srgb", "linear"])
def test_short_training_lowers_the_loss(loss_space: str) -> None:
    config = TrainConfig(variant="baseline", model_config=TINY, iterations=60, batch_size=2,
                         lr=3e-3, device="cpu", seed=0, loss_space=loss_space)  # fmt: skip
    result = train(config, _Photos())
    first, last = np.mean(result.losses[:10]), np.mean(result.losses[-10:])
    assert last < 0.8 * first, (first, last)


def test_checkpoint_resume_continues_the_same_run(tmp_path: Path) -> None:
    ckpt = tmp_path / "run.ckpt"
    base = dict(variant="baseline", model_config=TINY, batch_size=1, device="cpu", seed=3)
    straight = train(TrainConfig(iterations=8, **base), _Photos())
    token = CancelToken()

    def stop_at_5(p) -> None:
        if p.iteration == 5:
            token.cancel()

    with pytest.raises(Cancelled):
        train(TrainConfig(iterations=8, checkpoint_path=str(ckpt), **base), _Photos(),
              progress=stop_at_5, cancel=token)  # fmt: skip
    assert ckpt.is_file() and not list(tmp_path.glob("*part"))
    resumed = train(TrainConfig(iterations=8, checkpoint_path=str(ckpt), **base), _Photos())
    assert resumed.iterations == 8
    np.testing.assert_allclose(resumed.losses, straight.losses, rtol=1e-4)
    for a, b in zip(resumed.model.parameters(), straight.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_uunet_trains_second_net_only(tmp_path: Path) -> None:
    from engine.models import ModelCard, create_model, save_model

    base = create_model("baseline", **TINY)
    base_path = tmp_path / "base.safetensors"
    save_model(base, ModelCard(name="b", architecture="baseline", config=base.config), base_path)
    config = TrainConfig(variant="uunet", model_config={**TINY, "second_base_features": 4},
                         iterations=3, device="cpu", base_weights=str(base_path))  # fmt: skip
    result = train(config, _Photos())
    first = result.model.first.state_dict()
    for key, value in base.state_dict().items():
        torch.testing.assert_close(first[key], value.half().float())


def test_gan_step_runs() -> None:
    config = TrainConfig(variant="gan", model_config=TINY, iterations=2, device="cpu",
                         disc_config={"base_features": 8, "levels": 2})  # fmt: skip
    result = train(config, _Photos())
    assert len(result.losses) == 2 and all(np.isfinite(result.losses))


def test_srgb_loss_compares_developed_images() -> None:
    from engine.render import develop_numpy
    from engine.train import make_batch, training_loss

    photos = _Photos(2)
    pairs = [photos.sample(np.random.default_rng(seed)) for seed in (1, 2)]
    feed = iter(pairs)
    pairs = [to_rggb(p) for p in pairs]  # what the batch holds

    class _Fixed(_Photos):
        def sample(self, rng: np.random.Generator) -> TrainingPair:
            return next(feed)

    batch = make_batch(_Fixed(), np.random.default_rng(0), 2)
    out = batch.targets * 0.8
    loss, shown, wanted = training_loss(out, batch, "srgb")
    # The evaluation's development: each frame's own white balance and colour matrix.
    for i, pair in enumerate(pairs):
        expected = develop_numpy(pair.target * np.float32(0.8), pair.dark)
        np.testing.assert_allclose(shown[i].permute(1, 2, 0).numpy(), expected, atol=1e-5)
        np.testing.assert_allclose(
            wanted[i].permute(1, 2, 0).numpy(), develop_numpy(pair.target, pair.dark), atol=1e-5
        )
    assert loss.item() == pytest.approx((shown - wanted).abs().mean().item())
    linear, _, _ = training_loss(out, batch, "linear")
    assert linear.item() == pytest.approx((out - batch.targets).abs().mean().item())
    with pytest.raises(DarkroomError, match="loss space"):
        training_loss(out, batch, "lab")


def test_auto_training_precision_is_bf16_only_with_amx(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.device as device

    cpu = torch.device("cpu")
    monkeypatch.setattr(device, "cpu_has_amx_bf16", lambda: True)
    assert device.training_autocast_dtype(cpu) is torch.bfloat16
    monkeypatch.setattr(device, "cpu_has_amx_bf16", lambda: False)
    assert device.training_autocast_dtype(cpu) is None
    assert device.training_autocast_dtype(cpu, "bf16") is torch.bfloat16
    assert device.training_autocast_dtype(cpu, "fp32") is None


@pytest.mark.parametrize("variant", ["baseline", "gan"])
def test_bf16_training_computes_the_loss_outside_autocast(
    variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.train.trainer as training

    seen: list[tuple[bool, torch.dtype]] = []
    real_loss = training.training_loss

    def spy(out: torch.Tensor, batch, loss_space: str):
        seen.append((torch.is_autocast_enabled("cpu"), out.dtype))
        loss, shown, wanted = real_loss(out, batch, loss_space)
        assert loss.dtype == torch.float32
        return loss, shown, wanted

    monkeypatch.setattr(training, "training_loss", spy)
    disc = {"base_features": 8, "levels": 2}
    config = TrainConfig(variant=variant, model_config=TINY, iterations=2, device="cpu",
                         precision="bf16", disc_config=disc)  # fmt: skip
    result = train(config, _Photos())
    # The network ran in bf16, the loss did not.
    assert seen == [(False, torch.bfloat16)] * 2
    assert all(np.isfinite(result.losses))


def test_attention_warm_started_from_a_baseline_starts_as_that_baseline(tmp_path: Path) -> None:
    from engine.models import ModelCard, create_model, save_model
    from engine.train import warm_start

    torch.manual_seed(0)
    base = create_model("baseline", **TINY).eval()
    path = tmp_path / "base.safetensors"
    save_model(base, ModelCard(name="b", architecture="baseline", config=base.config), path,
               dtype=torch.float32)  # fmt: skip
    attention = create_model("attention", **TINY).eval()
    assert warm_start(attention, path) == len(base.state_dict())
    closed = create_model("attention", **TINY).eval()  # the same copy, gates left as built
    closed.load_state_dict({**closed.state_dict(), **base.state_dict()})
    x = torch.rand(1, 4, 16, 20)
    with torch.no_grad():
        want = base(x)
        opened_error = float((attention(x) - want).abs().max())
        closed_error = float((closed(x) - want).abs().max())
    # Open gates pass 98 % of each skip everywhere: the output stays the baseline's.
    assert opened_error < 0.1 * closed_error, (opened_error, closed_error)
    for gate in attention.gates:
        assert torch.all(torch.sigmoid(gate.psi.bias) > 0.97)

    # ...and the gates still learn: psi's zeroed weights get a gradient on the first step.
    config = TrainConfig(variant="attention", model_config=TINY, iterations=2, device="cpu",
                         init_weights=str(path))  # fmt: skip
    trained = train(config, _Photos()).model
    assert all(gate.psi.weight.abs().sum() > 0 for gate in trained.gates)


def test_each_variant_trains_with_its_registered_strategy() -> None:
    from engine.models import list_models
    from engine.train import strategy_class

    names = {v: strategy_class(v).name for v in list_models()}
    assert names == {"baseline": "plain", "attention": "plain", "gan": "adversarial",
                     "uunet": "frozen-first-net", "deep": "plain", "lite": "plain",
                     "fast": "plain"}  # fmt: skip
    # A fine-tune of the GAN is plain L1; a U-UNet keeps its first net frozen.
    assert strategy_class("gan").finetune_strategy == "plain"
    assert strategy_class("uunet").finetune_strategy == "frozen-first-net"


def test_gan_checkpoint_carries_the_discriminator_and_resumes(tmp_path: Path) -> None:
    ckpt = tmp_path / "gan.ckpt"
    base = dict(variant="gan", model_config=TINY, device="cpu", checkpoint_path=str(ckpt),
                disc_config={"base_features": 8, "levels": 2})  # fmt: skip
    straight = train(TrainConfig(iterations=4, **{**base, "checkpoint_path": None}), _Photos())
    train(TrainConfig(iterations=2, **base), _Photos())
    state = torch.load(ckpt, weights_only=True)
    assert {"disc", "disc_opt"} <= set(state) and state["config"]["variant"] == "gan"
    resumed = train(TrainConfig(iterations=4, **base), _Photos())
    assert resumed.losses == pytest.approx(straight.losses)
    assert "discriminator" in resumed.notes[0]


def test_plain_strategy_on_a_gan_trains_without_a_discriminator(tmp_path: Path) -> None:
    ckpt = tmp_path / "plain.ckpt"
    config = TrainConfig(variant="gan", strategy="plain", model_config=TINY, iterations=2,
                         device="cpu", checkpoint_path=str(ckpt))  # fmt: skip
    result = train(config, _Photos())
    assert "disc" not in torch.load(ckpt, weights_only=True) and result.notes == []


def test_uunet_first_net_from_warm_start_or_refused(tmp_path: Path) -> None:
    from engine.models import ModelCard, create_model, save_model

    cfg = {**TINY, "second_base_features": 4}
    with pytest.raises(DarkroomError, match="needs --base"):
        train(TrainConfig(variant="uunet", model_config=cfg, iterations=1, device="cpu"),
              _Photos())  # fmt: skip
    whole = create_model("uunet", **cfg)
    path = tmp_path / "uunet.safetensors"
    save_model(whole, ModelCard(name="u", architecture="uunet", config=whole.config), path,
               dtype=torch.float32)  # fmt: skip
    config = TrainConfig(variant="uunet", model_config=cfg, iterations=2, device="cpu",
                         init_weights=str(path))  # fmt: skip
    result = train(config, _Photos())
    for key, value in whole.first.state_dict().items():
        torch.testing.assert_close(result.model.first.state_dict()[key], value)


@pytest.mark.parametrize("damage", ["truncated", "pickle", "garbage"])
def test_damaged_checkpoint_is_one_line(tmp_path: Path, damage: str) -> None:
    ckpt = tmp_path / "run.ckpt"
    config = TrainConfig(model_config=TINY, iterations=2, device="cpu", checkpoint_path=str(ckpt))
    train(config, _Photos())
    if damage == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:2000])
    elif damage == "pickle":
        import pickle

        ckpt.write_bytes(pickle.dumps(Path("/"), protocol=2))  # weights_only refuses to build it
    else:
        ckpt.write_bytes(b"\x00" * 64)
    with pytest.raises(DarkroomError, match="checkpoint") as info:
        train(TrainConfig(model_config=TINY, iterations=4, device="cpu",
                          checkpoint_path=str(ckpt)), _Photos())  # fmt: skip
    assert "\n" not in str(info.value)
