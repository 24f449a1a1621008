"""Engine jobs wrapped for Qt: a cancellable QRunnable, and the export job.

Each :class:`Job` owns a :class:`~engine.jobs.CancelToken` and reports back through a
:class:`JobSignals` object created in the GUI thread. Its signals are connected with
``Qt.QueuedConnection`` (see :meth:`Job.on_done`), so callbacks always run in the GUI thread no
matter which thread emits. The job functions (:func:`~darkroom_app.session.open_photo`,
:func:`~darkroom_app.preview_render.render_preview_pass`, :func:`export_image`) are plain engine
calls: QImage is the only Qt type they touch, and QImage is safe to build off the GUI thread
(QPixmap is not).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, QRunnable, Qt, QThreadPool, Signal

from engine.errors import Cancelled, DarkroomError
from engine.io import ExportOptions, RawFrame
from engine.jobs import CancelToken, ProgressCallback
from engine.render import Adjustments, export_frame

from .session import EnhancerCache


@dataclass
class JobOutcome:
    """How a job ended: ``status`` is ``"ok"``, ``"cancelled"`` or ``"error"``."""

    status: str
    result: Any = None
    error: BaseException | None = None


class JobSignals(QObject):
    """Signals of one job; lives in the GUI thread, emitted from the worker."""

    progress = Signal(int, int, str)
    done = Signal(object)  # JobOutcome


#: Jobs started and not yet finished on both sides (see :meth:`Job.start`).
_LIVE_JOBS: set[Job] = set()
_LIVE_LOCK = threading.Lock()


def live_jobs() -> int:
    """How many jobs are started and not yet finished on both sides (tests check it is 0)."""
    with _LIVE_LOCK:
        return len(_LIVE_JOBS)


class Job(QRunnable):
    """``work(cancel, progress)`` run in a thread pool, reporting a :class:`JobOutcome`.

    Lifetime: two sides use a started job, the pool's worker thread (inside :meth:`run`) and
    the GUI thread (the queued ``done`` delivery to each :meth:`on_done` slot). Qt must not
    delete the runnable while either still needs it, so auto-delete is off, and Python must
    not collect it either, which would delete it too: an owner may drop its reference as soon
    as its slot has run, while the worker is still returning from :meth:`run`, or before a
    queued delivery has arrived. So :meth:`start` puts the job in a module-level set of live
    jobs, and it leaves that set only when :meth:`run` has finished *and* every ``done``
    delivery has run, whichever comes last (a count of holds under a lock).
    """

    def __init__(self, work: Callable[[CancelToken, ProgressCallback], Any], name: str) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns the runnable; see the class docstring
        self.name = name
        self.work = work
        self.token = CancelToken()
        self.signals = JobSignals()
        self.outcome: JobOutcome | None = None
        self.payload: Any = None  # the owner's note of what this job is for
        self._holds = 1  # run() itself; each on_done slot adds one
        self._started = False

    def start(self, pool: QThreadPool) -> None:
        """Queue the job on ``pool``, keeping it alive until both sides are done with it."""
        with _LIVE_LOCK:
            if self._started:
                raise RuntimeError(f"job {self.name!r} was already started")
            self._started = True
            _LIVE_JOBS.add(self)
        pool.start(self)

    def _release(self) -> None:
        """One side is done with the job; the last one lets it go."""
        with _LIVE_LOCK:
            self._holds -= 1
            if self._holds == 0:
                _LIVE_JOBS.discard(self)

    def cancel(self) -> None:
        self.token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def on_done(self, slot: Callable[[Job, JobOutcome], None]) -> None:
        """Call ``slot(job, outcome)`` in the GUI thread when the job ends (connect it before
        :meth:`start`, so the job is kept alive until the slot has run)."""
        with _LIVE_LOCK:
            if self._started:
                raise RuntimeError(f"connect on_done before starting job {self.name!r}")
            self._holds += 1

        def deliver(outcome: JobOutcome) -> None:
            try:
                slot(self, outcome)
            finally:
                self._release()

        self.signals.done.connect(deliver, Qt.ConnectionType.QueuedConnection)

    def on_progress(self, slot: Callable[[int, int, str], None]) -> None:
        self.signals.progress.connect(slot, Qt.ConnectionType.QueuedConnection)

    def _progress(self, done: int, total: int, message: str) -> None:
        self.signals.progress.emit(int(done), int(total), str(message))

    def run(self) -> None:
        try:
            self.token.raise_if_cancelled()  # superseded while still queued: skip the work
            # A job that returns succeeded even if Cancel came too late to stop it (an export
            # past its last checkpoint has written its file); stale previews are dropped by
            # their owner, which knows which one is current.
            outcome = JobOutcome("ok", self.work(self.token, self._progress))
        except Cancelled:
            outcome = JobOutcome("cancelled")
        except Exception as exc:  # noqa: BLE001 - reported to the GUI, which shows it
            outcome = JobOutcome("error", error=exc)
        self.outcome = outcome
        self.signals.done.emit(outcome)
        self._release()  # last: the frame's own reference keeps the job alive until it returns


def wait_for(signal: Any) -> None:
    """Block in a local event loop until ``signal`` fires (for blocking scripting calls)."""
    loop = QEventLoop()
    signal.connect(loop.quit)
    try:
        loop.exec()
    finally:
        signal.disconnect(loop.quit)


# -- export ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    """An export job: the photo and model as the window has them, the file and the options."""

    frame: RawFrame
    ratio: float
    model: str
    device: str
    model_dirs: tuple[Path, ...]
    path: Path
    options: ExportOptions
    amount: float = 1.0


def export_image(
    req: ExportRequest, cache: EnhancerCache, cancel: CancelToken, progress: ProgressCallback
) -> Path:
    """Full-resolution render, then an atomic write (:func:`engine.render.export_frame`, the
    CLI's path too); nothing is written once cancelled."""
    progress(0, 100, "Loading model")
    enhancer = cache.get(req.model, req.device, req.model_dirs)
    adjustments = Adjustments(req.ratio, req.amount)
    export_frame(enhancer, req.frame, adjustments, req.path, req.options, progress, cancel)
    return req.path


def error_message(error: BaseException | None) -> str:
    """The one-line message of a user error; anything else is a bug, said as plainly."""
    if isinstance(error, DarkroomError):
        return str(error)
    return f"Unexpected error: {type(error).__name__}: {error}"
