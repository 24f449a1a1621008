"""Exporting from the window: dialog, full-resolution render in a worker, progress, Cancel.

One export runs at a time on its own one-thread pool, so the live preview stays responsive
meanwhile. The render polls the job's CancelToken between steps and ``write_image`` is atomic,
so a cancelled or failed export leaves nothing on disk. :meth:`Exporter.export_to` is the
blocking variant for scripts and tests; it waits in a local event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThreadPool, Signal

from engine.errors import Cancelled, DarkroomError
from engine.io import ExportOptions
from engine.render import WRITING

from .export_dialog import ExportDialog
from .workers import (
    EnhancerCache,
    ExportRequest,
    Job,
    JobOutcome,
    error_message,
    export_image,
    wait_for,
)

if TYPE_CHECKING:
    from .main_window import MainWindow


class Exporter(QObject):
    """The window's export machinery.

    Signals:
        progress(int, int, str): done, total, message (``"Writing"`` = past the last cancel
            point).
        finished(object): the :class:`~darkroom_app.workers.JobOutcome`; ``result`` is the path.
    """

    progress = Signal(int, int, str)
    finished = Signal(object)

    def __init__(self, window: MainWindow, pool: QThreadPool, cache: EnhancerCache) -> None:
        super().__init__(window)
        self.window = window
        self.pool = pool
        self.cache = cache
        self.job: Job | None = None
        self.last_outcome: JobOutcome | None = None
        self.interactive = False
        self.dialog: ExportDialog | None = None
        window.ui.cancel_button.clicked.connect(self.cancel)
        window.ui.export_action.triggered.connect(self.choose)

    @property
    def running(self) -> bool:
        return self.job is not None

    # -- interactive -----------------------------------------------------------------------

    def choose(self) -> None:
        """File > Export: ask for format and destination, then export in the background."""
        w, s = self.window, self.window.settings
        if w.frame is None or w.path is None:
            return
        if self.running:
            w.statusBar().showMessage("An export is already running", 4000)
            return
        folder = Path(s.export_folder) if s.export_folder else Path(w.path).parent
        dialog = ExportDialog(Path(w.path), folder, s.export_format, s.export_bits,
                              s.export_quality, s.export_keep_metadata, w)  # fmt: skip
        dialog.finished.connect(dialog.deleteLater)
        dialog.accepted.connect(lambda: self._accepted(dialog.path(), dialog.options()))
        dialog.open()  # window-modal but not blocking: the event loop (and tests) keep running
        self.dialog = dialog

    def _accepted(self, path: Path, options: ExportOptions) -> None:
        s = self.window.settings
        s.export_folder = str(path.parent)
        s.export_format, s.export_bits = options.fmt, options.bits
        s.export_quality, s.export_keep_metadata = options.quality, options.keep_metadata
        self.start(path, options)

    def start(self, path: Path, options: ExportOptions, interactive: bool = True) -> Job | None:
        """Render the current photo at full resolution and write it, in the background.

        With ``interactive``, a failure is shown in an error dialog; otherwise the caller
        reads :attr:`last_outcome` (see :meth:`export_to`).
        """
        w = self.window
        if w.frame is None:
            w.show_error("Nothing to export", "Open a photo first.")
            return None
        if self.running:
            raise RuntimeError("an export is already running")
        request = ExportRequest(
            frame=w.frame, ratio=w.ratio(), model=w.ui.model_combo.current_model(),
            device=w.device_pref, model_dirs=w.model_dirs, path=path, options=options,
        )  # fmt: skip
        job = Job(
            lambda token, progress: export_image(request, self.cache, token, progress),
            name=f"export {path.name}",
        )
        job.payload = request
        job.on_progress(self._progress)
        job.on_done(self._done)
        self.job, self.last_outcome, self.interactive = job, None, interactive
        ui = w.ui
        ui.render_progress.setValue(0)
        ui.render_progress.show()
        ui.cancel_button.setEnabled(True)
        ui.cancel_button.show()
        ui.export_action.setEnabled(False)
        w.statusBar().showMessage(f"Exporting {path.name}…")
        self.pool.start(job)
        return job

    def cancel(self) -> None:
        """Ask the running export to stop; nothing is written once it has stopped."""
        if self.job is not None:
            self.job.cancel()
            self.window.statusBar().showMessage("Cancelling export…")

    # -- scripting -------------------------------------------------------------------------

    def wait(self) -> JobOutcome | None:
        """Block (in a local event loop) until the current export reports back."""
        if self.job is None:
            return self.last_outcome
        wait_for(self.finished)
        return self.last_outcome

    def export_to(self, path: Path, options: ExportOptions) -> Path:
        """Blocking export; returns the written path, raises what stopped it."""
        self.window.wait_for_load()
        if self.window.frame is None:
            raise DarkroomError("no photo is open")
        self.wait()  # one export at a time
        self.start(path, options, interactive=False)
        outcome = self.wait()
        assert outcome is not None
        if outcome.status == "ok":
            return Path(outcome.result)
        if outcome.status == "cancelled":
            raise Cancelled()
        assert outcome.error is not None
        raise outcome.error

    # -- reports from the job --------------------------------------------------------------

    def _progress(self, done: int, total: int, message: str) -> None:
        ui = self.window.ui
        ui.render_progress.setValue(100 * done // max(total, 1))
        if message == WRITING:  # past the last point where Cancel can stop it
            ui.cancel_button.setEnabled(False)
        self.window.statusBar().showMessage(f"Export: {message}…")
        self.progress.emit(done, total, message)

    def _done(self, job: Job, outcome: JobOutcome) -> None:
        if job is self.job:
            self.job = None
        self.last_outcome = outcome
        w, ui = self.window, self.window.ui
        ui.render_progress.hide()
        ui.cancel_button.hide()
        ui.export_action.setEnabled(w.frame is not None)
        if outcome.status == "ok":
            w.statusBar().showMessage(f"Exported {outcome.result}", 8000)
        elif outcome.status == "cancelled":
            w.statusBar().showMessage("Export cancelled; nothing was written", 6000)
        else:
            w.statusBar().clearMessage()
            if self.interactive:
                w.show_error("Export failed", error_message(outcome.error))
        self.finished.emit(outcome)
