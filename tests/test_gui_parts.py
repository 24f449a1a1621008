"""Window parts on their own: geometry, the viewer, the exposure slider, settings, workers."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6.QtCore import QObject, QPoint, QPointF, QSettings, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from darkroom_app.controls import ExposurePanel, ExposureSlider
from darkroom_app.geometry import (
    display_to_sensor,
    oriented_size,
    sensor_region,
    sensor_to_display,
)
from darkroom_app.histogram import HistogramView
from darkroom_app.info_panel import format_exposure_time
from darkroom_app.preview_render import histogram
from darkroom_app.settings import AppSettings
from darkroom_app.viewer import BeforeAfterView
from darkroom_app.workers import Job, live_jobs
from engine.io import read_raw
from engine.render import Enhancer


@pytest.mark.parametrize("flip", range(8))
def test_display_and_sensor_rectangles_round_trip(flip: int) -> None:
    rect = (10, 20, 30, 40)
    sensor = display_to_sensor(rect, 100, 160, flip)
    assert sensor_to_display(sensor, 100, 160, flip) == rect
    h, w = oriented_size(100, 160, flip)
    assert display_to_sensor((0, 0, h, w), 100, 160, flip) == (0, 0, 100, 160)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_region_preview_matches_the_full_render(make_dng, orientation: int) -> None:
    """A region render lands exactly where the same pixels are in the full image."""
    frame = read_raw(make_dng("o.dng", height=96, width=128, ratio=4.0, orientation=orientation))
    enhancer = Enhancer("none", device="cpu")
    full = enhancer.render(frame, 4.0).srgb
    wanted = (21.5, 13.2, 37.0, 29.0)  # fractional display rect, as a zoomed view gives
    region = sensor_region(wanted, frame.height, frame.width, frame.orientation)
    assert all(v % 2 == 0 for v in region)
    preview = enhancer.render_preview(frame, 4.0, max_side=4096, region=region)
    out = preview.srgb
    assert preview.covers == region
    top, left, h, w = sensor_to_display(region, frame.height, frame.width, frame.orientation)
    assert out.shape[:2] == (h, w)
    assert top <= 21.5 and left <= 13.2 and top + h >= 58.5 and left + w >= 42.2
    inner = (slice(3, -3), slice(3, -3))  # demosaicking differs at the crop's own border
    np.testing.assert_allclose(out[inner], full[top : top + h, left : left + w][inner], atol=0.02)


def test_preview_coverage_matches_binned_output(make_dng) -> None:
    frame = read_raw(make_dng("b.dng", height=100, width=150))
    out = Enhancer("none").render_preview(frame, 1.0, max_side=40, region=(2, 4, 90, 130))
    factor = 4  # ceil(130 / 40); bins of 8 sensor pixels keep 88 x 128 of the region
    assert out.covers == (2, 4, 88, 128)
    assert out.srgb.shape[:2] == (88 // factor, 128 // factor)


def test_exposure_slider_is_logarithmic(qtbot) -> None:
    panel = ExposurePanel()
    qtbot.addWidget(panel)
    slider = panel.slider
    assert slider.objectName() == "exposureSlider"
    assert ExposureSlider.value_for(1) == 0 and ExposureSlider.value_for(300) == 1000
    assert ExposureSlider.ratio_for(500) == pytest.approx(300**0.5)
    # Equal travel = equal factor: x3 -> x30 is as far as x10 -> x100.
    a = ExposureSlider.value_for(30) - ExposureSlider.value_for(3)
    b = ExposureSlider.value_for(100) - ExposureSlider.value_for(10)
    assert abs(a - b) <= 1
    seen: list[float] = []
    panel.ratioChanged.connect(seen.append)
    slider.setValue(500)
    assert seen == [pytest.approx(17.3)] and panel.spin.value() == pytest.approx(17.3)
    panel.spin.setValue(750)  # typed beyond the slider's range
    assert seen[-1] == 750 and slider.value() == 1000 and panel.ratio() == 750
    assert panel.set_ratio(5000) == 1000 and panel.set_ratio(0.1) == 1


def test_viewer_zoom_pan_split_and_modes(qtbot) -> None:
    view = BeforeAfterView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    view.set_image_size(800, 400)
    before, after = (
        QImage(80, 40, QImage.Format.Format_RGB888),
        QImage(80, 40, QImage.Format.Format_RGB888),
    )
    before.fill(Qt.GlobalColor.black)
    after.fill(Qt.GlobalColor.white)
    view.set_base(before, after, (0, 0, 400, 800))
    assert view.is_fit and view.scale == pytest.approx(0.5)
    assert view.shows_whole_image()

    anchor = QPointF(100, 120)
    point = view.to_image(anchor)
    wheel = QWheelEvent(anchor, view.mapToGlobal(anchor), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)  # fmt: skip
    QApplication.sendEvent(view, wheel)
    assert view.scale == pytest.approx(0.5 * 1.25**2)
    assert view.to_image(anchor).x() == pytest.approx(point.x())  # zoom kept the cursor point
    assert view.to_image(anchor).y() == pytest.approx(point.y())
    assert not view.shows_whole_image()

    centre = view.to_image(QPointF(200, 150))
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(300, 150))
    qtbot.mouseMove(view, QPoint(260, 130))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(260, 130))
    moved = view.to_image(QPointF(200, 150)) - centre
    assert moved.x() == pytest.approx(40 / view.scale) and moved.y() == pytest.approx(
        20 / view.scale
    )

    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(200, 100))  # on the split
    qtbot.mouseMove(view, QPoint(100, 100))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    assert view.split == pytest.approx(0.25)

    view.zoom_actual()
    assert view.scale == pytest.approx(1 / view.devicePixelRatioF()) and not view.is_fit
    view.set_mode("side")
    panes = view.panes()
    assert [which for _, which in panes] == ["before", "after"]
    view.zoom_fit()
    # Side by side, Fit fills the panes' full height (the photo's sides are panned to).
    assert view.scale == pytest.approx(panes[0][0].height() / 400)
    img = view.grab().toImage()
    for y in (2, 150, 297):  # top to bottom of the viewer: the photo, not empty margins
        assert img.pixelColor(50, y).lightness() < 60 and img.pixelColor(350, y).lightness() > 200
    with pytest.raises(ValueError):
        view.set_mode("sideways")


def test_histogram_counts_and_paint(qtbot) -> None:
    pixels = np.zeros((10, 20, 3), np.uint8)
    pixels[:, :10] = (255, 0, 0)
    counts = histogram(pixels)
    assert counts.shape == (4, 256) and counts[0, 255] == 100 and counts[1, 0] == 200
    assert counts[3, 54 * 255 >> 8] == 100  # luminance of pure red (Rec. 709 weights)
    view = HistogramView()
    qtbot.addWidget(view)
    view.resize(256, 100)
    view.set_counts(counts)
    assert not view.grab().toImage().isNull()


def test_settings_survive_garbage(tmp_path: Path) -> None:
    store = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    store.setValue("view/ratio", "lots")
    store.setValue("view/splitMode", "diagonal")
    store.setValue("compute/device", "tpu")
    store.setValue("session/recentFiles", "/only/one.dng")
    s = AppSettings(store)
    assert s.ratio == 100.0 and s.split_mode == "wipe" and s.device == "auto"
    assert s.recent_files == ["/only/one.dng"]
    for i in range(12):
        s.add_recent(f"/p/{i}.dng")
    assert len(s.recent_files) == 10 and s.recent_files[0] == "/p/11.dng"
    s.ratio = 5000
    assert s.ratio == 1000.0


def test_exposure_time_formatting() -> None:
    assert format_exposure_time(1 / 250) == "1/250 s"
    assert format_exposure_time(2.0) == "2 s"
    assert format_exposure_time(None) == "unknown"


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="singletons are immortal on 3.12+")
def test_signal_storm_does_not_exhaust_singletons(qtbot) -> None:
    """PySide6 6.12.0 on CPython 3.11 over-releases True on every emit and aborts the process
    after a few hundred signals; pyproject.toml excludes it. This guards against a regression."""

    class Emitter(QObject):
        ping = Signal()

    emitter, seen = Emitter(), []
    emitter.ping.connect(lambda: seen.append(1))
    for _ in range(5000):
        emitter.ping.emit()
    assert len(seen) == 5000


def test_preferences_offer_only_available_devices(qtbot, tmp_path: Path) -> None:
    from PySide6.QtGui import QStandardItemModel

    from darkroom_app.preferences import PreferencesDialog, available_devices

    dialog = PreferencesDialog("cuda", tmp_path, None)
    qtbot.addWidget(dialog)
    model = dialog.device_combo.model()
    assert isinstance(model, QStandardItemModel)
    enabled = {
        dialog.device_combo.itemData(i): model.item(i).isEnabled()
        for i in range(dialog.device_combo.count())
    }
    assert list(enabled) == ["auto", "cpu", "cuda", "mps"]
    assert enabled == {key: key in available_devices() for key in enabled}
    assert enabled["auto"] and enabled["cpu"]
    expected = "cuda" if enabled["cuda"] else "auto"  # an unavailable choice falls back
    assert dialog.device() == expected and dialog.models_dir() == tmp_path


def test_a_job_stays_live_until_its_run_and_its_report_are_both_over(qtbot) -> None:
    pool = QThreadPool()
    go_on, reports = threading.Event(), []
    job = Job(lambda _token, _progress: go_on.wait(5), name="held")
    job.on_done(lambda _job, outcome: reports.append(outcome.status))
    before = live_jobs()
    job.start(pool)
    assert live_jobs() == before + 1
    go_on.set()
    pool.waitForDone()
    assert live_jobs() == before + 1  # run() is over; its report is still queued
    qtbot.waitUntil(lambda: reports == ["ok"], timeout=5000)
    assert live_jobs() == before
    with pytest.raises(RuntimeError, match="already started"):
        job.start(pool)
    with pytest.raises(RuntimeError, match="before starting"):
        job.on_done(lambda _job, _outcome: None)
