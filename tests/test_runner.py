import numpy as np
import pytest
import torch

from engine.device import select_device
from engine.errors import Cancelled, DarkroomError
from engine.jobs import CancelToken
from engine.models import create_model
from engine.render import TiledRunner, TilePlan, crop_frame_border, pad_frame_border
from engine.render.tiling import BLEND


def _model(name: str = "baseline", **cfg: object) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model(name, base_features=8, **cfg)
    # Random init gives near-constant outputs; scale the head so outputs span ~[0, 1] and a
    # tiling error would be visible at the 1/255 level.
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.6)
    return model.eval()


def _whole(model: torch.nn.Module, packed: np.ndarray, border: int = 0) -> np.ndarray:
    """One pass over the frame with ``border`` packed pixels mirrored on every side, cropped."""
    padded = pad_frame_border(packed, border, model.size_multiple if border else 1)
    with torch.inference_mode():
        out = model(torch.from_numpy(padded)[None])[0].numpy()
    return crop_frame_border(out, border, *packed.shape[1:])


@pytest.mark.parametrize(("h", "w", "tile"), [(300, 420, 64), (157, 203, 48)])
def test_tiled_output_matches_whole_frame(h: int, w: int, tile: int) -> None:
    model = _model()
    packed = np.random.default_rng(0).random((4, h, w), dtype=np.float32)
    whole = _whole(model, packed, border=model.size_multiple)
    assert whole.std() > 0.02  # the comparison below must be able to fail
    runner = TiledRunner(model, torch.device("cpu"), tile=tile, precision="fp32")
    calls: list[tuple[int, int]] = []
    tiled = runner.run(packed, progress=lambda d, t, m: calls.append((d, t)))
    assert tiled.shape == (3, 2 * h, 2 * w)
    assert len(calls) > 2 and calls[-1][0] == calls[-1][1]
    assert np.abs(tiled - whole).max() < 1 / 255
    # With margins of the full receptive radius the match is exact up to float rounding; a
    # margin of half the radius already fails this (measured 3.6e-5).
    assert np.abs(tiled - whole).max() < 1e-5


def test_tiled_output_matches_whole_frame_with_a_base_filter() -> None:
    # The fast network's per-pixel base filter reaches one sensor pixel past the head's
    # block: its receptive radius covers it, so tiles still add up to the whole exactly.
    torch.manual_seed(0)
    model = create_model("fast", widths=(4, 6, 8, 10, 12), base_filter=3).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    packed = np.random.default_rng(1).random((model.in_channels, 157, 203), dtype=np.float32)
    whole = _whole(model, packed, border=model.size_multiple)
    assert whole.std() > 0.02
    tiled = TiledRunner(model, torch.device("cpu"), tile=96, precision="fp32").run(packed)
    assert np.abs(tiled - whole).max() < 1e-5


def test_frame_border_is_mirrored_not_zero_padded() -> None:
    model = _model()
    packed = np.random.default_rng(1).random((4, 256, 288), dtype=np.float32)
    out = TiledRunner(model, torch.device("cpu"), precision="fp32").run(packed)
    plain = _whole(model, packed)  # the network's own zero padding at the borders
    edge = np.abs(out - plain)[:, :4].mean()
    assert edge > 1e-3  # the border really got context
    # Padding by a size multiple keeps the pooling grid, so beyond the receptive radius the
    # output is the plain pass's.
    r = 2 * model.receptive_radius
    assert np.abs(out - plain)[:, r:-r, r:-r].max() < 1e-5
    mirrored = pad_frame_border(packed, 3)
    assert mirrored.shape == (4, 262, 294)
    # Reflected about the edge pixel, which is not repeated.
    np.testing.assert_array_equal(mirrored[:, 2, 3:-3], packed[:, 1])


@pytest.mark.parametrize(("h", "w", "pad"), [(40, 57, 32), (5, 7, 32), (9, 33, 9)])
def test_frame_border_is_numpy_reflection_at_any_size(h: int, w: int, pad: int) -> None:
    # The in-place path (numpy slices) and the small-frame path (np.pad) mirror the same way.
    packed = np.random.default_rng(3).random((20, h, w), dtype=np.float32)
    expected = np.pad(packed, ((0, 0), (pad, pad), (pad, pad)), mode="reflect")
    np.testing.assert_array_equal(pad_frame_border(packed, pad), expected)
    # Up to a size multiple, the bottom and right mirror further on.
    rounded = pad_frame_border(packed, pad, 16)
    assert rounded.shape[1] % 16 == 0 == rounded.shape[2] % 16
    bottom, right = rounded.shape[1] - h - pad, rounded.shape[2] - w - pad
    expected = np.pad(packed, ((0, 0), (pad, bottom), (pad, right)), mode="reflect")
    np.testing.assert_array_equal(rounded, expected)


def test_bf16_close_to_fp32() -> None:
    model = _model()
    packed = np.random.default_rng(2).random((4, 96, 128), dtype=np.float32)
    fp32 = TiledRunner(model, torch.device("cpu"), precision="fp32").run(packed)
    bf16 = TiledRunner(model, torch.device("cpu"), precision="bf16").run(packed)
    assert np.abs(fp32 - bf16).mean() < 0.01
    assert not np.array_equal(fp32, bf16)  # it really ran in reduced precision


def test_tile_grid_covers_frame_once() -> None:
    plan = TilePlan(core_h=64, core_w=48, margin=16, height=150, width=130)
    cover = np.zeros((150, 130), int)
    for t, left, b, r in plan.cores():
        cover[t:b, left:r] += 1
        assert t % 64 == 0 and left % 48 == 0
    assert (cover == 1).all()


def test_planner_respects_budget_and_prefers_few_margins() -> None:
    from engine.render import plan_tiles

    plan = plan_tiles(1424, 2128, margin=112, multiple=16, budget_px=1_300_000)
    for t, left, b, r in plan.cores():
        th = min(1424, b + 112) - max(0, t - 112)
        tw = min(2128, r + 112) - max(0, left - 112)
        assert th * tw <= 1_300_000
    assert plan.computed_pixels < 1.35 * 1424 * 2128
    whole = plan_tiles(300, 400, margin=112, multiple=16, budget_px=10**9)
    assert len(whole.cores()) == 1


def test_margin_covers_receptive_field_and_alignment() -> None:
    for name in ("baseline", "attention", "uunet", "deep"):
        model = create_model(name, base_features=8)
        runner = TiledRunner(model, torch.device("cpu"), tile=64)
        assert runner.margin >= model.receptive_radius + BLEND  # the blend band too
        assert runner.margin % model.size_multiple == 0
        plan = runner.plan(1000, 1000)
        assert plan.core_h % model.size_multiple == 0 and plan.core_w % model.size_multiple == 0
        tiled = pad_frame_border(np.zeros((1, 1000, 1000), np.float32), runner.border,
                                 model.size_multiple)  # fmt: skip
        assert (plan.height, plan.width) == tiled.shape[1:]  # what run() tiles
        assert plan.height % model.size_multiple == 0 == plan.width % model.size_multiple


def test_cancel_between_tiles() -> None:
    runner = TiledRunner(_model(), torch.device("cpu"), tile=32)
    token = CancelToken()
    seen: list[int] = []

    def progress(done: int, total: int, message: str) -> None:
        seen.append(done)
        if done == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        runner.run(np.zeros((4, 200, 200), np.float32), progress, token)
    assert max(seen) == 2


def test_device_selection() -> None:
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(DarkroomError):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DarkroomError, match="no CUDA"):
            select_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_autocast_close_to_cpu() -> None:
    model = _model()
    packed = np.random.default_rng(1).random((4, 96, 128), dtype=np.float32)
    cpu = TiledRunner(model, torch.device("cpu")).run(packed)
    gpu = TiledRunner(_model(), torch.device("cuda")).run(packed)
    assert np.abs(cpu - gpu).mean() < 0.02


@pytest.mark.parametrize(("h", "w", "border", "multiple"), [(45, 70, 16, 32), (12, 9, 16, 32)])
@pytest.mark.parametrize("xtrans", [False, True])
def test_network_input_built_bordered_is_the_padded_input(h, w, border, multiple, xtrans) -> None:
    # Built in place with its mirrored border (a 265 MB copy fewer at 12 MP), or, for a frame
    # smaller than its border, whole and then padded: the same planes as padding afterwards.
    from engine.io import XTRANS_TILE
    from engine.noise import NoiseLevel
    from engine.render import network_channels

    rng = np.random.default_rng(4)
    packed = rng.random((4, h, w), dtype=np.float32)
    level = NoiseLevel(gain=1e-4, floor=1e-7)
    pattern = XTRANS_TILE if xtrans else None
    plain = network_channels(packed, 8.0, level, demosaic=True, pattern=pattern)
    bordered = network_channels(packed, 8.0, level, demosaic=True, pattern=pattern,
                                border=border, multiple=multiple)  # fmt: skip
    np.testing.assert_array_equal(bordered, pad_frame_border(plain, border, multiple))
    assert bordered.shape[1] % multiple == 0 == bordered.shape[2] % multiple


def test_border_of_a_mirrored_view_and_its_errors() -> None:
    from engine.render.tiling import bordered_buffer, mirror_border

    packed = np.random.default_rng(5).random((4, 40, 52), dtype=np.float32)
    flipped = packed[:, :, ::-1]  # negative strides, as a mirrored photo's view has
    expected = pad_frame_border(np.ascontiguousarray(flipped), 8, 16)
    np.testing.assert_array_equal(pad_frame_border(flipped, 8, 16), expected)
    buffer, _ = bordered_buffer(4, 5, 52, 8)
    with pytest.raises(ValueError, match="cannot be mirrored"):
        mirror_border(buffer, 8, 5, 52)  # a border wider than the frame
    runner = TiledRunner(_model(), torch.device("cpu"), precision="fp32")
    with pytest.raises(ValueError, match="bordered 40 x 52 frame"):
        runner.run(packed, frame_size=(40, 52))  # not bordered


def test_out_of_memory_retries_with_smaller_tiles_on_a_bordered_input(monkeypatch) -> None:
    # A GPU that had less free memory than it said: the same bordered input again, in halved
    # tiles, and the frame cropped back as before (the CUDA path, its device faked here).
    runner = TiledRunner(_model(), torch.device("cpu"), tile=128, precision="fp32")
    runner.device = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    packed = np.random.default_rng(6).random((4, 150, 170), dtype=np.float32)
    bordered = pad_frame_border(packed, runner.border, runner.multiple)
    plans: list[TilePlan] = []

    def run_plan(planes, plan, progress, cancel):
        plans.append(plan)
        if len(plans) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return np.zeros((3, 2 * planes.shape[1], 2 * planes.shape[2]), np.float32)

    monkeypatch.setattr(runner, "_run_plan", run_plan)
    out = runner.run(bordered, frame_size=(150, 170))
    assert out.shape == (3, 300, 340)
    assert [(p.core_h, p.core_w) for p in plans] == [(128, 128), (64, 64)]
    assert (plans[1].height, plans[1].width) == bordered.shape[1:]
