"""The Darkroom main window: opens photos, drives previews and exports, remembers settings.

Long work never runs on the GUI thread: decoding, previews and exports are engine calls in
:class:`~darkroom_app.workers.Job` runnables on two private one-thread pools (previews and
loading share one, exports have their own so a long export never stalls the live preview).
``export_to`` and ``open_path(..., wait=True)`` are the blocking scripting calls; they wait in a
local event loop, so the window keeps painting meanwhile.

What the user works on (photo, ratio, model, device, the user's models) lives in a Qt-free
:class:`~darkroom_app.session.Session`. The window's parts (exporter, fine-tune panel, model
library) take the session, never the window; this class is the only place where session
signals meet widgets (see :meth:`MainWindow._connect_session`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import QAbstractSpinBox, QLineEdit, QMainWindow, QMessageBox

from engine.io import ExportOptions
from engine.models import DEFAULT_MODEL, model_for_sensor
from engine.render import CLASSICAL
from engine.resources import user_data_dir

from .controls import CLASSICAL_LABEL
from .export_controls import ExportControls
from .exporter import Exporter
from .finetune_panel import FineTunePanel
from .folder_controls import FolderControls
from .geometry import oriented_size
from .loader import PhotoLoader
from .message_boxes import ErrorBoxes, show_about
from .open_controls import OpenControls, dropped_files
from .photo_settings import PhotoSettingsKeeper
from .preferences import ask_preferences
from .preview import PreviewController, PreviewState, architecture_of, viewer_labels
from .preview_render import PreviewResult
from .scripting import ScriptingApi
from .session import LoadedPhoto, Session
from .settings import AppSettings
from .shortcuts import WindowShortcutsFirst, show_shortcuts
from .view_controls import ViewControls
from .viewer import BEFORE_KEYS
from .window_ui import WindowUi
from .workers import Job


class MainWindow(ScriptingApi, QMainWindow):
    """Signals (tests and scripts wait on these):
    previewReady(float): a preview at that ratio is on screen (perhaps a stand-in).
    previewRendered(float): the chosen model's own render of the view is on screen.
    photoLoaded(str): a photo finished loading and is now current.
    loadFinished(bool): a load ended (success or not).
    errorShown(str, str): :meth:`show_error` was called (title, message).
    renderFinished(str): an export ended: "ok", "cancelled" or "error".
    """

    previewReady = Signal(float)
    previewRendered = Signal(float)
    photoLoaded = Signal(str)
    loadFinished = Signal(bool)
    errorShown = Signal(str, str)
    renderFinished = Signal(str)

    def __init__(self, settings: AppSettings | None = None) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.settings = s = settings or AppSettings()
        self.session = session = Session(s.user_models_dir, s.device)
        self.ui = ui = WindowUi(self)
        self.viewer = ui.viewer
        self.preview_pool = QThreadPool(self)
        self.preview_pool.setMaxThreadCount(1)  # newest wins; two renders would halve speed
        self.export_pool = QThreadPool(self)
        self.export_pool.setMaxThreadCount(1)
        self.last_preview: PreviewResult | None = None  # what the viewer shows
        self.error_boxes = ErrorBoxes(self)

        self.preview = PreviewController(
            self.viewer, self.preview_pool, session.cache, self._preview_state, self
        )
        self.exporter = Exporter(session, s, self.export_pool, self)
        self.export_controls = ExportControls(
            self.exporter, session, ui.export_action, ui.render_progress, ui.cancel_button
        )
        self.loader = PhotoLoader(self.preview_pool, session, self)  # decode, then preview
        self.open_controls = OpenControls(self.loader, ui, s, self)
        self.view_controls = ViewControls(ui, s, self)
        self.keeper = PhotoSettingsKeeper(
            session, self.view_controls, user_data_dir(), self._recommended_model,
            lambda name: name in self.ui.model_combo.models(), self,
        )  # fmt: skip
        self.folders = FolderControls(ui, session, self.loader, self.exporter, self.keeper, s,
                                      self)  # fmt: skip
        self.finetune = FineTunePanel(session, s, self)
        # Docked before restoreState, which places it; hidden until Tools ▸ Fine-tune.
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.finetune)
        self._restore_settings()
        self._connect()
        self._connect_session()
        self.setAcceptDrops(True)
        self._update_title()

    # -- setup -----------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        s, ui, session = self.settings, self.ui, self.session
        # Nothing listens yet: the session simply takes what the widgets can show.
        ui.model_combo.reload(list(session.model_dirs))
        ui.model_combo.select(s.model)
        session.set_model(ui.model_combo.current_model())
        session.set_ratio(ui.exposure.set_ratio(s.ratio, notify=False))
        session.set_amount(ui.amount.set_amount(s.amount, notify=False))
        if s.geometry is None or not self.restoreGeometry(s.geometry):
            self.resize(1280, 800)
        if s.window_state is not None:
            self.restoreState(s.window_state)
        self.ui.filmstrip_dock.hide()  # a saved layout may show it; it waits for a folder
        ui.device_label.setText(f"Device: {session.device_label}")
        self._update_labels()

    def _connect(self) -> None:
        ui = self.ui
        ui.quit_action.triggered.connect(self.close)
        ui.preferences_action.triggered.connect(
            lambda: ask_preferences(self.session, self, self.apply_preferences)
        )
        ui.about_action.triggered.connect(lambda: show_about(self))
        actions = [a for a in self.findChildren(QAction) if a.shortcuts()]
        ui.shortcuts_action.triggered.connect(lambda: show_shortcuts(self, actions))
        # The window's shortcuts win over a focused text field (Ctrl+E in the ratio box).
        self.shortcuts_first = WindowShortcutsFirst(actions, self)
        for field in [*self.findChildren(QLineEdit), *self.findChildren(QAbstractSpinBox)]:
            field.installEventFilter(self.shortcuts_first)
        self.view_controls.beforeModeChanged.connect(self._before_mode_changed)
        ui.exposure.autoRequested.connect(self._auto_ratio_clicked)
        keeper = self.keeper
        ui.undo_action.triggered.connect(keeper.undo_stack.undo)
        ui.redo_action.triggered.connect(keeper.undo_stack.redo)
        keeper.undo_stack.canUndoChanged.connect(ui.undo_action.setEnabled)
        keeper.undo_stack.canRedoChanged.connect(ui.redo_action.setEnabled)
        # Bound methods, not lambdas: the window's connections end before its actions go.
        keeper.undo_stack.undoTextChanged.connect(self._undo_text_changed)
        keeper.undo_stack.redoTextChanged.connect(self._redo_text_changed)
        ui.undo_action.setEnabled(False)
        ui.redo_action.setEnabled(False)
        ui.copy_settings_action.triggered.connect(keeper.copy)
        ui.paste_settings_action.triggered.connect(
            lambda: keeper.paste(self.ui.filmstrip.selected_paths())
        )
        self.photoLoaded.connect(self.folders.photo_loaded)
        ui.fine_tune_action.triggered.connect(self.finetune.open_panel)
        ui.model_library_action.triggered.connect(self.finetune.open_library)
        self.viewer.viewChanged.connect(self.preview.schedule)
        self.preview.busyChanged.connect(ui.preview_busy.setVisible)
        self.preview.shown.connect(self._preview_shown)
        self.preview.rendered.connect(lambda r: self.previewRendered.emit(r.request.ratio))
        self.preview.failed.connect(self._preview_failed)
        self.exporter.finished.connect(lambda outcome: self.renderFinished.emit(outcome.status))
        self.loader.finished.connect(self.loadFinished)

    def _connect_session(self) -> None:
        """Tie the session to the widgets, both ways; nothing else connects to its signals.

        A user change in the exposure control or model selector sets the session; a session
        change (from here or from a part, e.g. the fine-tune panel) updates widgets, settings
        and preview. Setters emit only on a real change, so the round trip ends after a lap.
        """
        ui, session = self.ui, self.session
        ui.exposure.ratioChanged.connect(session.set_ratio)
        ui.amount.amountChanged.connect(session.set_amount)
        ui.model_combo.currentIndexChanged.connect(
            lambda _: session.set_model(ui.model_combo.current_model())
        )
        session.photo_changed.connect(self._photo_changed)
        session.ratio_changed.connect(self._ratio_changed)
        session.amount_changed.connect(self._amount_changed)
        session.model_changed.connect(self._model_changed)
        session.device_changed.connect(self._device_changed)
        session.models_changed.connect(self._models_changed)
        session.problem.connect(self.show_error)
        session.status.connect(self._show_status)

    # -- opening ---------------------------------------------------------------------------

    def start(self, path: str | None = None) -> None:
        """First photo: ``path``, else the previous session's, else (first run) the sample."""
        self.open_controls.start(path)

    def open_sample(self) -> None:
        self.loader.open_sample()

    def _photo_changed(self, photo: LoadedPhoto | None) -> None:
        self.preview.reset()
        self.last_preview = None
        self.ui.histogram.set_counts(None)
        self._update_title()
        self._update_labels()
        self.export_controls.update_action()
        if photo is None:
            self.keeper.photo_opened(None)
            self.viewer.clear()
            self.ui.info.clear()
            return
        frame = photo.frame
        height, width = oriented_size(frame.visible_height, frame.visible_width, frame.orientation)
        self.viewer.set_image_size(width, height)
        self.ui.info.show_frame(frame, photo.path)
        self.open_controls.remember(photo.path)
        opened = f"Opened {Path(photo.path).name}"
        if frame.warnings:  # damaged metadata replaced by defaults; the info panel lists it
            opened += f" — note: {frame.warnings[0]}"
        self.statusBar().showMessage(opened, 10000 if frame.warnings else 4000)
        self.keeper.photo_opened(photo)  # its own settings, or Auto and the recommended model
        self.preview.render_now()
        self.photoLoaded.emit(photo.path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_files(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = dropped_files(event.mimeData())
        if files:
            event.acceptProposedAction()
            self.open_path(files[0])

    # -- adjustments -----------------------------------------------------------------------

    def _auto_ratio_clicked(self) -> None:
        if self.session.auto_ratio is not None:
            self.set_ratio(self.session.auto_ratio)

    def _ratio_changed(self, ratio: float) -> None:
        shown = self.ui.exposure.set_ratio(ratio, notify=False)
        if shown != ratio:  # the control keeps one decimal: the session takes what it shows
            self.session.set_ratio(shown)
            return
        self.settings.ratio = ratio
        self._update_labels()
        self.preview.schedule()
        self.keeper.changed()

    def _amount_changed(self, amount: float) -> None:
        self.ui.amount.set_amount(amount, notify=False)
        self.settings.amount = amount
        self._update_labels()
        self.preview.schedule()
        self.keeper.changed()

    def _model_changed(self, name: str) -> None:
        combo = self.ui.model_combo
        index = combo.findData(name)
        if index < 0:  # no weights under that name: the session goes back to what is shown
            self.session.set_model(combo.current_model())
            return
        combo.setCurrentIndex(index)  # its signal comes back as a no-op: same name
        self.settings.model = name
        self._update_labels()
        self.preview.schedule()
        self.keeper.changed()

    def _models_changed(self, renamed: dict[str, str]) -> None:
        """Re-list the model selector. It reloads quietly, so a vanished current model leaves
        it on classical while the session still names it: the session then moves to the new
        name of a renamed model, else to classical, the usual way (saved, re-rendered). The
        preview is redrawn anyway: a name may now stand for other weights."""
        combo, current = self.ui.model_combo, self.session.model
        architecture_of.cache_clear()  # a name may now stand for another network
        combo.reload(list(self.session.model_dirs))
        if combo.current_model() != current:
            new_name = renamed.get(current, CLASSICAL)
            self.session.set_model(new_name if new_name in combo.models() else CLASSICAL)
        self.preview.reset()
        self.preview.schedule()

    def _device_changed(self, _pref: str) -> None:
        self.ui.device_label.setText(f"Device: {self.session.device_label}")
        self._update_labels()  # the CPU preview note may come or go
        self.preview.reset()
        self.preview.schedule()

    def _before_mode_changed(self, _mode: str) -> None:
        self._update_labels()
        self.preview.schedule()
        self.keeper.changed()

    def _undo_text_changed(self, text: str) -> None:
        self.ui.undo_action.setText(f"&Undo {text}".strip())

    def _redo_text_changed(self, text: str) -> None:
        self.ui.redo_action.setText(f"&Redo {text}".strip())

    def _recommended_model(self) -> str:
        """What a photo opens with the first time: the default model, if it is listed."""
        models = self.ui.model_combo.models()
        return DEFAULT_MODEL if DEFAULT_MODEL in models else CLASSICAL

    def _update_labels(self) -> None:
        session, ratio, model = self.session, self.session.ratio, self.session.model
        if session.frame is not None and session.amount > 0:  # who draws this photo
            model = model_for_sensor(model, session.frame.sensor)
        self.viewer.before_label, self.viewer.after_label = viewer_labels(
            ratio, model, self.view_controls.before_x1, session.amount,
            self.preview.stand_in_on_screen,
        )  # fmt: skip
        self.ui.amount.setEnabled(model != CLASSICAL)  # the classical render has nothing to dose
        self.viewer.update()
        self.ui.info.set_ratio(ratio, session.auto_ratio)
        self.ui.info.set_model(CLASSICAL_LABEL if model == CLASSICAL else model)

    def _preview_state(self) -> PreviewState | None:
        session = self.session
        if session.frame is None:
            return None
        return PreviewState(
            frame=session.frame,
            ratio=session.ratio,
            model=session.model,
            device=session.device_pref,
            device_is_cpu=session.device_is_cpu,
            model_dirs=session.model_dirs,
            before_ratio=1.0 if self.view_controls.before_x1 else None,
            amount=session.amount,
        )

    def _preview_shown(self, result: PreviewResult) -> None:
        self.last_preview = result
        self.ui.histogram.set_counts(result.histogram)
        self._update_labels()  # a stand-in says so until the true render replaces it
        self.previewReady.emit(result.request.ratio)

    def _preview_failed(self, message: str) -> None:
        model = self.session.model
        if model != CLASSICAL:
            # Show something that always works, say so, and keep the user's saved choice.
            chosen = self.settings.model
            with self.keeper.unrecorded():  # the photo keeps its saved model
                self.session.set_model(CLASSICAL)
            self.settings.model = chosen
            message = f"{message} (showing the classical render instead of {model})"
        self.show_error("Preview failed", message)

    # -- export (exporter.py does the work, export_controls.py shows it) --------------------

    def start_export(self, path: str | Path, options: ExportOptions) -> Job | None:
        """Export in the background with progress and Cancel; errors go to a dialog."""
        return self.exporter.start(Path(path), options)

    def cancel_render(self) -> None:
        """Cancel the running export (nothing is written)."""
        self.exporter.cancel()

    # -- preferences, errors, close --------------------------------------------------------

    def apply_preferences(self, device: str, models_dir: Path) -> None:
        """Switch compute device and user models folder (each re-renders if it changed)."""
        self.settings.device = device
        self.settings.user_models_dir = models_dir
        self.session.set_device(device)
        self.session.set_user_models_dir(models_dir)

    def show_error(self, title: str, text: str) -> QMessageBox:
        """Tell the user what went wrong, without blocking (tests find and close these)."""
        box = self.error_boxes.show(title, text)
        self.errorShown.emit(title, text)
        return box

    def _show_status(self, message: str, ms: int) -> None:
        self.statusBar().showMessage(message, ms)

    def _update_title(self) -> None:
        path = self.session.path
        name = Path(path).name if path else None
        self.setWindowTitle(f"{name} — Darkroom" if name else "Darkroom")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Keys the focused control ignores arrive here: "hold to see before" works everywhere.
        if event.key() in BEFORE_KEYS:
            self.viewer.keyPressEvent(event)
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() in BEFORE_KEYS:
            self.viewer.keyReleaseEvent(event)
        else:
            super().keyReleaseEvent(event)

    def shutdown(self) -> None:
        """Cancel every job and wait for the worker threads to finish."""
        self.finetune.shutdown()  # a running fine-tune writes a checkpoint, to resume later
        self.keeper.save_now()
        self.folders.shutdown()
        self.preview.cancel_all()
        self.loader.cancel()
        self.exporter.cancel()
        self.preview_pool.waitForDone()
        self.export_pool.waitForDone()

    def closeEvent(self, event: QCloseEvent) -> None:
        s = self.settings
        s.geometry, s.window_state = self.saveGeometry(), self.saveState()
        s.ratio = self.session.ratio
        s.sync()
        self.shutdown()
        self.error_boxes.close_all()
        super().closeEvent(event)
