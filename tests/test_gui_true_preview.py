"""What you see is what you export (issue 20, part 1): the viewer's true render, stand-ins."""

# The window fixtures are test_gui_window's, imported by name (pytest finds them so).
# ruff: noqa: F811

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from darkroom_app import preview as preview_module
from engine.models import ModelCard, create_model, save_model
from tests.test_gui_window import TIMEOUT_MS, make_window, settings  # noqa: F401


def _exported_region(window, tmp_path: Path, name: str) -> np.ndarray:
    """The 16-bit TIFF export of the current photo, cut to the visible region, as 8 bits."""
    path = window.export_to(tmp_path / f"{name}.tif", format="tiff", bits=16)
    pixels = tifffile.imread(path).astype(np.float64)
    x, y, w, h = window.visible_region()
    return np.rint(pixels[y : y + h, x : x + w] / 257.0)


def test_the_100_percent_view_is_the_exports_pixels(qtbot, make_window, make_dng,
                                                    tmp_path: Path) -> None:  # fmt: skip
    # Larger than the viewer at 100 % on any screen (1.0 or 2.0 device pixels per point).
    path = make_dng("big.dng", height=1000, width=1500, ratio=40.0, noise=2.0, orientation=6)
    window = make_window(path)
    window.resize(820, 620)  # the photo is larger than the viewer at 100 %
    assert window.set_model("fast")
    window.set_ratio(40.0)
    window.set_zoom(1.0)
    assert window.wait_until_rendered(60)
    x, y, w, h = window.visible_region()
    assert 0 < w < 1000 and 0 < h < 1500  # a region of the portrait photo, not all of it
    assert window.viewer.detail_layer is not None
    after = window.after_image()
    assert after.shape == (h, w, 3)
    assert np.abs(after - _exported_region(window, tmp_path, "first")).max() <= 1
    window.viewer.pan_by(-37, -21)  # odd offsets, somewhere else
    assert window.wait_until_rendered(60)
    assert window.visible_region() != (x, y, w, h)
    after = window.after_image()
    assert np.abs(after - _exported_region(window, tmp_path, "panned")).max() <= 1
    assert "showing" not in window.viewer.after_label


def _slow_model(folder: Path) -> None:
    """A user model of the baseline architecture: on a CPU the ``fast`` network stands in."""
    model = create_model("baseline", base_features=4)
    save_model(model, ModelCard(name="tiny", architecture="baseline", config=model.config),
               folder / "tiny.safetensors")  # fmt: skip


def test_a_stand_in_comes_first_and_the_true_render_replaces_it(
    qtbot, make_window, make_dng, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(preview_module, "stand_in_available", lambda: True)
    _slow_model(tmp_path / "models")
    window = make_window(make_dng("night.dng", height=128, width=192, ratio=50.0, noise=1.0))
    assert window.wait_until_rendered(60)
    seen: list[tuple[str, bool, str]] = []
    window.previewReady.connect(lambda _: seen.append(
        (window.last_preview.request.drawn_by, window.preview.is_rendered(),
         window.viewer.after_label)))  # fmt: skip
    assert window.set_model("tiny")
    assert not window.preview.is_rendered()  # the model changed: not on screen yet
    assert window.wait_until_rendered(60)
    assert [drawn_by for drawn_by, _, _ in seen] == ["fast", "tiny"]
    (_, stand_in_done, stand_in_label), (_, true_done, true_label) = seen
    assert not stand_in_done and "(showing fast until tiny is ready)" in stand_in_label
    assert true_done and "showing" not in true_label and "tiny" in true_label
    assert window.last_preview.request.preview_model is None


def test_the_fit_view_is_the_chosen_model_at_screen_size(qtbot, make_window,
                                                         make_dng) -> None:  # fmt: skip
    window = make_window(make_dng("wide.dng", height=600, width=900, ratio=20.0, noise=1.0))
    window.resize(700, 560)
    assert window.set_model("fast")
    assert window.wait_until_rendered(60)
    request = window.last_preview.request
    assert request.region is None and request.preview_model is None
    pane_w, pane_h = window.viewer.pane_device_size()
    scale = window.viewer.scale * window.viewer.devicePixelRatioF()
    assert scale < 1 and request.max_side == max(64, min(round(900 * scale + 0.5),
                                                         max(pane_w, pane_h)))  # fmt: skip
    shown = window.after_image()
    assert abs(shown.shape[1] - round(900 * scale)) <= 1  # the screen's own resolution
