"""Per-photo settings in the window (issue 20, parts 2, 3, 5, 6): sidecars, Auto on first
open, undo/redo, copy/paste, folders and the filmstrip, export of a selection."""

# The window fixtures are test_gui_window's, imported by name (pytest finds them so).
# ruff: noqa: F811

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from engine.render import load_photo_settings, sidecar_path
from tests.test_gui_window import TIMEOUT_MS, make_window, settings  # noqa: F401


@pytest.fixture
def folder(make_dng, tmp_path: Path) -> Path:
    """Three dark RAWs of different exposures in one folder (and a file that is not a RAW)."""
    photos = tmp_path / "shoot"
    photos.mkdir()
    for i, ratio in enumerate((80.0, 20.0, 5.0)):
        path = make_dng(f"IMG_{i + 1}.dng", height=96, width=144, ratio=ratio, noise=1.0, seed=i)
        path.rename(photos / path.name)
    (photos / "notes.txt").write_text("not a photo")
    return photos


def test_a_photo_opens_with_auto_and_the_recommended_model_then_its_own(
    qtbot, make_window, folder: Path
) -> None:
    first, second = sorted(folder.glob("*.dng"))[:2]
    window = make_window(first)
    auto = window.session.auto_ratio
    assert window.current_settings() == {
        "ratio": pytest.approx(round(auto, 1)),
        "model": "fast",
        "amount": 1.0,
        "before": "same",
    }
    assert not sidecar_path(first).exists()  # opening alone writes nothing
    raw_bytes = first.read_bytes()
    window.set_ratio(33.0)
    window.set_amount(0.6)
    window.set_before_mode("x1")
    assert window.set_model("none")
    assert window.open_path(second, wait=True)
    assert window.current_settings()["ratio"] == pytest.approx(
        round(window.session.auto_ratio, 1)
    )  # not the last photo's x33
    saved = json.loads(sidecar_path(first).read_text())
    assert (saved["ratio"], saved["model"], saved["amount"], saved["before"]) == (
        33.0, "none", 0.6, "x1")  # fmt: skip
    assert first.read_bytes() == raw_bytes  # never inside the RAW
    assert window.open_path(first, wait=True)
    assert window.current_settings() == {"ratio": 33.0, "model": "none", "amount": 0.6,
                                         "before": "x1"}  # fmt: skip


def test_a_read_only_folder_keeps_settings_in_the_data_folder(
    qtbot, make_window, folder: Path, monkeypatch, tmp_path: Path
) -> None:
    photo = sorted(folder.glob("*.dng"))[0]
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode, **kw: (
            False if Path(p) == folder and mode & os.W_OK else real_access(p, mode, **kw)
        ),
    )
    window = make_window(photo)
    with qtbot.waitSignal(window.keeper.saved, timeout=TIMEOUT_MS) as blocker:
        window.set_ratio(12.0)
    written = Path(blocker.args[0])
    assert written.parent.parent == Path(os.environ["DARKROOM_DATA_DIR"])
    assert not sidecar_path(photo).exists()
    assert load_photo_settings(photo, os.environ["DARKROOM_DATA_DIR"]).ratio == 12.0


def test_undo_and_redo_settings_changes(qtbot, make_window, folder: Path) -> None:
    window = make_window(sorted(folder.glob("*.dng"))[0])
    start = window.current_settings()
    undo, redo = window.ui.undo_action, window.ui.redo_action
    assert not undo.isEnabled() and not redo.isEnabled()
    for ratio in (20.0, 25.0, 30.0):  # one drag: one undo step
        window.set_ratio(ratio)
    assert window.set_model("none")
    undo.trigger()
    assert window.current_settings()["model"] == "fast"
    undo.trigger()
    assert window.current_settings() == start
    assert not undo.isEnabled() and redo.isEnabled()
    redo.trigger()
    assert window.current_settings()["ratio"] == 30.0
    redo.trigger()
    assert window.current_settings()["model"] == "none"
    # Undo history belongs to a photo: opening another starts afresh.
    assert window.next_photo() is not None
    assert not undo.isEnabled()


def test_copy_and_paste_settings(qtbot, make_window, folder: Path) -> None:
    photos = sorted(folder.glob("*.dng"))
    window = make_window(photos[0])
    assert window.findChild(type(window.ui.copy_settings_action), "copySettingsAction")
    window.set_ratio(44.0)
    assert window.set_model("none")
    copied = window.copy_settings()
    assert (copied["ratio"], copied["model"]) == (44.0, "none")
    assert window.next_photo() == str(photos[1])
    assert window.current_settings()["ratio"] != 44.0
    window.ui.paste_settings_action.trigger()
    assert window.current_settings()["ratio"] == 44.0
    assert window.current_settings()["model"] == "none"
    window.ui.undo_action.trigger()  # a paste is one undo step
    assert window.current_settings()["ratio"] != 44.0
    # Pasting onto other photos writes their sidecars without opening them.
    assert window.paste_settings([str(photos[2])]) == 2
    assert load_photo_settings(photos[2], os.environ["DARKROOM_DATA_DIR"]).ratio == 44.0


def test_a_folder_opens_in_the_filmstrip(qtbot, make_window, folder: Path, tmp_path: Path) -> None:
    window = make_window()
    files = window.open_folder(folder)
    assert [Path(f).name for f in files] == ["IMG_1.dng", "IMG_2.dng", "IMG_3.dng"]
    strip = window.findChild(type(window.ui.filmstrip), "filmStrip")
    assert strip is window.ui.filmstrip and strip.count() == 3
    assert window.ui.filmstrip_dock.isVisible()
    assert window.session.path == files[0]
    qtbot.waitUntil(strip.thumbnails_done, timeout=TIMEOUT_MS)
    assert not strip.item(0).icon().isNull()
    assert window.next_photo() == files[1] and window.session.path == files[1]
    assert strip.currentItem().text() == "IMG_2.dng"
    window.ui.next_photo_action.trigger()
    window.wait_for_load()
    assert window.session.path == files[2]
    assert window.next_photo() is None  # the end of the folder
    assert window.next_photo(-1) == files[1]
    with qtbot.waitSignal(window.photoLoaded, timeout=TIMEOUT_MS):
        strip.setCurrentRow(0)  # a click or an arrow key in the strip
    assert window.session.path == files[0]


def test_a_folder_without_photos_says_so(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    with qtbot.waitSignal(window.errorShown, timeout=TIMEOUT_MS) as blocker:
        assert window.open_folder(tmp_path / "nothing-here") == []
    assert "no such folder" in blocker.args[1]
    (tmp_path / "empty").mkdir()
    with qtbot.waitSignal(window.errorShown, timeout=TIMEOUT_MS) as blocker:
        assert window.open_folder(tmp_path / "empty") == []
    assert "no RAW files" in blocker.args[1]
    for box in window.findChildren(QMessageBox):
        box.close()


def test_selected_photos_export_with_their_own_settings(
    qtbot, make_window, folder: Path, tmp_path: Path
) -> None:
    from engine.io import ExportOptions

    window = make_window()
    files = window.open_folder(folder)
    window.set_ratio(10.0)
    assert window.set_model("none")  # IMG_1: classical at x10
    assert window.next_photo() == files[1]
    window.set_ratio(4.0)  # IMG_2: the recommended model at x4
    strip = window.ui.filmstrip
    strip.item(0).setSelected(True)
    strip.item(1).setSelected(True)
    assert strip.selected_paths() == files[:2]
    out = tmp_path / "out"
    out.mkdir()
    progress: list[str] = []
    window.exporter.progress.connect(lambda _d, _t, message: progress.append(message))
    window.keeper.save_now()
    with qtbot.waitSignal(window.exporter.finished, timeout=60_000) as blocker:
        window.exporter.start_batch(strip.selected_paths(), out, ExportOptions("jpeg"),
                                    window.keeper.settings_of, interactive=False)  # fmt: skip
    outcome = blocker.args[0]
    assert outcome.status == "ok" and [o.ok for o in outcome.result] == [True, True]
    assert sorted(p.name for p in out.iterdir()) == ["IMG_1-darkroom.jpg", "IMG_2-darkroom.jpg"]
    assert [o.ratio for o in outcome.result] == [10.0, 4.0]
    assert any(m.startswith("1/2 IMG_1.dng") for m in progress)
    assert any(m.startswith("2/2 IMG_2.dng") for m in progress)


def test_cancelling_a_batch_leaves_no_partial_file(
    qtbot, make_window, folder: Path, tmp_path: Path
) -> None:
    from engine.io import ExportOptions

    window = make_window()
    files = window.open_folder(folder)
    out = tmp_path / "out"
    out.mkdir()
    job = window.exporter.start_batch(files, out, ExportOptions("tiff", bits=16),
                                      window.keeper.settings_of, interactive=False)  # fmt: skip
    job.cancel()  # before or while the first file renders
    with qtbot.waitSignal(window.exporter.finished, timeout=60_000) as blocker:
        pass
    assert blocker.args[0].status == "cancelled"
    assert not [p for p in out.iterdir() if not p.name.endswith("-darkroom.tif")]


def test_the_filmstrip_waits_for_a_folder_after_a_restart(qtbot, make_window,
                                                          folder: Path) -> None:  # fmt: skip
    window = make_window()
    window.open_folder(folder)
    assert window.ui.filmstrip_dock.isVisible()
    window.close()  # saves the layout with the strip shown
    again = make_window()
    assert not again.ui.filmstrip_dock.isVisible()
    assert again.ui.filmstrip.count() == 0


def test_export_selected_from_the_menu_with_one_photo_selected(
    qtbot, make_window, folder: Path, tmp_path: Path
) -> None:
    window = make_window()
    files = window.open_folder(folder)
    assert window.ui.filmstrip.selected_paths() == files[:1]  # the current photo
    window.ui.export_selected_action.trigger()
    dialog = window.exporter.dialog
    assert dialog is not None and dialog.batch and dialog.windowTitle() == "Export 1 Photo"
    out = tmp_path / "chosen"
    out.mkdir()
    dialog.path_edit.setText(str(out))
    with qtbot.waitSignal(window.exporter.finished, timeout=60_000) as blocker:
        dialog.accept()
    assert blocker.args[0].status == "ok"
    assert [p.name for p in out.iterdir()] == ["IMG_1-darkroom.jpg"]


def test_a_multiple_selection_survives_moving_between_its_photos(
    qtbot, make_window, folder: Path
) -> None:
    window = make_window()
    files = window.open_folder(folder)
    strip = window.ui.filmstrip
    strip.item(0).setSelected(True)
    strip.item(2).setSelected(True)
    strip.mark_current(files[2])
    assert strip.selected_paths() == [files[0], files[2]]


def test_a_saved_model_that_is_gone_opens_with_the_recommended_one(
    qtbot, make_window, folder: Path
) -> None:
    from engine.render import PhotoSettings, save_photo_settings

    photo = sorted(folder.glob("*.dng"))[0]
    save_photo_settings(photo, PhotoSettings(7.0, "deleted-model", 0.5),
                        os.environ["DARKROOM_DATA_DIR"])  # fmt: skip
    window = make_window(photo)
    assert window.current_settings() == {"ratio": 7.0, "model": "fast", "amount": 0.5,
                                         "before": "same"}  # fmt: skip
    assert "deleted-model" in window.statusBar().currentMessage()


def test_editing_keys_in_the_ratio_box_edit_its_text(qtbot, make_window, folder: Path) -> None:
    # Ctrl+Z, Ctrl+Left/Right while typing a ratio undo the typing and move by word there;
    # they must not undo the photo's settings or open another photo.
    window = make_window()
    window.open_folder(folder)  # Ctrl+Right would open the next photo
    window.wait_for_load()
    window.set_ratio(20.0)
    assert window.ui.undo_action.isEnabled()
    photo, settings_before = window.session.path, window.current_settings()
    row = window.ui.filmstrip.currentRow()
    spin = _focus_ratio_box(qtbot, window)
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "45")
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Left, Qt.Key.Key_Z):
        qtbot.keyClick(spin, key, Qt.KeyboardModifier.ControlModifier)
        window.wait_for_load()  # another photo would be opening now
        assert window.ui.filmstrip.currentRow() == row and window.session.path == photo
    assert window.current_settings() == settings_before
    assert window.ui.undo_action.isEnabled()  # nothing was undone


def test_ctrl_z_in_the_ratio_box_with_nothing_typed_undoes_the_setting(
    qtbot, make_window, folder: Path
) -> None:
    # After the box's arrows (or Enter), it has no typing to undo: Ctrl+Z is the window's.

    window = make_window(sorted(folder.glob("*.dng"))[0])
    opened_with = window.current_settings()["ratio"]
    spin = _focus_ratio_box(qtbot, window)
    qtbot.keyClick(spin, Qt.Key.Key_Up)
    assert window.current_settings()["ratio"] == opened_with + 1
    qtbot.keyClick(spin, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.current_settings()["ratio"] == opened_with


def _focus_ratio_box(qtbot, window):  # type: ignore[no-untyped-def]
    """The window's ratio box, with the keyboard focus."""
    spin = window.ui.exposure.spin
    window.activateWindow()
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus, timeout=TIMEOUT_MS)
    return spin
