"""The Darkroom main window: opens photos, drives previews and exports, remembers settings.

Long work never runs on the GUI thread: decoding, previews and exports are engine calls in
:class:`~darkroom_app.workers.Job` runnables on two private one-thread pools (previews and
loading share one, exports have their own so a long export never stalls the live preview).
``export_to`` and ``open_path(..., wait=True)`` are the blocking scripting calls; they wait in a
local event loop, so the window keeps painting meanwhile.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QThreadPool, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from engine.io import RAW_EXTENSIONS, ExportOptions, RawFrame
from engine.render import CLASSICAL
from engine.resources import sample_raw_path

from .controls import CLASSICAL_LABEL
from .exporter import Exporter
from .finetune_panel import FineTunePanel
from .geometry import oriented_size
from .loader import PhotoLoader
from .preferences import PreferencesDialog, describe_device
from .preview import PreviewController, PreviewState, preview_model_for
from .settings import AppSettings
from .viewer import BEFORE_KEYS
from .window_ui import WindowUi
from .workers import EnhancerCache, Job, JobOutcome, LoadedPhoto, PreviewResult

RAW_FILTER = "RAW photos ({})".format(
    " ".join(f"*{e} *{e.upper()}" for e in RAW_EXTENSIONS)
)  # upper case too: file dialogs match case-sensitively on Linux


ABOUT_TEXT = (
    "<b>Darkroom</b><br>Rescue underexposed and night RAW photos with learned enhancement, "
    "after <i>Learning to See in the Dark</i> (Chen et al., CVPR 2018)."
)


class MainWindow(QMainWindow):
    """Signals (tests and scripts wait on these):
    previewReady(float): a preview at that ratio is on screen.
    photoLoaded(str): a photo finished loading and is now current.
    loadFinished(bool): a load ended (success or not).
    errorShown(str, str): :meth:`show_error` was called (title, message).
    renderFinished(str): an export ended: "ok", "cancelled" or "error".
    """

    previewReady = Signal(float)
    photoLoaded = Signal(str)
    loadFinished = Signal(bool)
    errorShown = Signal(str, str)
    renderFinished = Signal(str)

    def __init__(self, settings: AppSettings | None = None) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.settings = settings or AppSettings()
        self.ui = ui = WindowUi(self)
        self.viewer = ui.viewer
        self.preview_pool = QThreadPool(self)
        self.preview_pool.setMaxThreadCount(1)  # newest wins; two renders would halve speed
        self.export_pool = QThreadPool(self)
        self.export_pool.setMaxThreadCount(1)
        self.cache = EnhancerCache()
        self.frame: RawFrame | None = None
        self.path: str | None = None
        self.auto_ratio: float | None = None
        self.last_preview: PreviewResult | None = None  # what the viewer shows
        self.error_dialogs: list[QMessageBox] = []
        self.device_pref, self.device_label, self.device_is_cpu = describe_device(
            self.settings.device
        )
        self.model_dirs = tuple(self.settings.model_dirs())

        self.preview = PreviewController(
            self.viewer, self.preview_pool, self.cache, self._preview_state, self
        )
        self.exporter = Exporter(self, self.export_pool, self.cache)
        self.loader = PhotoLoader(self.preview_pool, self)  # one pool: decode, then preview
        self.finetune = FineTunePanel(self)  # Tools menu; before restoreState, which places it
        self._restore_settings()
        self._connect()
        self.setAcceptDrops(True)
        self._update_title()

    # -- setup -----------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        s, ui = self.settings, self.ui
        ui.model_combo.reload(list(self.model_dirs))
        ui.model_combo.select(s.model)
        ui.exposure.set_ratio(s.ratio, notify=False)
        ui.split_combo.setCurrentIndex(max(0, ui.split_combo.findData(s.split_mode)))
        ui.mode_actions[s.split_mode].setChecked(True)
        self.viewer.set_mode(s.split_mode)
        ui.before_combo.setCurrentIndex(max(0, ui.before_combo.findData(s.before_mode)))
        if s.geometry is None or not self.restoreGeometry(s.geometry):
            self.resize(1280, 800)
        if s.window_state is not None:
            self.restoreState(s.window_state)
        ui.device_label.setText(f"Device: {self.device_label}")
        ui.recent_menu.set_paths(s.recent_files)
        self._update_labels()

    def _connect(self) -> None:
        ui = self.ui
        ui.open_action.triggered.connect(self._choose_file)
        ui.quit_action.triggered.connect(self.close)
        ui.preferences_action.triggered.connect(self._open_preferences)
        ui.sample_action.triggered.connect(self.open_sample)
        ui.about_action.triggered.connect(self._about)
        ui.recent_menu.openRequested.connect(self.open_path)
        ui.recent_menu.clearRequested.connect(self._clear_recent)
        ui.fit_action.triggered.connect(self.viewer.zoom_fit)
        ui.actual_action.triggered.connect(lambda: self.viewer.zoom_actual())
        ui.zoom_in_action.triggered.connect(lambda: self.viewer.set_zoom(self.viewer.scale * 1.25))
        ui.zoom_out_action.triggered.connect(lambda: self.viewer.set_zoom(self.viewer.scale / 1.25))
        ui.fit_button.clicked.connect(self.viewer.zoom_fit)
        ui.actual_button.clicked.connect(lambda: self.viewer.zoom_actual())
        for key, action in ui.mode_actions.items():
            action.triggered.connect(lambda _=False, k=key: self.set_split_mode(k))
        ui.split_combo.currentIndexChanged.connect(
            lambda _: self.set_split_mode(str(ui.split_combo.currentData()))
        )
        ui.before_combo.currentIndexChanged.connect(self._before_mode_changed)
        ui.exposure.ratioChanged.connect(self._ratio_changed)
        ui.exposure.autoRequested.connect(self.auto_ratio_clicked)
        ui.model_combo.currentIndexChanged.connect(self._model_changed)
        self.viewer.viewChanged.connect(self.preview.schedule)
        self.viewer.zoomChanged.connect(self._zoom_changed)
        self.preview.busyChanged.connect(ui.preview_busy.setVisible)
        self.preview.shown.connect(self._preview_shown)
        self.preview.failed.connect(self._preview_failed)
        self.exporter.finished.connect(self._export_finished)
        self.loader.loaded.connect(self._set_photo)
        self.loader.failed.connect(self._load_failed)
        self.loader.finished.connect(self.loadFinished)

    # -- opening ---------------------------------------------------------------------------

    def start(self, path: str | None = None) -> None:
        """First photo: ``path``, else the previous session's, else (first run) the sample."""
        last = self.settings.last_file
        if path:
            self.open_path(path)
        elif last and Path(last).is_file():
            self.open_path(last)
        elif not self.settings.has_session:
            self.open_sample()

    def open_sample(self) -> None:
        try:
            self.open_path(str(sample_raw_path()))
        except FileNotFoundError as exc:
            self.show_error("Sample missing", str(exc))

    def open_path(self, path: str | Path, wait: bool = False) -> bool:
        """Load a RAW file in the background; the current photo stays until it succeeds.

        Args:
            wait: block (in a local event loop) until it is loaded or has failed.

        Returns:
            With ``wait``, whether the photo is now current; else True (loading started).
        """
        self.statusBar().showMessage(f"Opening {Path(path).name}…")
        job = self.loader.open(str(path))
        if not wait:
            return True
        self.wait_for_load()
        return job.outcome is not None and job.outcome.status == "ok" and self.path == str(path)

    def wait_for_load(self) -> None:
        """Block in a local event loop while a photo is loading."""
        self.loader.wait()

    def _load_failed(self, path: str, message: str) -> None:
        self.statusBar().clearMessage()
        self.show_error("Cannot open photo", message)

    def _set_photo(self, loaded: LoadedPhoto) -> None:
        frame = loaded.frame
        self.frame, self.path, self.auto_ratio = frame, loaded.path, loaded.auto_ratio
        self.preview.reset()
        self.last_preview = None
        self.ui.histogram.set_counts(None)
        height, width = oriented_size(frame.height, frame.width, frame.orientation)
        self.viewer.set_image_size(width, height)
        self.ui.info.show_frame(frame, loaded.path)
        self._update_labels()
        self.ui.export_action.setEnabled(True)
        s = self.settings
        s.last_file, s.last_folder = loaded.path, str(Path(loaded.path).parent)
        self.ui.recent_menu.set_paths(s.add_recent(loaded.path))
        self._update_title()
        self.statusBar().showMessage(f"Opened {Path(loaded.path).name}", 4000)
        self.preview.render_now()
        self.photoLoaded.emit(loaded.path)

    def _choose_file(self) -> None:
        folder = self.settings.last_folder or str(Path.home())
        name, _ = QFileDialog.getOpenFileName(self, "Open RAW photo", folder, RAW_FILTER)
        if name:
            self.open_path(name)

    def _clear_recent(self) -> None:
        self.settings.recent_files = []
        self.ui.recent_menu.set_paths([])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_path(files[0])

    # -- adjustments -----------------------------------------------------------------------

    def ratio(self) -> float:
        return self.ui.exposure.ratio()

    def set_ratio(self, ratio: float) -> float:
        """Set the exposure ratio (x1..x1000) as if typed; returns the value used."""
        return self.ui.exposure.set_ratio(ratio)

    def auto_ratio_clicked(self) -> None:
        if self.auto_ratio is not None:
            self.set_ratio(self.auto_ratio)

    def set_model(self, name: str) -> bool:
        """Select a listed model by name (``"none"`` = classical); False if not listed."""
        return self.ui.model_combo.select(name)

    def set_split_mode(self, mode: str) -> None:
        """``"wipe"``, ``"side"`` or ``"after"``; keeps combo, menu and viewer in step."""
        ui = self.ui
        if ui.split_combo.currentData() != mode:
            ui.split_combo.setCurrentIndex(ui.split_combo.findData(mode))
            return  # the combo's signal comes back here
        ui.mode_actions[mode].setChecked(True)
        self.viewer.set_mode(mode)
        self.settings.split_mode = mode

    def set_before_mode(self, mode: str) -> None:
        """``"same"`` (classical at the same ratio) or ``"x1"`` (as the camera recorded)."""
        self.ui.before_combo.setCurrentIndex(self.ui.before_combo.findData(mode))

    def _ratio_changed(self, ratio: float) -> None:
        self.settings.ratio = ratio
        self._update_labels()
        self.preview.schedule()

    def _model_changed(self) -> None:
        self.settings.model = self.ui.model_combo.current_model()
        self._update_labels()
        self.preview.schedule()

    def _before_mode_changed(self) -> None:
        self.settings.before_mode = str(self.ui.before_combo.currentData())
        self._update_labels()
        self.preview.schedule()

    def _update_labels(self) -> None:
        ratio, model = self.ratio(), self.ui.model_combo.current_model()
        before_x1 = self.ui.before_combo.currentData() == "x1"
        self.viewer.before_label = (
            "Before · as recorded ×1" if before_x1 else (f"Before · classical ×{ratio:g}")
        )
        name = "classical" if model == CLASSICAL else model
        drawn_by = preview_model_for(model, self.device_is_cpu)
        preview_note = f" (preview: {drawn_by})" if drawn_by != model else ""
        self.viewer.after_label = f"After · {name} ×{ratio:g}{preview_note}"
        self.viewer.update()
        self.ui.info.set_ratio(ratio, self.auto_ratio)
        self.ui.info.set_model(CLASSICAL_LABEL if model == CLASSICAL else model)

    def _preview_state(self) -> PreviewState | None:
        if self.frame is None:
            return None
        return PreviewState(
            frame=self.frame,
            ratio=self.ratio(),
            model=self.ui.model_combo.current_model(),
            device=self.device_pref,
            device_is_cpu=self.device_is_cpu,
            model_dirs=self.model_dirs,
            before_ratio=1.0 if self.ui.before_combo.currentData() == "x1" else None,
        )

    def _preview_shown(self, result: PreviewResult) -> None:
        self.last_preview = result
        self.ui.histogram.set_counts(result.histogram)
        self.previewReady.emit(result.request.ratio)

    def _preview_failed(self, message: str) -> None:
        if self.ui.model_combo.current_model() != CLASSICAL:
            self.ui.model_combo.select(CLASSICAL)  # fall back to something that always works
        self.show_error("Preview failed", message)

    def _zoom_changed(self, zoom: float) -> None:
        prefix = "Fit " if self.viewer.is_fit else ""
        self.ui.zoom_label.setText(f"{prefix}{zoom * 100:.0f} %")

    # -- export (see exporter.py) ----------------------------------------------------------

    def start_export(self, path: str | Path, options: ExportOptions) -> Job | None:
        """Export in the background with progress and Cancel; errors go to a dialog."""
        return self.exporter.start(Path(path), options)

    def cancel_render(self) -> None:
        """Cancel the running export (nothing is written)."""
        self.exporter.cancel()

    def export_to(self, path: str | Path, format: str = "jpeg", bits: int = 8,
                  quality: int = 95, keep_metadata: bool = True,
                  overwrite: bool = False) -> Path:  # fmt: skip
        """Blocking export of the current photo (scripts and tests).

        Returns:
            The written file.

        Raises:
            DarkroomError: no photo, or the export failed (nothing partial is left).
            Cancelled: :meth:`cancel_render` was called meanwhile.
        """
        options = ExportOptions(format, bits, quality, keep_metadata, overwrite)
        return self.exporter.export_to(Path(path), options)

    def _export_finished(self, outcome: JobOutcome) -> None:
        self.renderFinished.emit(outcome.status)

    # -- preferences, errors, close --------------------------------------------------------

    def _open_preferences(self) -> None:
        dialog = PreferencesDialog(self.device_pref, self.settings.user_models_dir, self)
        dialog.accepted.connect(
            lambda: self.apply_preferences(dialog.device(), dialog.models_dir())
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        self.preferences_dialog = dialog

    def apply_preferences(self, device: str, models_dir: Path) -> None:
        """Switch compute device and user models folder, then re-render."""
        self.settings.device = device
        self.settings.user_models_dir = models_dir
        self.device_pref, self.device_label, self.device_is_cpu = describe_device(device)
        self.ui.device_label.setText(f"Device: {self.device_label}")
        self.model_dirs = tuple(self.settings.model_dirs())
        self.cache.clear()
        self.ui.model_combo.reload(list(self.model_dirs))
        self.preview.reset()
        self.preview.schedule()

    def show_error(self, title: str, text: str) -> QMessageBox:
        """Tell the user what went wrong, without blocking (tests find and close these)."""
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self
        )
        box.setObjectName("errorDialog")
        box.finished.connect(
            lambda _: self.error_dialogs.remove(box) if box in self.error_dialogs else None
        )
        self.error_dialogs.append(box)
        box.open()
        self.errorShown.emit(title, text)
        return box

    def _about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.NoIcon, "About Darkroom", ABOUT_TEXT,
                          QMessageBox.StandardButton.Ok, self)  # fmt: skip
        box.setIconPixmap(self.windowIcon().pixmap(64, 64))
        box.finished.connect(box.deleteLater)
        box.open()

    def _update_title(self) -> None:
        name = Path(self.path).name if self.path else None
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
        self.preview.cancel_all()
        self.loader.cancel()
        self.exporter.cancel()
        self.preview_pool.waitForDone()
        self.export_pool.waitForDone()

    def closeEvent(self, event: QCloseEvent) -> None:
        s = self.settings
        s.geometry, s.window_state = self.saveGeometry(), self.saveState()
        s.ratio = self.ratio()
        s.sync()
        self.shutdown()
        for box in list(self.error_dialogs):
            box.close()
        super().closeEvent(event)
