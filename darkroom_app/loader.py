"""Decoding RAW files in the background, newest request wins."""

from __future__ import annotations

from PySide6.QtCore import QObject, QThreadPool, Signal

from .workers import Job, JobOutcome, error_message, load_photo, wait_for


class PhotoLoader(QObject):
    """Loads one photo at a time on ``pool``; a newer :meth:`open` cancels an older one.

    Signals:
        loaded(object): a :class:`~darkroom_app.workers.LoadedPhoto` is ready.
        failed(str, str): path and the one-line reason it could not be opened.
        finished(bool): the newest load ended (success or not).
    """

    loaded = Signal(object)
    failed = Signal(str, str)
    finished = Signal(bool)

    def __init__(self, pool: QThreadPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.job: Job | None = None

    @property
    def busy(self) -> bool:
        return self.job is not None

    def open(self, path: str) -> Job:
        if self.job is not None:
            self.job.cancel()  # skipped if still queued; its result is ignored otherwise
        job = Job(lambda token, _progress: load_photo(path, token), name=f"load {path}")
        job.payload = path
        job.on_done(self._done)
        self.job = job
        self.pool.start(job)
        return job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def wait(self) -> None:
        """Block in a local event loop while a photo is loading."""
        if self.job is None:
            return
        wait_for(self.finished)

    def _done(self, job: Job, outcome: JobOutcome) -> None:
        if job is not self.job:
            return  # superseded by a newer open()
        self.job = None
        if outcome.status == "ok":
            self.loaded.emit(outcome.result)
        elif outcome.status == "error":
            self.failed.emit(str(job.payload), error_message(outcome.error))
        self.finished.emit(outcome.status == "ok")
