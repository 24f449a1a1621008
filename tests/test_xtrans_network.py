"""X-Trans photos through a network (issue 23, part 2): packing by position with colour
planes, the X-Trans ``fast`` network, synthetic X-Trans training pairs, the noise estimate on
X-Trans files, and the renderer choosing the X-Trans model by the file's CFA."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import ModelError, UnsupportedSensorError
from engine.io import ExifInfo, read_raw, write_cfa_dng, xtrans_pattern
from engine.models import create_model, frame_gmacs, renders_sensor, save_model
from engine.models.card import ModelCard
from engine.noise import (
    PROFILES,
    SONY_A7S2_ISO_PARAMS,
    add_noise,
    estimate_noise_level,
    noise_level_from_params,
)
from engine.render import (
    Enhancer,
    TiledRunner,
    colour_planes,
    network_channels,
    normalise_mosaic,
    pack_xtrans,
)
from engine.render.packing import RGGB, unpack_bayer
from engine.train import SyntheticPairSource, synthesise_pair
from engine.train.unprocess import mosaic
from tests.conftest import smooth_scene
from tests.test_noise_level import scene_rgb
from tests.test_xtrans_render import _xtrans_dng

SONY = PROFILES["SonyA7S2"]
#: The two phases real X-Trans cameras start their picture at, and one more.
PHASES = [(0, 0), (1, 2), (3, 5)]


def _tiny_xtrans_net() -> torch.nn.Module:
    torch.manual_seed(0)
    net = create_model("fast", widths=(8, 12, 16), encoder_convs=(1, 1, 1),
                       decoder_convs=(1, 1), sensor="x-trans")  # fmt: skip
    for p in net.parameters():  # trained weights are not zero: make every path count
        torch.nn.init.normal_(p, std=0.05)
    return net.eval()


@pytest.mark.parametrize("phase", PHASES)
def test_packing_by_position_keeps_every_sample_and_its_colour(tmp_path: Path, phase) -> None:
    frame = read_raw(_xtrans_dng(tmp_path / "x.dng", 121, 187, phase))
    packed = pack_xtrans(frame, 4.0)
    assert packed.shape == (4, 60, 93)
    whole = normalise_mosaic(frame, 4.0)[:120, :186]
    np.testing.assert_array_equal(unpack_bayer(packed, RGGB), whole)
    # The colour planes are in pixel_unshuffle order, as the demosaic planes.
    planes = torch.from_numpy(colour_planes(packed, frame.cfa_pattern)).reshape(3, 4, 60, 93)
    on_grids = torch.nn.functional.pixel_shuffle(planes, 2)[:, 0].numpy()
    np.testing.assert_array_equal(on_grids.sum(axis=0), whole)  # each sample once
    sites = np.tile(frame.cfa_pattern, (20, 31))[:120, :186]
    for colour, on_grid in enumerate(on_grids):  # and on its own colour's plane only
        assert np.all(on_grid[sites != colour] == 0)
        np.testing.assert_array_equal(on_grid[sites == colour], whole[sites == colour])


def test_the_network_takes_odd_sizes_and_costs_what_the_budget_allows() -> None:
    net = _tiny_xtrans_net()
    assert net.sensors == ("x-trans",) and net.colour_input and net.in_channels == 32
    for h, w in ((1, 1), (7, 13), (37, 45)):
        out = net(torch.rand(1, 32, h, w))
        assert out.shape == (1, 3, 2 * h, 2 * w) and torch.isfinite(out).all()
    default = create_model("fast", sensor="x-trans")
    assert frame_gmacs(default) <= 60  # issue 19's budget per 12 MP frame
    with pytest.raises(ModelError, match="X-Trans network needs"):
        create_model("fast", sensor="x-trans", base="bilinear")


def test_the_x_trans_network_starts_as_the_bayer_one(tmp_path: Path) -> None:
    """Warm start from Bayer weights (``train --init``, :func:`engine.train.warm_start` with
    :meth:`FastUNet.warm_start_state`): every tensor carried over, the colour planes' taps at
    zero, so the X-Trans network computes what the Bayer one does on the same position planes."""
    from engine.models import save_tensors
    from engine.train import warm_start

    torch.manual_seed(1)
    bayer = create_model("fast", widths=(8, 12), encoder_convs=(1, 1), decoder_convs=(1,))
    for p in bayer.parameters():
        torch.nn.init.normal_(p, std=0.05)
    save_tensors(bayer, tmp_path / "bayer.safetensors")
    xtrans = create_model("fast", **(bayer.config | {"sensor": "x-trans"}))
    copied = warm_start(xtrans, tmp_path / "bayer.safetensors")
    assert copied == len(xtrans.state_dict())  # the stem too, widened
    x = torch.rand(1, 32, 20, 28)
    without_colours = torch.cat([x[:, :8], x[:, 20:]], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(xtrans.eval()(x), bayer.eval()(without_colours))


def test_tiled_equals_whole_for_the_x_trans_network(tmp_path: Path) -> None:
    frame = read_raw(_xtrans_dng(tmp_path / "x.dng", 300, 420, (1, 2)))
    net = _tiny_xtrans_net()
    packed = pack_xtrans(frame, 10.0)
    level = estimate_noise_level(frame)
    x = network_channels(packed, 10.0, level, demosaic=True, pattern=frame.cfa_pattern)
    whole = TiledRunner(net, torch.device("cpu"), tile=None, precision="fp32").run(x)
    tiled = TiledRunner(net, torch.device("cpu"), tile=32, precision="fp32").run(x)
    assert whole.shape == (3, 300, 420)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_mosaicking_follows_the_x_trans_pattern() -> None:
    rgb = np.random.default_rng(0).random((12, 18, 3)).astype(np.float32)
    pattern = xtrans_pattern(1, 2)
    out = mosaic(rgb, pattern)
    for y in range(12):
        for x in range(18):
            assert out[y, x] == rgb[y, x, pattern[y % 6, x % 6]]


def test_synthetic_x_trans_pairs_line_up_with_their_target() -> None:
    """The dark frame's samples are its target's colours (darkened, noisy) at every phase;
    the network input and the target share one pixel grid."""
    scene = smooth_scene(96, 132, seed=5)
    phases = set()
    for seed in range(8):
        pair = synthesise_pair(scene, np.random.default_rng(seed), ratio=2.0, sensor="x-trans")
        pattern = pair.dark.cfa_pattern
        assert pattern.shape == (6, 6) and pair.dark.mosaic.shape == pair.target.shape[:2]
        phases.add(tuple(pattern[0]))
        sites = np.tile(pattern, (16, 22))
        expected = np.take_along_axis(pair.target, sites[..., None].astype(np.intp), 2)[..., 0]
        dark = normalise_mosaic(pair.dark, pair.ratio, clip=False)
        # Noise averages out over the frame; a colour shifted by one pixel would not.
        assert np.abs(dark - expected).mean() < np.abs(dark[:, 1:] - expected[:, :-1]).mean()
        assert np.corrcoef(dark.ravel(), expected.ravel())[0, 1] > 0.9
        inputs = pair.network_input(pair.noise, demosaic=True)
        assert inputs.shape == (32, 48, 66)
    assert len(phases) > 2  # crops start anywhere in the 6x6 tile
    source = SyntheticPairSource([Path("unused")] * 1, crop=100, sensor="x-trans")
    source._cache[0] = (scene * 255).astype(np.uint8)
    pair = source.sample(np.random.default_rng(3))
    assert pair.dark.height % 12 == 0 and pair.dark.width % 12 == 0


def _xtrans_dark_dng(path: Path, iso: int, ratio: float, phase) -> tuple[Path, np.ndarray]:
    pattern = xtrans_pattern(*phase)
    clean = mosaic(scene_rgb(), pattern) / np.float32(ratio)  # tests/test_noise_level.py's scene
    noisy = add_noise(clean * SONY.dn_range, SONY_A7S2_ISO_PARAMS[iso],
                      np.random.default_rng(iso + int(ratio)), cfa=pattern)  # fmt: skip
    dn = np.clip(np.rint(noisy + SONY.black_level), 0, SONY.white_level).astype(np.uint16)
    write_cfa_dng(path, dn, pattern, black_level=SONY.black_level,
                  white_level=int(SONY.white_level), exif=ExifInfo(iso=iso))  # fmt: skip
    return path, clean


@pytest.mark.parametrize("iso", [100, 6400, 25600])
@pytest.mark.parametrize("ratio", [1, 10, 300])
@pytest.mark.parametrize("phase", [(0, 0), (1, 2)])
def test_the_noise_estimate_of_an_x_trans_file_is_within_1_5x(
    tmp_path: Path, iso: int, ratio: float, phase
) -> None:
    """As for Bayer files (tests/test_noise_level.py): measured on the file alone, here from
    the greens of X-Trans's 2x2 green blocks."""
    path, clean = _xtrans_dark_dng(tmp_path / "dark.dng", iso, ratio, phase)
    frame = read_raw(path)
    assert frame.is_xtrans
    estimate = estimate_noise_level(frame)
    truth = noise_level_from_params(SONY_A7S2_ISO_PARAMS[iso], SONY)
    for q in (0.1, 0.5, 0.9):
        signal = float(np.quantile(clean, q))
        factor = float(estimate.sigma(signal, 1.0) / truth.sigma(signal, 1.0))
        assert 1 / 1.5 < factor < 1.5, (q, factor, estimate, truth)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A user models folder holding a tiny X-Trans network."""
    folder = tmp_path / "models"
    folder.mkdir()
    net = _tiny_xtrans_net()
    card = ModelCard(name="tiny-xtrans", architecture="fast", config=net.config)
    save_model(net, card, folder / "tiny-xtrans.safetensors")
    return folder


def test_an_x_trans_model_renders_x_trans_and_refuses_bayer(
    tmp_path: Path, model_dir: Path, make_dng
) -> None:
    frame = read_raw(_xtrans_dng(tmp_path / "x.dng", 240, 366, (1, 2), orientation=6))
    enhancer = Enhancer("tiny-xtrans", device="cpu", model_dirs=[model_dir])
    whole = enhancer.render(frame, 10.0)
    assert whole.srgb.shape == (366, 240, 3) and whole.model == "tiny-xtrans"
    small = enhancer.render_preview(frame, 10.0, max_side=100)
    assert max(small.srgb.shape[:2]) <= 100
    assert np.abs(small.srgb.mean(axis=(0, 1)) - whole.srgb.mean(axis=(0, 1))).max() < 0.05
    half = enhancer.render(frame, 10.0, amount=0.5).srgb
    classical = Enhancer("none", device="cpu").render(frame, 10.0).srgb
    assert np.abs(half - (classical + whole.srgb) / 2).mean() < 0.02  # Amount blends
    assert renders_sensor("tiny-xtrans", "x-trans", [model_dir])
    assert not renders_sensor("tiny-xtrans", "bayer", [model_dir])
    bayer = read_raw(make_dng("b.dng"))
    with pytest.raises(UnsupportedSensorError, match="X-Trans photos only") as info:
        enhancer.render(bayer, 4.0)
    assert "\n" not in str(info.value)


def test_a_bayer_only_model_says_so_in_one_line(tmp_path: Path) -> None:
    frame = read_raw(_xtrans_dng(tmp_path / "x.dng", 120, 180))
    baseline = Enhancer("lite", device="cpu")
    for render in (lambda: baseline.render(frame, 10.0),
                   lambda: baseline.render_preview(frame, 10.0, 100)):  # fmt: skip
        with pytest.raises(UnsupportedSensorError, match="no lite model for X-Trans") as info:
            render()
        assert "\n" not in str(info.value)
    assert baseline.render(frame, 10.0, amount=0).srgb.shape == (120, 180, 3)
    assert not renders_sensor("lite", "x-trans") and renders_sensor("none", "x-trans")


def test_train_then_evaluate_an_x_trans_model(photo_folder: Path, tmp_path: Path, capsys) -> None:
    """``train`` makes X-Trans pairs for an X-Trans network; ``evaluate --sensor x-trans``
    scores it on X-Trans pairs, and refuses a Bayer-only model there in one line."""
    import json

    from engine.cli import main

    photos = photo_folder
    out = tmp_path / "tiny-xtrans.safetensors"
    config = (
        '{"widths": [8, 8], "encoder_convs": [1, 1], "decoder_convs": [1], "sensor": "x-trans"}'
    )
    code = main(["train", "--variant", "fast", "--data", str(photos), "--iterations", "2",
                 "--out", str(out), "--config", config, "--crop", "64", "--device", "cpu",
                 "--ratios", "1:300"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["config"]["sensor"] == "x-trans" and "X-Trans" in card["training_data"]
    argv = ["evaluate", "--data", str(photos), "--ratios", "4", "--device", "cpu", "-q",
            "--sensor", "x-trans", "--out", str(tmp_path / "report")]  # fmt: skip
    assert main([*argv, "--models", str(out)]) == 0
    captured = capsys.readouterr()
    assert "synthetic X-Trans" in captured.out and "tiny-xtrans" in captured.out
    assert main([*argv, "--models", "lite"]) != 0
    err = capsys.readouterr().err
    assert "no X-Trans model" in err and "Traceback" not in err and err.count("\n") == 1


def test_a_missing_x_trans_version_is_one_line_naming_it(
    tmp_path: Path, monkeypatch, make_dng
) -> None:
    """If the default's X-Trans version cannot be loaded, X-Trans photos say which model and
    why, every time, without loading it again; Bayer photos are not affected."""
    import engine.resources

    siblings = dict(engine.resources.CFA_SIBLINGS)
    siblings[("fast", "x-trans")] = "fast-gone"
    monkeypatch.setattr(engine.resources, "CFA_SIBLINGS", siblings)
    frame = read_raw(_xtrans_dng(tmp_path / "x.dng", 120, 180))
    fast = Enhancer("fast", device="cpu")
    for _ in range(2):
        with pytest.raises(UnsupportedSensorError, match="fast-gone, the X-Trans version of "
                           "fast, cannot be used: unknown model 'fast-gone'") as info:  # fmt: skip
            fast.render_preview(frame, 10.0, 100)
        assert "\n" not in str(info.value) and str(info.value).startswith("x.dng: ")
    assert fast.render(read_raw(make_dng("b.dng")), 4.0).model == "fast"
