"""The fine-tune panel and the model library dialog, offscreen, on tiny generated tripod pairs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import torch
from PySide6.QtCore import QSettings, Qt, QThreadPool
from PySide6.QtWidgets import QDialog, QDockWidget, QInputDialog, QMessageBox

from darkroom_app import create_window
from darkroom_app import finetune_panel as panel_module
from darkroom_app.finetune_panel import FineTunePanel
from darkroom_app.finetune_widgets import PROBLEM_COLOUR, SUSPECT_COLOUR
from darkroom_app.main_window import MainWindow
from darkroom_app.model_library_dialog import ModelLibraryDialog
from engine.finetune import FinetuneProgress, FinetuneRequest, FinetuneResult, PauseToken
from engine.jobs import CancelToken
from engine.models import ModelCard, create_model, save_model
from engine.noise import NoiseParams
from tests.qt_settings import assert_no_live_jobs, isolated_settings
from tests.test_pairing import shoot as pairing_shoot
from tests.test_pairing import textured_scene

pytestmark = pytest.mark.usefixtures("one_torch_thread")


TIMEOUT_MS = 30_000
H, W = 64, 96
BLACK, WHITE = 512, 16383
NOISE = NoiseParams(k=1.0, sigma_read=2.0, lam=0.0, sigma_row=0.5)


# -- tiny tripod pairs (as tests/test_pairing.py makes them) --------------------------------


def shoot(path: Path, seconds: float, when: str, **kwargs: object) -> Path:
    """:func:`tests.test_pairing.shoot` with the capture time as a positional argument."""
    return pairing_shoot(path, seconds, when=when, **kwargs)


def shoot_pairs(folder: Path, n: int = 3) -> Path:
    """``n`` scenes, each a x100 short (0.01 s) and a long (1 s) exposure, ten minutes apart."""
    for i in range(n):
        scene = textured_scene(seed=10 + i)
        when = f"2024:05:01 20:{10 * i:02d}:"
        shoot(folder / f"DSC{2 * i + 1:05d}.dng", 0.01, when + "00", scene=scene, seed=i)
        shoot(folder / f"DSC{2 * i + 2:05d}.dng", 1.0, when + "05", scene=scene, seed=i)
    return folder


def save_tiny(library: Path, name: str) -> Path:
    """An untrained tiny baseline in the user's library (a model "the user made")."""
    torch.manual_seed(0)
    model = create_model("baseline", base_features=4, levels=2)
    path = library / f"{name}.safetensors"
    card = ModelCard(name=name, architecture="baseline", config=model.config)
    save_model(model, card, path, dtype=torch.float32)
    return path


# -- fixtures (the window's, as in tests/test_gui_window.py) --------------------------------


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[QSettings]:
    """Isolated settings (see tests/qt_settings.py)."""
    store = isolated_settings(tmp_path)
    store.setValue("compute/device", "cpu")
    store.setValue("view/ratio", 100.0)  # "not the first run": no sample photo to render
    yield store
    store.sync()


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    save_tiny(folder, "tiny-base")
    return folder


@pytest.fixture
def make_window(qtbot, settings: QSettings) -> Iterator[Callable[[], MainWindow]]:
    """Factory for shown windows; teardown closes them and checks no thread or job is left."""
    windows: list[MainWindow] = []

    def factory() -> MainWindow:
        window = create_window(None, settings)
        windows.append(window)
        window.show()
        return window

    yield factory
    for window in windows:
        for box in window.findChildren(QMessageBox):
            box.close()
        window.close()  # cancels a running fine-tune and waits for every pool
        for pool in (window.preview_pool, window.export_pool, window.finetune.pool,
                     window.finetune.train_pool):  # fmt: skip
            assert pool.activeThreadCount() == 0
    QThreadPool.globalInstance().waitForDone(5000)
    assert QThreadPool.globalInstance().activeThreadCount() == 0
    assert_no_live_jobs(qtbot)


def open_panel(window: MainWindow) -> FineTunePanel:
    window.findChild(type(window.ui.open_action), "fineTuneAction").trigger()
    panel = window.findChild(QDockWidget, "fineTunePanel")
    assert isinstance(panel, FineTunePanel) and panel.isVisible()
    return panel


def add(qtbot, panel: FineTunePanel, *files: Path) -> str:
    """Add a folder (one path) or a picked pair (two); returns how the scan ended."""
    with qtbot.waitSignal(panel.scanFinished, timeout=TIMEOUT_MS) as blocker:
        job = panel.add_folder(files[0]) if len(files) == 1 else panel.add_pair(*files)
        assert job is not None
    return blocker.args[0]


def last_error(window: MainWindow) -> str:
    return window.findChildren(QMessageBox, "errorDialog")[-1].text()


# -- tests ----------------------------------------------------------------------------------


def test_progress_bar_shows_the_planned_steps_before_a_run(qtbot, make_window) -> None:
    panel = open_panel(make_window())
    ui = panel.ui
    assert ui.progress.maximum() == ui.iterations.value()
    assert ui.progress.text() == f"Step 0 / {ui.iterations.value()}"
    ui.iterations.setValue(250)
    assert ui.progress.maximum() == 250


def test_the_form_offers_the_engines_defaults_a_profile_only_run_and_patience(
    qtbot, make_window, tmp_path: Path
) -> None:
    from engine.finetune import DEFAULT_ITERATIONS, DEFAULT_LR, DEFAULT_PATIENCE

    ui = open_panel(make_window()).ui
    assert ui.iterations.value() == DEFAULT_ITERATIONS and ui.lr.value() == DEFAULT_LR
    assert ui.patience.value() == DEFAULT_PATIENCE
    ui.iterations.setValue(0)
    ui.patience.setValue(4)
    assert ui.iterations.text() == "0 — noise profile only"
    request = ui.request("baseline", (), "x", tmp_path, "cpu")
    assert request.settings.iterations == 0 and request.settings.patience == 4


def test_pairs_table_flags_every_problem(qtbot, make_window, tmp_path: Path) -> None:
    folder = shoot_pairs(tmp_path / "shoot")
    shoot(folder / "DSC00010.dng", 0.01, "2024:05:01 21:30:00")  # a short with no long
    shoot(folder / "DSC00020.dng", 0.01, "2024:05:01 22:00:00")  # a pair from two cameras
    shoot(folder / "NIK00021.dng", 1.0, "2024:05:01 22:00:09", make="Nikon", model="Z6")
    (folder / "DSC00098.dng").write_bytes(b"\x00garbage" * 64)  # a corrupt RAW
    window = make_window()
    panel = open_panel(window)
    table = panel.ui.table
    assert add(qtbot, panel, folder) == "ok"
    kinds = [(row.kind, row.usable) for row in table.rows]
    assert kinds.count(("pair", True)) == 3 and ("pair", False) in kinds
    assert ("unpaired", False) in kinds and ("unreadable", False) in kinds
    assert table.rowCount() == 6
    statuses = {table.item(r, 5).text() for r in range(table.rowCount())}
    assert any("different cameras (Sony ILCE-7S vs Nikon Z6)" in s for s in statuses)
    assert any(s.startswith("not paired: no other frame") for s in statuses)
    assert any(s.startswith("unreadable:") for s in statuses)
    for r, row in enumerate(table.rows):
        colour = table.item(r, 5).foreground().color()
        assert (colour == PROBLEM_COLOUR) == (not row.usable)
    summary = panel.ui.pair_summary.text()
    assert summary.startswith("3 valid pair(s) (Sony ILCE-7S) · 1 invalid pair(s)")
    assert "1 file(s) not paired · 1 unreadable file(s)" in summary
    assert panel.ui.name_edit.text() == "Sony ILCE-7S fine-tune"
    qtbot.waitUntil(
        lambda: all(table.has_thumbnail(r) for r, row in enumerate(table.rows)
                    if row.kind != "unreadable"),
        timeout=TIMEOUT_MS,
    )  # fmt: skip

    # The same folder again adds nothing; an empty folder is an error and loses nothing.
    assert add(qtbot, panel, folder) == "ok" and table.rowCount() == 6
    (tmp_path / "empty").mkdir()
    assert add(qtbot, panel, tmp_path / "empty") == "error"
    assert "no RAW files" in last_error(window) and table.rowCount() == 6
    # Two picked files, long first: the panel works out which one is the short exposure.
    short = shoot(tmp_path / "picked/A.dng", 0.02, "2024:05:01 23:00:00", seed=5)
    long = shoot(tmp_path / "picked/B.dng", 1.0, "2024:05:01 23:00:04", seed=5)
    assert add(qtbot, panel, long, short) == "ok"
    row = table.rows[-1]
    assert row.usable and row.short == short and row.candidate.ratio == pytest.approx(50)

    # A set from two cameras is refused at Start, with the reason.
    nik = tmp_path / "nikon"
    shoot(nik / "NIK00001.dng", 0.01, "2024:05:01 23:30:00", make="Nikon", model="Z6")
    shoot(nik / "NIK00002.dng", 1.0, "2024:05:01 23:30:05", make="Nikon", model="Z6")
    assert add(qtbot, panel, nik) == "ok"
    with qtbot.waitSignal(window.errorShown) as blocker:
        assert panel.start() is None
    assert blocker.args[0] == "Pairs from several cameras"
    qtbot.mouseClick(panel.ui.clear_button, Qt.MouseButton.LeftButton)
    assert table.rowCount() == 0 and not panel.ui.start_button.isEnabled()


def test_finetune_pause_cancel_resume_adds_model(
    qtbot, make_window, library: Path, tmp_path: Path, monkeypatch
) -> None:
    real_run = panel_module.run_finetune
    hold_at = [6, 9]  # steps where the worker pauses itself, once each

    def pausing(req: FinetuneRequest, cancel: CancelToken, pause: PauseToken,
                report: Callable[[FinetuneProgress], None]) -> FinetuneResult:  # fmt: skip
        # These Pauses come from the worker itself: a click from the GUI could come a few
        # steps late on a fast machine, and the test wants checkpoints at known steps.
        def hold(p: FinetuneProgress) -> None:
            report(p)
            if p.phase == "training" and hold_at and p.iteration == hold_at[0]:
                hold_at.pop(0)
                pause.pause()

        return real_run(req, cancel, pause, hold)

    def paused_at(panel: FineTunePanel, step: int) -> None:
        def check() -> bool:
            p = panel.last_progress
            return p is not None and p.phase == "paused" and p.iteration == step

        qtbot.waitUntil(check, timeout=TIMEOUT_MS)

    def cancel(panel: FineTunePanel) -> None:
        with qtbot.waitSignal(panel.runFinished, timeout=TIMEOUT_MS) as blocker:
            qtbot.mouseClick(panel.ui.cancel_button, Qt.MouseButton.LeftButton)
        assert blocker.args == ["cancelled"]

    monkeypatch.setattr(panel_module, "run_finetune", pausing)
    window = make_window()
    assert "tiny-base" in window.ui.model_combo.models()
    panel = open_panel(window)
    ui = panel.ui
    assert add(qtbot, panel, shoot_pairs(tmp_path / "shoot")) == "ok"
    assert panel.set_base("tiny-base")
    ui.iterations.setValue(12)
    ui.lr.setValue(1e-2)
    ui.patch.setValue(64)
    ui.synthetic.setChecked(False)
    ui.name_edit.setText("tiny-base")
    with qtbot.waitSignal(window.errorShown) as blocker:
        assert panel.start() is None  # taken: refused before any work
    assert blocker.args[0] == "Name taken" and not panel.running
    ui.name_edit.setText("my camera")
    assert ui.start_button.isEnabled()
    qtbot.mouseClick(ui.start_button, Qt.MouseButton.LeftButton)
    assert panel.running and not ui.start_button.isEnabled()
    # Pause at once, long before the first step ends: the engine holds after step 1.
    qtbot.mouseClick(ui.pause_button, Qt.MouseButton.LeftButton)
    assert ui.pause_button.text() == "Resume"
    paused_at(panel, 1)
    window.ui.exposure.set_ratio(42)  # the window stays usable meanwhile
    qtbot.wait(150)
    assert panel.last_progress.phase == "paused" and panel.last_progress.iteration == 1
    qtbot.mouseClick(ui.pause_button, Qt.MouseButton.LeftButton)  # go on
    assert ui.pause_button.text() == "Pause"
    paused_at(panel, 6)
    # The untrained base loses to plain gain on the held-out pair: its row turns amber.
    (flagged,) = [r for r, row in enumerate(ui.table.rows) if row.suspicion]
    assert ui.table.rows[flagged].long.name == "DSC00006.dng"
    assert ui.table.item(flagged, 5).text().startswith("suspicious: the base model scores")
    assert ui.table.item(flagged, 5).foreground().color() == SUSPECT_COLOUR
    assert ui.psnr_label.text().startswith("Validation PSNR: before")
    assert ui.eta_label.text().startswith("ETA")
    assert len(ui.curve.points) >= 5
    cancel(panel)
    assert not (library / "my camera.safetensors").exists()
    assert ui.checkpoint_label.isVisible() and "at step 6" in ui.checkpoint_label.text()
    assert ui.status_label.text().startswith("Cancelled at step 6. A checkpoint was kept")
    assert ui.resume_button.isEnabled()

    # Resume in the same session (the table's pairs), then cancel again at step 9.
    qtbot.mouseClick(ui.resume_button, Qt.MouseButton.LeftButton)
    paused_at(panel, 9)
    cancel(panel)
    assert [it for it, _ in ui.curve.points][-1] == 9
    window.close()  # as if the app were quit; the checkpoint stays

    # A new session: the panel offers the interrupted run, and Resume finishes it from the
    # checkpoint's own list of pairs and base model.
    window = make_window()
    panel = open_panel(window)
    ui = panel.ui
    assert ui.name_edit.text() == "my camera" and "at step 9" in ui.checkpoint_label.text()
    assert ui.iterations.value() == 12 and ui.patch.value() == 64  # the last run's settings
    with qtbot.waitSignal(panel.runFinished, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(ui.resume_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["ok"]
    result = panel.result
    assert result is not None and len(result.losses) == 12  # trained on to the end
    assert result.iterations == max(result.history, key=lambda h: (h[1], -h[0]))[0]
    assert any(n.startswith("resumed from step 9") for n in result.notes)
    assert "my camera" in window.ui.model_combo.models()  # in the selector at once
    assert [it for it, _ in ui.curve.points][-1] == 12
    assert not ui.checkpoint_label.isVisible() and not ui.resume_button.isEnabled()
    assert "Saved “my camera”" in ui.status_label.text()
    qtbot.mouseClick(ui.use_button, Qt.MouseButton.LeftButton)
    assert window.ui.model_combo.current_model() == "my camera"
    assert panel.set_base("my camera")  # a model the user made is a base for the next one


def test_model_library_renames_deletes_exports_imports(
    qtbot, make_window, library: Path, tmp_path: Path
) -> None:
    save_tiny(library, "tiny copy")
    window = make_window()
    assert window.set_model("tiny copy")
    window.findChild(type(window.ui.open_action), "modelLibraryAction").trigger()
    dialog = window.findChild(QDialog, "modelLibraryDialog")
    assert isinstance(dialog, ModelLibraryDialog) and dialog.isVisible()
    assert dialog.names() == ["tiny copy", "tiny-base"]

    # Rename through the dialog's own input box; the selector follows the current model.
    assert dialog.select("tiny copy")
    qtbot.mouseClick(dialog.rename_button, Qt.MouseButton.LeftButton)
    ask = dialog.findChild(QInputDialog, "renameModelInput")
    ask.setTextValue("Night owl")
    with qtbot.waitSignal(dialog.changed):
        ask.accept()
    assert dialog.names() == ["Night owl", "tiny-base"]
    models = window.ui.model_combo.models()
    assert "Night owl" in models and "tiny copy" not in models
    assert window.ui.model_combo.current_model() == "Night owl"
    assert window.settings.model == "Night owl"
    with qtbot.waitSignal(window.errorShown) as blocker:
        assert not dialog.rename("Night owl", "tiny-base")
    assert "already exists" in blocker.args[1] and dialog.names() == ["Night owl", "tiny-base"]

    assert dialog.delete("Night owl")
    assert dialog.names() == ["tiny-base"] and not (library / "Night owl.json").exists()
    assert "Night owl" not in window.ui.model_combo.models()
    assert window.ui.model_combo.current_model() == "none"

    with qtbot.waitSignal(dialog.jobFinished, timeout=TIMEOUT_MS) as blocker:
        dialog.export("tiny-base", tmp_path / "exported")
    assert blocker.args == ["ok"]
    exported = tmp_path / "exported" / "tiny-base.safetensors"
    assert exported.is_file() and exported.with_suffix(".json").is_file()
    assert dialog.delete("tiny-base") and dialog.names() == []
    assert dialog.empty_label.isVisibleTo(dialog)
    with qtbot.waitSignal(dialog.jobFinished, timeout=TIMEOUT_MS) as blocker:
        dialog.import_file(exported)
    assert blocker.args == ["ok"] and dialog.names() == ["tiny-base"]
    assert "tiny-base" in window.ui.model_combo.models()
    (tmp_path / "evil.pth").write_bytes(b"not a model")
    with qtbot.waitSignal(dialog.jobFinished, timeout=TIMEOUT_MS) as blocker:
        dialog.import_file(tmp_path / "evil.pth")
    assert blocker.args == ["error"] and "pickle" in last_error(window)
    assert dialog.names() == ["tiny-base"]


def test_fine_tune_opens_as_its_own_window_and_leaves_the_photo_its_size(
    qtbot, make_window
) -> None:
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    before = window.viewer.size()
    panel = open_panel(window)
    qtbot.wait(50)
    assert panel.isFloating() and panel.width() >= 600
    assert window.viewer.size() == before  # the photo keeps its room
