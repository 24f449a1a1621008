"""The window's Amount control: preview, export, label and settings follow it."""

# The window fixtures are test_gui_window's, imported by name (pytest finds them so).
# ruff: noqa: F811

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np

from darkroom_app import preview as preview_module
from engine.models import ModelCard, create_model, save_model
from tests.test_gui_window import TIMEOUT_MS, make_window, night_dng, settings  # noqa: F401


def _tiny_model(folder: Path) -> None:
    model = create_model("baseline", base_features=4)
    save_model(model, ModelCard(name="tiny", architecture="baseline", config=model.config),
               folder / "tiny.safetensors")  # fmt: skip


def _qimage_array(image) -> np.ndarray:
    ptr = image.constBits()
    return np.array(ptr, copy=True).reshape(image.height(), image.bytesPerLine())


def test_amount_zero_shows_and_exports_the_classical_render(
    qtbot,
    make_window,
    night_dng: Path,
    tmp_path: Path,
    monkeypatch,
    settings,
) -> None:
    monkeypatch.setattr(preview_module, "stand_in_available", lambda: False)
    _tiny_model(tmp_path / "models")
    window = make_window(night_dng)
    window.set_before_mode("same")  # before = classical at the same ratio
    with qtbot.waitSignal(window.previewReady, timeout=TIMEOUT_MS):
        assert window.set_model("tiny")
    amount = window.ui.amount
    assert amount.isEnabled() and amount.amount() == 1.0
    with qtbot.waitSignal(window.previewReady, timeout=TIMEOUT_MS):
        amount.slider.setValue(0)  # as if dragged all the way down
    assert window.session.amount == 0.0 and window.last_preview.request.amount == 0.0
    assert "0 %" in window.viewer.after_label and amount.value_label.text() == "0 %"
    layer = window.viewer.base_layer
    np.testing.assert_array_equal(_qimage_array(layer.after), _qimage_array(layer.before))
    zero = window.export_to(tmp_path / "zero.png", format="png", bits=16)
    window.set_model("none")
    assert not amount.isEnabled()  # nothing to dose in the classical render
    classical = window.export_to(tmp_path / "none.png", format="png", bits=16)
    np.testing.assert_array_equal(iio.imread(zero), iio.imread(classical))
    assert settings.value("view/amount") in (0.0, "0.0", 0)


def test_amount_is_remembered(qtbot, make_window, night_dng: Path, settings) -> None:
    window = make_window(night_dng)
    window.ui.amount.slider.setValue(41)
    assert window.session.amount == 0.41
    window.close()
    again = make_window(night_dng)
    assert again.ui.amount.amount() == 0.41 and again.session.amount == 0.41
