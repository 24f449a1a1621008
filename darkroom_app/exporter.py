"""Exporting from the window: dialog, full-resolution render in a worker, progress, Cancel.

One export runs at a time on its own one-thread pool, so the live preview stays responsive
meanwhile. The render polls the job's CancelToken between steps and ``write_image`` is atomic,
so a cancelled or failed export leaves nothing on disk. :meth:`Exporter.export_to` is the
blocking variant for scripts and tests; it waits in a local event loop.

The exporter knows the session (what to export) and the settings (the export dialog's last
choices), never the window: it reports through its signals, and the window shows its own
progress bar and Cancel button from them. Status lines and error dialogs go through
:meth:`~darkroom_app.session.Session.say` and :meth:`~darkroom_app.session.Session.tell`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtWidgets import QWidget

from engine.errors import Cancelled, DarkroomError
from engine.io import (
    DEFAULT_NAME,
    ExportOptions,
    check_distinct_outputs,
    default_output_folder,
    output_path_for,
)
from engine.jobs import CancelToken, ProgressCallback
from engine.render import BatchItem, BatchProgress, FileOutcome, PhotoSettings, run_batch

from .export_dialog import ExportDialog
from .session import EnhancerCache, Session
from .settings import AppSettings
from .workers import ExportRequest, Job, JobOutcome, error_message, export_image, wait_for


@dataclass(frozen=True)
class BatchRequest:
    """Several photos, each with its own settings, written into one folder."""

    items: tuple[BatchItem, ...]
    device: str
    model_dirs: tuple[Path, ...]
    options: ExportOptions
    folder: Path


def export_batch(
    req: BatchRequest, cache: EnhancerCache, cancel: CancelToken, progress: ProgressCallback
) -> list[FileOutcome]:
    """Every photo of the batch through the engine's batch (:func:`engine.render.run_batch`,
    the CLI's), reporting the whole batch's progress and time left."""
    tracker = BatchProgress(len(req.items), progress)
    return run_batch(list(req.items), lambda name: cache.get(name, req.device, req.model_dirs),
                     req.options, cancel, on_start=tracker.start_file,
                     progress=tracker)  # fmt: skip


def batch_items(
    paths: Sequence[str], folder: Path, fmt: str, settings_of: Callable[[str], PhotoSettings]
) -> tuple[BatchItem, ...]:
    """One item per photo, named by the engine's rule; two photos that would be written to the
    same file are refused (:class:`~engine.errors.DarkroomError`)."""
    items = []
    for path in paths:
        settings = settings_of(path)
        dest = output_path_for(path, folder, fmt, DEFAULT_NAME, model=settings.model,
                               ratio=settings.ratio, amount=settings.amount)  # fmt: skip
        items.append(BatchItem(Path(path), dest, settings.model, settings.adjustments))
    check_distinct_outputs([i.source for i in items], [i.dest for i in items])
    return tuple(items)


class Exporter(QObject):
    """Renders and writes the session's photo, one export at a time.

    Signals:
        started(str): an export of that path began.
        progress(int, int, str): done, total, message (:data:`engine.render.WRITING` = past
            the last point where Cancel can stop it).
        finished(object): the :class:`~darkroom_app.workers.JobOutcome`; ``result`` is the path.
    """

    started = Signal(str)
    progress = Signal(int, int, str)
    finished = Signal(object)

    def __init__(
        self, session: Session, settings: AppSettings, pool: QThreadPool, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self.pool = pool
        self.dialog_parent = parent  # the export dialog is window-modal over it
        self.job: Job | None = None
        self.last_outcome: JobOutcome | None = None
        self.interactive = False
        self.dialog: ExportDialog | None = None

    @property
    def running(self) -> bool:
        return self.job is not None

    # -- interactive -----------------------------------------------------------------------

    def choose(self) -> None:
        """File > Export: ask for format and destination, then export in the background."""
        photo, s = self.session.photo, self.settings
        if photo is None:
            return
        if self.running:
            self.session.say("An export is already running")
            return
        # The last folder used, else the photo's own; never inside the installed package.
        folder = default_output_folder(photo.path, s.export_folder or None)
        dialog = ExportDialog(Path(photo.path), folder, s.export_format, s.export_bits,
                              s.export_quality, s.export_keep_metadata,
                              self.dialog_parent)  # fmt: skip
        dialog.finished.connect(dialog.deleteLater)
        dialog.accepted.connect(lambda: self._accepted(dialog.path(), dialog.options()))
        dialog.open()  # window-modal but not blocking: the event loop (and tests) keep running
        self.dialog = dialog

    def _accepted(self, path: Path, options: ExportOptions) -> None:
        s = self.settings
        s.export_folder = str(path.parent)
        s.export_format, s.export_bits = options.fmt, options.bits
        s.export_quality, s.export_keep_metadata = options.quality, options.keep_metadata
        self.start(path, options)

    def start(self, path: Path, options: ExportOptions, interactive: bool = True) -> Job | None:
        """Render the current photo at full resolution and write it, in the background.

        With ``interactive``, a failure is shown in an error dialog; otherwise the caller
        reads :attr:`last_outcome` (see :meth:`export_to`).
        """
        session = self.session
        if session.photo is None:
            session.tell("Nothing to export", "Open a photo first.")
            return None
        if self.running:
            raise RuntimeError("an export is already running")
        request = ExportRequest(
            frame=session.photo.frame, ratio=session.ratio, model=session.model,
            device=session.device_pref, model_dirs=session.model_dirs, path=path,
            options=options, amount=session.amount,
        )  # fmt: skip
        return self._launch(
            lambda token, progress: export_image(request, session.cache, token, progress),
            request, path.name, path, interactive,
        )  # fmt: skip

    def _launch(
        self,
        work: Callable[[CancelToken, ProgressCallback], object],
        request: ExportRequest | BatchRequest,
        what: str,
        target: Path,
        interactive: bool,
    ) -> Job:
        """Start ``work`` as the export job, reporting through this exporter's signals."""
        job = Job(work, name=f"export {what}")
        job.payload = request
        job.on_progress(self._progress)
        job.on_done(self._done)
        self.job, self.last_outcome, self.interactive = job, None, interactive
        self.session.say(f"Exporting {what}…", 0)
        self.started.emit(str(target))
        job.start(self.pool)
        return job

    def cancel(self) -> None:
        """Ask the running export to stop; nothing is written once it has stopped."""
        if self.job is not None:
            self.job.cancel()
            self.session.say("Cancelling export…", 0)

    # -- several photos --------------------------------------------------------------------

    def choose_batch(
        self, paths: Sequence[str], settings_of: Callable[[str], PhotoSettings]
    ) -> None:
        """File ▸ Export Selected Photos: ask for format and folder, then export each photo
        with its own settings, in the background."""
        if not paths:
            self.session.say("Select photos in the filmstrip first")
            return
        if self.running:
            self.session.say("An export is already running")
            return
        s = self.settings
        folder = default_output_folder(paths[0], s.export_folder or None)
        dialog = ExportDialog(Path(paths[0]), folder, s.export_format, s.export_bits,
                              s.export_quality, s.export_keep_metadata, self.dialog_parent,
                              photos=len(paths))  # fmt: skip
        dialog.finished.connect(dialog.deleteLater)

        def accepted() -> None:
            folder, options = dialog.path(), dialog.options()
            s.export_folder = str(folder)
            s.export_format, s.export_bits = options.fmt, options.bits
            self.start_batch(paths, folder, options, settings_of)

        dialog.accepted.connect(accepted)
        dialog.open()
        self.dialog = dialog

    def start_batch(
        self,
        paths: Sequence[str],
        folder: Path,
        options: ExportOptions,
        settings_of: Callable[[str], PhotoSettings],
        interactive: bool = True,
    ) -> Job | None:
        """Export ``paths`` into ``folder``, each with ``settings_of(path)``, in the background;
        the outcome's result is one :class:`~engine.render.FileOutcome` per photo."""
        session = self.session
        if self.running:
            raise RuntimeError("an export is already running")
        try:
            if not Path(folder).is_dir():
                raise DarkroomError(f"{folder}: no such folder")
            items = batch_items(paths, Path(folder), options.fmt, settings_of)
        except DarkroomError as exc:
            session.tell("Export failed", str(exc))
            return None
        request = BatchRequest(items, session.device_pref, session.model_dirs, options,
                               Path(folder))  # fmt: skip
        return self._launch(
            lambda token, progress: export_batch(request, session.cache, token, progress),
            request, f"{len(items)} photos", Path(folder), interactive,
        )  # fmt: skip

    # -- scripting -------------------------------------------------------------------------

    def wait(self) -> JobOutcome | None:
        """Block (in a local event loop) until the current export reports back."""
        if self.job is None:
            return self.last_outcome
        wait_for(self.finished)
        return self.last_outcome

    def export_to(self, path: Path, options: ExportOptions) -> Path:
        """Blocking export of the session's photo; returns the written path, raises what
        stopped it. A photo still loading is the caller's to wait for."""
        if self.session.photo is None:
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
        self.session.say(f"Export: {message}…", 0)
        self.progress.emit(done, total, message)

    def _done(self, job: Job, outcome: JobOutcome) -> None:
        if job is self.job:
            self.job = None
        self.last_outcome = outcome
        if isinstance(job.payload, BatchRequest):
            self._batch_done(job.payload, outcome)
        elif outcome.status == "ok":
            self.session.say(f"Exported {outcome.result}", 8000)
        elif outcome.status == "cancelled":
            self.session.say("Export cancelled; nothing was written", 6000)
        else:
            self.session.say("", 0)
            if self.interactive:
                self.session.tell("Export failed", error_message(outcome.error))
        self.finished.emit(outcome)

    def _batch_done(self, request: BatchRequest, outcome: JobOutcome) -> None:
        if outcome.status == "cancelled":
            self.session.say("Export cancelled: photos already written are kept; nothing partial "
                             "was written", 8000)  # fmt: skip
            return
        if outcome.status == "error":
            self.session.say("", 0)
            if self.interactive:
                self.session.tell("Export failed", error_message(outcome.error))
            return
        failed = [o.error for o in outcome.result if not o.ok]
        written = len(outcome.result) - len(failed)
        self.session.say(f"Exported {written} photo{'s' if written != 1 else ''} into "
                         f"{request.folder}", 8000)  # fmt: skip
        if failed and self.interactive:
            self.session.tell(f"{len(failed)} of {len(outcome.result)} photos were not exported",
                              "\n".join(failed))  # fmt: skip
