"""X-Trans photos everywhere (issue 23, parts 3 and 4): the classical render, preview bins and
100 % regions, the default model (its X-Trans version, chosen by the file's CFA), the command
line, exports, the window. Bayer-only networks refuse an X-Trans photo in one line
(tests/test_xtrans_network.py)."""

# The window fixtures are test_gui_window's, imported by name (pytest finds them so).
# ruff: noqa: F811

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
import rawpy
import tifffile

from engine.cli import main
from engine.io import orient_rect, read_raw, write_cfa_dng, xtrans_pattern
from engine.render import Enhancer
from tests.conftest import smooth_scene
from tests.test_gui_window import TIMEOUT_MS, make_window, settings  # noqa: F401

BLACK, WHITE = 512, 16383


def _xtrans_dng(path: Path, height: int, width: int, phase=(0, 0), ratio: float = 10.0,
                orientation: int = 1, noise: float = 2.0) -> Path:  # fmt: skip
    pattern = xtrans_pattern(*phase)
    scene = smooth_scene(height, width, seed=2) / ratio
    index = np.tile(pattern, (height // 6 + 1, width // 6 + 1))[:height, :width]
    mosaic = np.take_along_axis(scene, index[..., None].astype(np.intp), axis=2)[..., 0]
    mosaic = BLACK + mosaic * (WHITE - BLACK)
    mosaic += np.random.default_rng(0).normal(0.0, noise, mosaic.shape)
    write_cfa_dng(path, np.clip(mosaic, 0, WHITE).astype(np.uint16), pattern,
                  black_level=BLACK, white_level=WHITE, orientation=orientation)  # fmt: skip
    return path


@pytest.mark.parametrize("phase", [(0, 0), (1, 2)])
def test_the_classical_render_of_x_trans_gives_the_scene_back(tmp_path: Path, phase) -> None:
    path = _xtrans_dng(tmp_path / "x.dng", 301, 457, phase, ratio=1.0, noise=0.0)
    frame = read_raw(path)
    rendered = Enhancer("none", device="cpu").render(frame, 1.0)
    assert rendered.srgb.shape == (300, 456, 3)
    linear = rendered.linear_sensor
    scene = smooth_scene(301, 457, seed=2)[:300, :456]
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(linear[inner] - scene[inner]).mean() < 0.01


def test_previews_and_100_percent_regions(tmp_path: Path) -> None:
    frame = read_raw(_xtrans_dng(tmp_path / "x.dng", 600, 900, (1, 2), orientation=6))
    enhancer = Enhancer("none", device="cpu")
    whole = enhancer.render(frame, 10.0).srgb
    small = enhancer.render_preview(frame, 10.0, max_side=200)
    assert max(small.srgb.shape[:2]) <= 200 and small.covers[:2] == (0, 0)
    assert np.abs(small.srgb.mean(axis=(0, 1)) - whole.mean(axis=(0, 1))).max() < 0.02
    # A 100 % region is the export's own pixels, also where LibRaw's X-Trans tiles meet (from
    # mosaic row and column 507): the cut is demosaicked on the whole mosaic's tile grid.
    for region in ((101, 203, 121, 151), (440, 420, 140, 150), (300, 700, 150, 190)):
        part = enhancer.render_preview(frame, 10.0, max(region[2:]), region)
        top, left, h, w = orient_rect(part.covers, frame.visible_height, frame.visible_width,
                                      frame.orientation)  # fmt: skip
        assert part.covers == region
        assert np.abs(part.srgb - whole[top : top + h, left : left + w]).max() < 1e-5


def test_100_percent_regions_of_a_model_restoring_detail_are_the_export(tmp_path: Path) -> None:
    # The default's X-Trans version restores detail from the X-Trans classical render: a 100 %
    # region of that is still the export's pixels (a narrow network with large random weights,
    # so the region's context matters; noise, so the restoration changes the picture).
    import torch

    from engine.models import ModelCard, create_model, save_model

    torch.manual_seed(0)
    model = create_model("fast", widths=(4, 6, 8, 10, 12), sensor="x-trans")
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.15)
    weights = tmp_path / "small-xtrans.safetensors"
    for name, detail in (("small-xtrans", False), ("small-xtrans-detail", True)):
        card = ModelCard(name=name, architecture="fast", config=model.config,
                         restores_detail=detail)  # fmt: skip
        save_model(model, card, weights.with_name(f"{name}.safetensors"))
    frame = read_raw(_xtrans_dng(tmp_path / "x.dng", 1260, 1302, (1, 2), noise=20.0))
    enhancer = Enhancer(str(weights.with_name("small-xtrans-detail.safetensors")), device="cpu",
                        precision="fp32")  # fmt: skip
    assert enhancer.restores_detail
    region = (577, 603, 61, 97)  # odd offsets and sizes, the context inside the frame
    assert region[0] > enhancer.region_context()[0]
    whole = enhancer.render(frame, 10.0).srgb
    part = enhancer.render_preview(frame, 10.0, max(region[2:]), region)
    top, left, h, w = region
    assert part.covers == region
    assert np.abs(part.srgb - whole[top : top + h, left : left + w]).max() < 1e-4
    plain = Enhancer(str(weights), device="cpu", precision="fp32").render(frame, 10.0).srgb
    assert np.abs(plain - whole)[top : top + h, left : left + w].max() > 1e-3  # it restored


def test_x_trans_detail_comes_from_the_inputs_own_demosaic(tmp_path: Path, monkeypatch) -> None:
    # LibRaw's X-Trans interpolation is the slowest step: the restoration reads the one the
    # network was given (DETAIL_FROM_INPUT_SENSORS) and never demosaics the frame again.
    import engine.render.render_pass as render_pass
    from engine.render.inputs import demosaic_of_input

    calls: list[float] = []
    real = render_pass.classical_linear

    def counted(frame, ratio, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(ratio)
        return real(frame, ratio, *args, **kwargs)

    monkeypatch.setattr(render_pass, "classical_linear", counted)
    frame = read_raw(_xtrans_dng(tmp_path / "x.dng", 120, 180, noise=20.0))
    enhancer = Enhancer("fast-xtrans", device="cpu", precision="fp32")
    assert enhancer.restores_detail
    enhancer.render(frame, 10.0)
    assert calls == []
    enhancer.render(frame, 10.0, amount=0.5)  # the Amount blend does use the classical render
    assert calls == [10.0]
    # Read back over the input's spent first planes, it is the same picture as a new tensor.
    x = np.random.default_rng(0).random((32, 20, 30), dtype=np.float32)
    fresh = demosaic_of_input(x.copy(), 2, 16, 26)
    spent = demosaic_of_input(x, 2, 16, 26, spend_input=True)
    np.testing.assert_array_equal(spent.numpy(), fresh.numpy())
    assert np.shares_memory(spent.numpy(), x)


def test_the_default_model_renders_x_trans_with_its_x_trans_version(tmp_path: Path) -> None:
    frame = read_raw(_xtrans_dng(tmp_path / "x.dng", 120, 180))
    fast = Enhancer("fast", device="cpu")
    rendered = fast.render(frame, 10.0)
    assert rendered.model == "fast-xtrans" and rendered.srgb.shape == (120, 180, 3)
    assert fast.render_preview(frame, 10.0, 100).model == "fast-xtrans"
    direct = Enhancer("fast-xtrans", device="cpu").render(frame, 10.0)
    np.testing.assert_array_equal(rendered.srgb, direct.srgb)
    # Amount 0 is the classical render, which needs no network.
    assert fast.render(frame, 10.0, amount=0).model == "fast"


def test_the_command_line_and_exports(tmp_path: Path, capsys) -> None:
    path = _xtrans_dng(tmp_path / "x.dng", 120, 180)
    out = tmp_path / "out"
    assert main(["enhance", str(path), "--model", "none", "--ratio", "10", "-o", str(out),
                 "--format", "tiff", "--bits", "16"]) == 0  # fmt: skip
    assert tifffile.imread(out / "x-darkroom.tif").shape == (120, 180, 3)
    assert main(["enhance", str(path), "--model", "none", "--ratio", "10", "-o", str(out),
                 "--format", "dng"]) == 0  # fmt: skip
    with rawpy.imread(str(out / "x-darkroom.dng")) as raw:  # a linear DNG of the render
        assert raw.raw_image_visible.shape[:2] == (120, 180)
    assert main(["enhance", str(path), "-o", str(tmp_path / "net")]) == 0  # the default model
    assert (tmp_path / "net" / "x-darkroom.jpg").is_file()
    capsys.readouterr()
    assert main(["enhance", str(path), "--model", "lite", "-o", str(tmp_path / "lite")]) != 0
    err = capsys.readouterr().err
    assert "X-Trans" in err and "Traceback" not in err
    assert main(["enhance", str(path), "--model", "none", "-o", str(tmp_path / "cfa"),
                 "--format", "dng", "--dng", "cfa"]) != 0  # fmt: skip
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Bayer" in err


def test_the_window_enhances_x_trans_with_the_x_trans_model(qtbot, make_window,
                                                              tmp_path: Path) -> None:  # fmt: skip
    path = _xtrans_dng(tmp_path / "x.dng", 600, 900, (1, 2), orientation=6)
    window = make_window(path)
    assert window.current_settings()["model"] == "fast"  # Recommended, for X-Trans too
    assert window.ui.info.text("Dimensions").endswith("X-Trans)")
    window.resize(700, 560)
    window.set_zoom(1.0)
    assert window.wait_until_rendered(60)
    assert window.viewer.after_label.startswith("After · fast-xtrans ×")  # who drew it
    x, y, w, h = window.visible_region()
    assert w < 600 and h < 900
    export = tifffile.imread(window.export_to(tmp_path / "x.tif", format="tiff", bits=16))
    expected = np.rint(export[y : y + h, x : x + w].astype(np.float64) / 257.0)
    # The export's own pixels, to the 8-bit rounding: the cut is demosaicked on the whole
    # mosaic's LibRaw tiles (it differed by up to 3 levels before).
    assert np.abs(window.after_image() - expected).max() <= 1
    with qtbot.waitSignal(window.errorShown, timeout=TIMEOUT_MS) as blocker:
        window.set_model("lite")  # Bayer only
    assert "X-Trans" in blocker.args[1]
    qtbot.waitUntil(lambda: window.session.model == "none", timeout=TIMEOUT_MS)
    window.error_boxes.close_all()


def test_models_says_which_sensors_each_model_takes(capsys) -> None:
    import json

    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("none") and "Bayer, X-Trans" in line for line in lines)
    assert any(line.startswith("fast ") and " Bayer " in line for line in lines)
    assert any(line.startswith("fast-xtrans ") and " X-Trans " in line for line in lines)
    assert main(["models", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["fast"]["sensors"] == ["bayer"]
    assert rows["fast-xtrans"]["sensors"] == ["x-trans"]
    assert rows["fast-xtrans"]["source"] == "bundled"


def test_x_trans_files_are_summarised_for_fine_tuning(tmp_path: Path) -> None:
    """Pairs from an X-Trans camera fine-tune the X-Trans model (tests/test_xtrans_finetune.py):
    the pair checks read such files, their greens found by the 6x6 pattern."""
    from engine.finetune.pair_checks import read_summary

    summary = read_summary(_xtrans_dng(tmp_path / "x.dng", 120, 180, ratio=1.0, noise=0.0))
    assert (summary.cfa, summary.sensor) == ("X-Trans", "x-trans")
    assert summary.green.shape == (40, 60) and summary.thumb_scale == 3.0
    green = smooth_scene(120, 180, seed=2)[..., 1].reshape(40, 3, 60, 3).mean(axis=(1, 3))
    assert np.abs(summary.green - green).max() < 0.02
