"""Opening photos: the file dialog, the bundled sample, and decoding in the background.

Decoding runs as a :class:`~darkroom_app.workers.Job`; the newest request wins.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from engine.io import RAW_EXTENSIONS
from engine.resources import sample_raw_path

from .session import Session, open_photo
from .workers import Job, JobOutcome, error_message, wait_for

RAW_FILTER = "RAW photos ({})".format(
    " ".join(f"*{e} *{e.upper()}" for e in RAW_EXTENSIONS)
)  # upper case too: file dialogs match case-sensitively on Linux


def ask_for_raw_file(parent: QWidget, folder: str) -> str:
    """File ▸ Open: the RAW file the user picked in ``folder``, or "" if cancelled."""
    name, _ = QFileDialog.getOpenFileName(parent, "Open RAW photo", folder, RAW_FILTER)
    return name


class PhotoLoader(QObject):
    """Loads one photo at a time on ``pool``; a newer :meth:`open` cancels an older one.

    A loaded photo becomes the session's current photo; a file that cannot be opened is
    reported through the session, and the current photo stays.

    Signals:
        finished(bool): the newest load ended (success or not).
    """

    finished = Signal(bool)

    def __init__(self, pool: QThreadPool, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.session = session
        self.job: Job | None = None

    @property
    def busy(self) -> bool:
        return self.job is not None

    @property
    def loading_path(self) -> str | None:
        """The photo being opened, if one is."""
        return self.job.payload if self.job is not None else None

    def open(self, path: str) -> Job:
        if self.job is not None:
            self.job.cancel()  # skipped if still queued; its result is ignored otherwise
        job = Job(lambda token, _progress: open_photo(path, token), name=f"load {path}")
        job.payload = path
        job.on_done(self._done)
        self.job = job
        self.session.say(f"Opening {Path(path).name}…", 0)
        job.start(self.pool)
        return job

    def open_sample(self) -> Job | None:
        """Open the bundled low-light sample (None, and the user told, if it is missing)."""
        try:
            return self.open(str(sample_raw_path()))
        except FileNotFoundError as exc:
            self.session.tell("Sample missing", str(exc))
            return None

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
            self.session.set_photo(outcome.result)
        elif outcome.status == "error":
            self.session.say("", 0)
            self.session.tell("Cannot open photo", error_message(outcome.error))
        self.finished.emit(outcome.status == "ok")
