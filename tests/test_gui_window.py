"""The Darkroom window end to end, offscreen: open, preview, export, errors, settings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QThreadPool, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QDialog, QLabel, QMessageBox, QProgressBar, QSlider, QWidget

from darkroom_app import create_window
from darkroom_app.controls import ExposureSlider
from darkroom_app.export_dialog import ExportDialog
from darkroom_app.main_window import MainWindow
from engine.errors import ExportError
from engine.io import ExportOptions
from engine.models import DEFAULT_MODEL
from engine.render import Enhancer
from engine.resources import sample_raw_path
from tests.qt_settings import assert_no_live_jobs, isolated_settings

TIMEOUT_MS = 15_000


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[QSettings]:
    """Isolated settings (see tests/qt_settings.py)."""
    store = isolated_settings(tmp_path)
    yield store
    store.sync()


@pytest.fixture
def make_window(qtbot, settings: QSettings) -> Iterator[Callable[..., MainWindow]]:
    """Factory for shown windows; teardown closes them and checks no thread or job is left."""
    windows: list[MainWindow] = []

    def factory(*files: Path | str, wait_preview: bool = True) -> MainWindow:
        argv = ["darkroom", *map(str, files)] if files else None
        window = create_window(argv, settings)
        windows.append(window)
        window.show()
        if wait_preview:
            qtbot.waitUntil(lambda: window.last_preview is not None, timeout=TIMEOUT_MS)
        return window

    yield factory
    for window in windows:
        for box in window.findChildren(QMessageBox):
            box.close()
        window.close()
        assert window.preview_pool.activeThreadCount() == 0
        assert window.export_pool.activeThreadCount() == 0
    QThreadPool.globalInstance().waitForDone(5000)
    assert QThreadPool.globalInstance().activeThreadCount() == 0
    assert_no_live_jobs(qtbot)


@pytest.fixture
def night_dng(make_dng) -> Path:
    """A dark (x50 underexposed), slightly noisy RAW."""
    return make_dng("night.dng", height=128, width=192, ratio=50.0, noise=1.0)


def preview_at(qtbot, window: MainWindow, ratio: float) -> float:
    """Set the ratio, wait for its preview, return the preview's mean brightness."""
    with qtbot.waitSignal(window.previewReady, timeout=TIMEOUT_MS) as blocker:
        window.set_ratio(ratio)
    assert blocker.args == [pytest.approx(ratio)]
    return window.last_preview.after_mean


def test_opens_a_generated_dng(make_window, night_dng: Path) -> None:
    window = make_window(night_dng)
    assert window.session.path == str(night_dng)
    assert window.windowTitle().startswith("night.dng")
    info = window.ui.info
    assert info.text("Camera") == "Darkroom Synthetic"
    assert info.text("Dimensions").startswith("192 × 128")
    assert not info.form.isRowVisible(info.labels["Sensor area"])  # no crop in this file
    base = window.viewer.base_layer
    assert base is not None and base.rect.width() == 192 and base.rect.height() == 128
    assert window.ui.histogram.counts is not None
    for name in ("openAction", "exportAction"):
        assert window.findChild(type(window.ui.open_action), name) is not None
    names = ("exposureSlider", "ratioSpinBox", "autoRatioButton", "modelCombo",
             "beforeAfterView", "splitModeCombo", "renderProgress", "histogramView")  # fmt: skip
    for name in names:
        assert window.findChild(QWidget, name) is not None, name


def test_a_cropped_dng_shows_and_exports_its_picture(qtbot, make_window, tmp_path: Path) -> None:
    """A DNG's default crop frames the view, the info panel and the export (rotated 90°)."""
    from tests.test_framing import CASES, _write

    path = _write(tmp_path / "cropped.dng", "GRBG", "active area + odd crop", orientation=6)
    crop = CASES["active area + odd crop"][3]  # (top, left, 51 rows, 77 columns) of 60 x 88
    window = make_window(path)
    assert window.ui.info.text("Dimensions").startswith(f"{crop[2]} × {crop[3]}")
    assert window.ui.info.text("Sensor area").startswith("60 × 88")
    assert window.viewer.image_size == (crop[2], crop[3])  # rotated: 51 wide, 77 high
    base = window.viewer.base_layer  # a binned preview: up to a bin short at the far edges
    assert base is not None and base.rect.topLeft().toTuple() == (0, 0)
    assert crop[2] - 4 <= base.rect.width() <= crop[2]
    assert crop[3] - 4 <= base.rect.height() <= crop[3]
    jpeg = window.export_to(tmp_path / "out" / "cropped.jpg")
    with Image.open(jpeg) as img:
        assert img.size == (crop[2], crop[3])


def test_a_singular_colour_matrix_is_shown_with_a_note(
    qtbot, make_window, make_dng, tmp_path: Path
) -> None:
    """Damaged metadata the picture does not need: it opens and renders, and says so."""
    bad = make_dng("singular.dng", xyz_to_cam=np.ones((3, 3)))
    window = make_window(bad)
    info = window.ui.info
    assert info.form.isRowVisible(info.labels["Warnings"])
    assert "colour matrix is unusable" in info.text("Warnings")
    assert window.last_preview is not None and window.last_preview.after_mean > 0.01
    assert "colour matrix" in window.statusBar().currentMessage()


def test_slider_drives_live_preview_brighter(qtbot, make_window, night_dng: Path) -> None:
    window = make_window(night_dng)
    dark = preview_at(qtbot, window, 1.0)
    slider = window.findChild(QSlider, "exposureSlider")
    assert isinstance(slider, ExposureSlider)
    with qtbot.waitSignal(window.previewReady, timeout=TIMEOUT_MS) as blocker:
        slider.setValue(ExposureSlider.value_for(50.0))  # as if dragged
    assert blocker.args[0] == pytest.approx(50.0, rel=0.02)
    bright = window.last_preview.after_mean
    assert window.ui.exposure.spin.value() == pytest.approx(50.0, rel=0.02)
    assert bright > dark * 3 and bright > 0.2
    assert preview_at(qtbot, window, 200.0) > bright
    qtbot.waitUntil(lambda: not window.ui.preview_busy.isVisible(), timeout=TIMEOUT_MS)


def test_burst_of_changes_renders_only_the_newest(qtbot, make_window, night_dng: Path) -> None:
    window = make_window(night_dng)
    shown: list[float] = []
    window.previewReady.connect(shown.append)
    with qtbot.waitSignal(window.previewReady, timeout=TIMEOUT_MS):
        for ratio in range(2, 40, 3):  # one burst: the debounce timer restarts each time
            window.set_ratio(ratio)
    qtbot.wait(200)
    assert shown == [38.0]
    # A newer request cancels the older job through its token.
    window.set_ratio(5)
    window.preview.render_now()
    first = window.preview.jobs[-1]
    window.set_ratio(9)
    window.preview.render_now()
    assert first.cancelled and not window.preview.jobs[-1].cancelled
    qtbot.waitUntil(lambda: not window.preview.jobs, timeout=TIMEOUT_MS)
    assert window.last_preview.request.ratio == 9.0


def test_auto_button_uses_estimate(qtbot, make_window, night_dng: Path) -> None:
    window = make_window(night_dng)
    # A photo opens at its Auto ratio the first time.
    assert window.session.ratio == pytest.approx(round(window.session.auto_ratio, 1))
    preview_at(qtbot, window, 3.0)
    with qtbot.waitSignal(window.previewReady, timeout=TIMEOUT_MS):
        qtbot.mouseClick(window.ui.exposure.auto_button, Qt.MouseButton.LeftButton)
    assert window.session.auto_ratio is not None and 10 < window.session.auto_ratio < 200
    assert window.session.ratio == pytest.approx(round(window.session.auto_ratio, 1))


def test_export_jpeg_and_16bit_tiff(qtbot, make_window, night_dng: Path, tmp_path: Path) -> None:
    import tifffile

    window = make_window(night_dng)
    window.set_ratio(50)
    jpeg = window.export_to(tmp_path / "out" / "night.jpg", format="jpeg", quality=90)
    with Image.open(jpeg) as img:
        assert img.size == (192, 128)
        assert img.getexif().get(0x010F) == "Darkroom"  # Make carried over
        assert 60 < np.asarray(img).mean() < 250
    tiff = window.export_to(tmp_path / "out" / "night.tif", format="tiff", bits=16,
                            keep_metadata=False)  # fmt: skip
    pixels = tifffile.imread(tiff)
    assert pixels.dtype == np.uint16 and pixels.shape == (128, 192, 3)
    assert pixels.max() > 20000
    with tifffile.TiffFile(tiff) as tf:
        assert "Make" not in tf.pages[0].tags
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["night.jpg", "night.tif"]


def test_cancel_render_leaves_no_file(
    qtbot, make_window, night_dng: Path, tmp_path: Path, monkeypatch
) -> None:
    window = make_window(night_dng)
    started = threading.Event()
    real_render = Enhancer.render

    def slow_render(self, frame, ratio, progress=None, cancel=None, amount=1.0):  # type: ignore[no-untyped-def]
        started.set()
        deadline = time.monotonic() + 10
        while cancel is not None and not cancel.cancelled and time.monotonic() < deadline:
            time.sleep(0.005)
        return real_render(self, frame, ratio, progress, cancel, amount)  # raises Cancelled

    monkeypatch.setattr(Enhancer, "render", slow_render)
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    window.start_export(out_dir / "night.png", ExportOptions(fmt="png", bits=16))
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    progress = window.findChild(QProgressBar, "renderProgress")
    assert progress.isVisible() and window.ui.cancel_button.isEnabled()
    with qtbot.waitSignal(window.renderFinished, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(window.ui.cancel_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["cancelled"]
    assert list(out_dir.iterdir()) == []  # no file, no .part left behind
    assert not progress.isVisible()


def test_export_failure_shows_dialog_and_keeps_files(
    qtbot, make_window, night_dng: Path, tmp_path: Path
) -> None:
    window = make_window(night_dng)
    existing = tmp_path / "taken.jpg"
    existing.write_bytes(b"precious")
    with qtbot.waitSignal(window.errorShown, timeout=TIMEOUT_MS) as blocker:
        window.start_export(existing, ExportOptions())
    assert blocker.args[0] == "Export failed" and "exists" in blocker.args[1]
    assert existing.read_bytes() == b"precious"
    boxes = window.findChildren(QMessageBox, "errorDialog")
    assert boxes and boxes[-1].isVisible() and "exists" in boxes[-1].text()
    boxes[-1].close()
    # The original RAW is never overwritten, even when asked to.
    before = night_dng.read_bytes()
    with pytest.raises(ExportError, match="overwrite the input"):
        window.export_to(night_dng, format="dng", overwrite=True)
    assert night_dng.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bad_file_shows_error_and_keeps_previous_photo(
    qtbot, make_window, night_dng: Path, tmp_path: Path
) -> None:
    window = make_window(night_dng)
    bad = tmp_path / "broken.nef"
    bad.write_bytes(b"this is not a raw file" * 100)
    with qtbot.waitSignal(window.errorShown, timeout=TIMEOUT_MS) as blocker:
        assert window.open_path(bad, wait=True) is False
    title, message = blocker.args
    assert title == "Cannot open photo" and "broken.nef" in message and "\n" not in message
    box = window.findChildren(QMessageBox, "errorDialog")[-1]
    assert box.isVisible() and box.text() == message  # shown without blocking the event loop
    box.close()
    assert window.session.path == str(night_dng) and window.session.frame is not None
    assert preview_at(qtbot, window, 30.0) > 0.05  # still working on the previous photo


def test_model_combo_lists_user_model_with_card(
    qtbot, make_window, night_dng: Path, tmp_path: Path
) -> None:
    from engine.models import ModelCard, create_model, save_model

    model = create_model("baseline", base_features=4)
    card = ModelCard(name="tiny", architecture="baseline", config=dict(model.config),
                     training_data="synthetic night scenes", iterations=1234,
                     metrics={"psnr": 28.5, "ssim": 0.81})  # fmt: skip
    save_model(model, card, tmp_path / "models" / "tiny.safetensors")
    window = make_window(night_dng)
    combo = window.ui.model_combo
    labels = [combo.itemText(i) for i in range(combo.count())]
    assert labels[:4] == ["Recommended: fast", "Fastest: lite", "Strongest: attention",
                          "No enhancement (classical)"]  # fmt: skip
    assert labels.index("Your models") < labels.index("tiny") < labels.index(
        "Advanced: every model")  # fmt: skip
    for header in ("Your models", "Advanced: every model"):
        assert not combo.model().item(labels.index(header)).isEnabled()
    assert combo.models()[:4] == ["fast", "lite", "attention", "none"] and "tiny" in combo.models()
    index = combo.findData("tiny")
    tooltip = combo.itemData(index, Qt.ItemDataRole.ToolTipRole)
    for text in ("Your model", "1,234 steps", "Scores 28.5 dB"):
        assert text in tooltip
    for i in range(combo.count()):  # short sentences: no paths, dicts or long decimals
        tip = str(combo.itemData(i, Qt.ItemDataRole.ToolTipRole) or "")
        assert "/" not in tip.replace("</b>", "") and "{" not in tip and "File:" not in tip
        assert not re.search(r"\d\.\d{3}", tip), tip
    with qtbot.waitSignal(window.previewReady, timeout=TIMEOUT_MS):
        assert window.set_model("tiny")
    assert window.last_preview.request.model == "tiny"
    assert combo.toolTip() == tooltip
    assert window.ui.device_label.text() == "Device: CPU"


def test_a_failed_preview_shows_classical_and_keeps_the_saved_model(
    qtbot, make_window, night_dng: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Weights damaged after the selector listed them: the preview says why, falls back to
    the classical render, and the model the user chose stays their saved choice."""
    from darkroom_app import preview
    from engine.models import ModelCard, create_model, save_model

    monkeypatch.setattr(preview, "stand_in_available", lambda: False)  # "tiny" alone

    model = create_model("baseline", base_features=4)
    weights = tmp_path / "models" / "tiny.safetensors"
    save_model(model, ModelCard(name="tiny", architecture="baseline", config=model.config),
               weights)  # fmt: skip
    window = make_window(night_dng)
    assert "tiny" in window.ui.model_combo.models()
    weights.write_bytes(weights.read_bytes()[:100])  # the disk, not the user, did this
    with qtbot.waitSignal(window.errorShown, timeout=TIMEOUT_MS) as blocker:
        window.set_model("tiny")
    title, message = blocker.args
    assert title == "Preview failed" and "classical render instead of tiny" in message
    assert "\n" not in message
    qtbot.waitUntil(lambda: window.session.model == "none", timeout=TIMEOUT_MS)
    assert window.settings.model == "tiny"
    window.keeper.save_now()  # the photo's own settings keep the user's choice too
    from engine.render import load_photo_settings

    assert load_photo_settings(night_dng, os.environ["DARKROOM_DATA_DIR"]).model == "tiny"
    assert preview_at(qtbot, window, 30.0) > 0.05
    window.error_boxes.close_all()


def test_a_damaged_card_disables_one_model_not_the_app(
    qtbot, make_window, night_dng: Path, tmp_path: Path
) -> None:
    """A card with text where numbers belong: the window starts, lists the model greyed out
    with the reason, and the other models work."""
    import json

    from engine.models import ModelCard, create_model, save_model

    model = create_model("baseline", base_features=4)
    for name in ("tiny", "broken"):
        save_model(model, ModelCard(name=name, architecture="baseline", config=model.config),
                   tmp_path / "models" / f"{name}.safetensors")  # fmt: skip
    card = tmp_path / "models" / "broken.json"
    card.write_text(json.dumps({**json.loads(card.read_text()), "iterations": "many",
                                "metrics": {"psnr": "high"}}))  # fmt: skip
    window = make_window(night_dng)
    combo = window.ui.model_combo
    assert "tiny" in combo.models() and "broken" not in combo.models()
    index = combo.findText("broken (disabled)")
    assert index >= 0 and not combo.model().item(index).isEnabled()
    assert "iterations must be a whole number" in combo.itemData(index, Qt.ItemDataRole.ToolTipRole)
    assert not window.set_model("broken")
    with qtbot.waitSignal(window.previewReady, timeout=TIMEOUT_MS):
        assert window.set_model("tiny")


def test_the_session_drives_the_window(qtbot, make_window, night_dng: Path) -> None:
    window = make_window(night_dng)
    session = window.session
    with qtbot.waitSignal(window.previewReady, timeout=TIMEOUT_MS) as blocker:
        session.set_ratio(33.33)  # as a part of the window would: the control keeps 1 decimal
    assert blocker.args == [pytest.approx(33.3)]
    assert session.ratio == window.ui.exposure.ratio() == pytest.approx(33.3)
    assert window.settings.ratio == pytest.approx(33.3)
    assert not window.set_model("no such model")  # not listed: the session goes back
    # ... to the model a fresh window starts on: the bundled default.
    assert session.model == window.ui.model_combo.current_model() == DEFAULT_MODEL
    session.say("Working…", 0)
    assert window.statusBar().currentMessage() == "Working…"
    with qtbot.waitSignal(window.errorShown) as blocker:
        session.tell("Something failed", "in one line")
    assert blocker.args == ["Something failed", "in one line"]
    assert window.findChildren(QMessageBox, "errorDialog")[-1].text() == "in one line"


def test_settings_round_trip(qtbot, make_window, night_dng: Path, settings: QSettings) -> None:
    window = make_window(night_dng)
    preview_at(qtbot, window, 42.0)
    window.set_split_mode("side")
    window.set_before_mode("x1")
    assert window.set_model("none")  # away from the default, so the round trip shows
    window.resize(720, 540)  # fits the offscreen screen (800 x 600)
    window.apply_preferences("cpu", Path(settings.value("compute/userModelsDir")))
    window.close()

    again = make_window()  # no file given: reopens the last session's photo
    assert again.session.path == str(night_dng)
    assert again.session.ratio == 42.0
    assert again.ui.split_combo.currentData() == "side" and again.viewer.mode == "side"
    assert again.ui.before_combo.currentData() == "x1"
    assert again.ui.model_combo.current_model() == "none"
    assert again.settings.device == "cpu"
    assert again.settings.recent_files[0] == str(night_dng)
    assert again.settings.last_folder == str(night_dng.parent)
    assert (again.width(), again.height()) == (720, 540)


def test_first_launch_opens_sample_and_help_reopens_it(qtbot, make_window, night_dng) -> None:
    window = make_window()
    assert window.session.path == str(sample_raw_path())
    window.open_path(night_dng, wait=True)
    with qtbot.waitSignal(window.photoLoaded, timeout=TIMEOUT_MS) as blocker:
        window.ui.sample_action.trigger()
    assert blocker.args == [str(sample_raw_path())]


def test_drop_and_recent_files(qtbot, make_window, make_dng, night_dng: Path) -> None:
    window = make_window(night_dng)
    other = make_dng("other.dng", height=64, width=96, ratio=20.0)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(other))])
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)  # fmt: skip
    with qtbot.waitSignal(window.photoLoaded, timeout=TIMEOUT_MS) as blocker:
        window.dropEvent(drop)
    assert blocker.args == [str(other)]
    recent = window.ui.recent_menu
    assert recent.paths() == [str(other), str(night_dng)]
    with qtbot.waitSignal(window.photoLoaded, timeout=TIMEOUT_MS) as blocker:
        recent.actions()[1].trigger()
    assert blocker.args == [str(night_dng)]
    assert recent.paths()[0] == str(night_dng)


def test_zoomed_view_previews_the_visible_region(qtbot, make_window, make_dng) -> None:
    path = make_dng("wide.dng", height=256, width=384, ratio=30.0, orientation=6)
    window = make_window(path)
    viewer = window.viewer
    assert (viewer.base_layer.rect.width(), viewer.base_layer.rect.height()) == (256, 384)
    with qtbot.waitSignal(window.previewReady, timeout=TIMEOUT_MS):
        viewer.set_zoom(viewer.fit_scale() * 4, QPointF(viewer.width() / 2, viewer.height() / 2))
    request = window.last_preview.request
    assert request.region is not None
    detail = viewer.detail_layer
    assert detail is not None
    seen = viewer.visible_image_rect()
    assert detail.rect.contains(seen.adjusted(1, 1, -1, -1))
    assert detail.rect.width() < 256 and detail.rect.height() < 384
    with qtbot.waitSignal(window.previewReady, timeout=TIMEOUT_MS):
        viewer.zoom_fit()
    assert window.last_preview.request.region is None and viewer.detail_layer is None


def test_wipe_shows_before_left_and_hold_key(qtbot, make_window, night_dng: Path) -> None:
    window = make_window(night_dng)
    window.set_split_mode("wipe")
    with qtbot.waitSignal(window.previewReady, timeout=TIMEOUT_MS):
        window.set_before_mode("x1")  # before = as recorded: much darker than the output
    preview_at(qtbot, window, 60.0)
    viewer = window.viewer

    def half_means() -> tuple[float, float]:
        img = viewer.grab().toImage().convertToFormat(viewer.grab().toImage().Format.Format_RGB888)
        arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
        arr = arr[:, : img.width() * 3].reshape(img.height(), img.width(), 3)
        seen = viewer.visible_image_rect()
        top = int(viewer.height() / 2 - seen.height() * viewer.scale / 2) + 5
        rows = arr[top : top + 20]
        w = img.width()
        return float(rows[:, w // 8 : w * 3 // 8].mean()), float(
            rows[:, w * 5 // 8 : w * 7 // 8].mean()
        )

    left, right = half_means()
    assert right > left + 30
    qtbot.keyPress(viewer, Qt.Key.Key_Backslash)
    assert viewer.showing_before
    left_held, right_held = half_means()
    assert abs(right_held - left_held) < 15
    qtbot.keyRelease(viewer, Qt.Key.Key_Backslash)
    assert not viewer.showing_before


def test_export_dialog_options(qtbot, night_dng: Path, tmp_path: Path) -> None:
    dialog = ExportDialog(night_dng, tmp_path, fmt="tiff", bits=16)
    qtbot.addWidget(dialog)
    assert dialog.path() == tmp_path / "night-darkroom.tif"
    assert dialog.options().bits == 16 and dialog.bits_combo.isEnabled()
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("jpeg"))
    opts = dialog.options()
    assert opts.fmt == "jpeg" and opts.bits == 8 and dialog.path().suffix == ".jpg"
    assert not dialog.bits_combo.isEnabled() and dialog.quality_spin.isEnabled()
    dialog.metadata_check.setChecked(False)
    (tmp_path / "night-darkroom.png").touch()
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("png"))
    opts = dialog.options()
    assert dialog.path().name == "night-darkroom-2.png" and not opts.keep_metadata
    assert not opts.overwrite


def test_export_of_the_bundled_sample_defaults_outside_the_installation(
    qtbot, make_window, night_dng: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import platformdirs

    from engine.io import is_inside_install

    pictures = tmp_path / "Pictures"
    monkeypatch.setattr(platformdirs, "user_pictures_dir", lambda: str(pictures))
    window = make_window()
    assert window.session.path == str(sample_raw_path())
    window.settings.export_folder = str(sample_raw_path().parent)  # remembered by an old version
    window.exporter.choose()
    dialog = window.exporter.dialog
    assert dialog is not None
    assert dialog.path().parent == pictures and not is_inside_install(dialog.path())
    assert dialog.path().name == f"{sample_raw_path().stem}-darkroom.jpg"
    dialog.reject()
    window.open_path(night_dng, wait=True)  # an ordinary photo: its own folder
    window.settings.export_folder = ""
    window.exporter.choose()
    assert window.exporter.dialog.path() == night_dng.parent / "night-darkroom.jpg"
    window.exporter.dialog.reject()


CTRL_E_ON_X11 = """
import sys, tempfile
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from darkroom_app import create_window
from darkroom_app.main import ensure_application
app = ensure_application()
assert "Ctrl+E" in [k.toString() for k in QKeySequence.keyBindings(
    QKeySequence.StandardKey.MoveToEndOfLine)]  # X11's bindings: a text field claims Ctrl+E
settings = QSettings(tempfile.mkstemp(suffix=".ini")[1], QSettings.Format.IniFormat)
window = create_window(["darkroom", sys.argv[1]], settings)
window.show()
for _ in range(600):
    app.processEvents()
    if window.ui.export_action.isEnabled():
        break
    QTest.qWait(50)
window.activateWindow()
assert QTest.qWaitForWindowActive(window, 5000)
window.ui.exposure.spin.setFocus()
QTest.qWait(200)
assert app.focusWidget() is window.ui.exposure.spin
QTest.keyClick(app.focusWidget(), Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
QTest.qWait(200)
print("export dialog:", window.exporter.dialog is not None and window.exporter.dialog.isVisible())
window.exporter.dialog and window.exporter.dialog.reject()
window.close()
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs Xvfb (Debian: xvfb)")
def test_ctrl_e_exports_even_from_the_ratio_box_on_x11(night_dng: Path) -> None:
    """On X11 a focused text field takes Ctrl+E (end of line) before the window's actions;
    only a real X server shows it, so this runs the window under Xvfb in a subprocess."""
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    done = subprocess.run(["xvfb-run", "-a", sys.executable, "-c", CTRL_E_ON_X11, str(night_dng)],
                          capture_output=True, text=True, timeout=180, env=env)  # fmt: skip
    if "could not load the qt platform plugin" in done.stderr.lower():
        # An X server without the libraries Qt's xcb plugin needs (Debian: libxcb-cursor0):
        # the machine cannot show the window at all, which says nothing about the shortcut.
        pytest.skip("Qt's xcb plugin cannot load under Xvfb here (missing X libraries, see ldd)")
    assert "export dialog: True" in done.stdout, done.stdout + done.stderr[-2000:]


def test_help_lists_shortcuts_and_about_shows_the_version(qtbot, make_window) -> None:
    from importlib import metadata

    window = make_window()
    window.ui.shortcuts_action.trigger()
    dialog = window.findChild(QDialog, "shortcutsDialog")
    assert dialog is not None and dialog.isVisible()
    table = dialog.findChild(QLabel, "shortcutsTable").text()
    assert "Ctrl+E" in table and "Export" in table and "Ctrl+1" in table and "F1" in table
    assert "Show the before image" in table
    dialog.reject()
    window.ui.about_action.trigger()
    about = window.findChild(QMessageBox, "aboutDialog")
    assert about is not None and f"Darkroom {metadata.version('darkroom')}" in about.text()
    about.close()


def test_a_long_camera_name_does_not_widen_the_side_panel(qtbot, make_window, make_dng) -> None:
    # Free-text facts are shortened to the panel (whole in the tooltip and in text()): a long
    # name once widened the form past the side panel and cut off its right edge.
    long_name = "Extremely Long Camera Model Name With Many Words " * 3
    window = make_window(make_dng("long.dng", height=96, width=144, model=long_name))
    info = window.ui.info
    assert info.text("Camera").endswith(long_name.strip())
    assert long_name.strip() in info.labels["Camera"].toolTip()
    assert info.minimumSizeHint().width() < 400
    # The ratio box and its Auto button end inside what the side panel shows.
    for widget in (window.ui.exposure.spin, window.ui.exposure.auto_button):
        right = widget.mapTo(window, widget.rect().topRight()).x()
        assert right <= window.width(), (widget.objectName(), right, window.width())


def test_the_info_panel_fields_fill_their_column_and_clear_their_tooltips(
    qtbot, make_window, make_dng
) -> None:
    from PySide6.QtWidgets import QFormLayout

    window = make_window(make_dng("info.dng", height=96, width=144, model="Some Camera"))
    info = window.ui.info
    # Shortened labels shrink to nothing where fields keep their size hint (macOS's style).
    assert info.form.fieldGrowthPolicy() == QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow
    assert "Some Camera" in info.labels["Camera"].toolTip()
    info.clear()
    assert info.labels["Camera"].toolTip() == "" and info.text("Camera") == "—"
