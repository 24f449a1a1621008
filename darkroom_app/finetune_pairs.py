"""The pairs part of the fine-tune panel: adding folders and picked files, thumbnails, summary.

Reading RAW files is slow (a full decode each), so pairing a folder, checking two picked files
and rendering thumbnails all run as :class:`~darkroom_app.workers.Job` on the panel's
one-thread pool. A failed or cancelled scan leaves the table as it was: nothing the user added
is lost. Invalid pairs and files in no pair stay listed (in red, with the reason).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog

from engine.finetune import CheckedPair, SuspectPair
from engine.io import RAW_EXTENSIONS
from engine.jobs import CancelToken, ProgressCallback

from .finetune_jobs import (
    PAIR,
    UNPAIRED,
    UNREADABLE,
    PairTableRow,
    ThumbnailSignals,
    make_thumbnails,
    pick_pair_row,
    scan_folder_rows,
)
from .finetune_panel_ui import FineTunePanelUi
from .session import Session
from .settings import AppSettings
from .workers import Job, JobOutcome, error_message

RAW_FILES = "RAW photos ({});;All files (*)".format(
    " ".join(f"*{e} *{e.upper()}" for e in RAW_EXTENSIONS)
)  # upper case too: file dialogs match case-sensitively on Linux


class PairsController(QObject):
    """Owns the list of pair rows shown in the panel's table.

    It remembers the last folder in ``settings`` and reports errors through the session.

    Signals:
        changed(int): the rows changed; the number of valid pairs.
        scanFinished(str): a folder scan or picked pair ended: "ok", "cancelled" or "error".
    """

    changed = Signal(int)
    scanFinished = Signal(str)

    def __init__(
        self,
        ui: FineTunePanelUi,
        session: Session,
        settings: AppSettings,
        pool: QThreadPool,
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self.ui, self.session, self.settings, self.pool = ui, session, settings, pool
        self.rows: list[PairTableRow] = []
        self.thumbs: dict[str, QImage] = {}
        self.jobs: list[Job] = []  # scans and thumbnails in flight
        self.scan_job: Job | None = None
        ui.add_folder_button.clicked.connect(self._choose_folder)
        ui.add_pair_button.clicked.connect(self._choose_pair)
        ui.remove_button.clicked.connect(self.remove_selected)
        ui.clear_button.clicked.connect(self.clear)
        ui.cancel_scan_button.clicked.connect(self.cancel_scan)
        ui.table.itemSelectionChanged.connect(self._update_buttons)
        self.refresh()

    # -- adding ----------------------------------------------------------------------------

    def add_folder(self, folder: str | Path) -> Job | None:
        """Pair the RAW files of ``folder`` (or a CSV pair list) and add them to the table."""
        name = Path(folder).name or str(folder)
        self.settings.store.setValue("fineTune/folder", str(folder))
        return self._scan(
            lambda t, p: scan_folder_rows(Path(folder), t, p),
            f"Reading {name}…",
            f"No pairs added from {name}",
        )

    def add_pair(self, first: str | Path, second: str | Path) -> Job | None:
        """Check two picked files (in either order) and add the pair."""
        return self._scan(
            lambda t, p: [pick_pair_row(Path(first), Path(second))],
            "Checking the pair…",
            "Cannot add the pair",
        )

    def _scan(
        self, work: Callable[[CancelToken, ProgressCallback], Any], message: str, error_title: str
    ) -> Job | None:
        if self.scan_job is not None:
            self.ui.pair_summary.setText("Still reading the previous files; try again after.")
            return None
        job = Job(work, name=message)
        job.payload = error_title
        job.on_progress(self._scan_progress)
        job.on_done(self._scan_done)
        self.scan_job = job
        self.jobs.append(job)
        ui = self.ui
        ui.scan_progress.setRange(0, 0)  # "busy" until the first file count arrives
        ui.scan_progress.show()
        ui.cancel_scan_button.show()
        ui.pair_summary.setText(message)
        job.start(self.pool)
        return job

    def cancel_scan(self) -> None:
        if self.scan_job is not None:
            self.scan_job.cancel()

    def _scan_progress(self, done: int, total: int, message: str) -> None:
        self.ui.scan_progress.setRange(0, max(total, 1))
        self.ui.scan_progress.setValue(done)
        self.ui.pair_summary.setText(message[:1].upper() + message[1:] + "…")

    def _scan_done(self, job: Job, outcome: JobOutcome) -> None:
        self._forget(job, outcome)
        if job is self.scan_job:
            self.scan_job = None
        self.ui.scan_progress.hide()
        self.ui.cancel_scan_button.hide()
        if outcome.status == "ok":
            self._add_rows(outcome.result)
        else:
            self.refresh()  # the table is untouched: nothing the user added is lost
            if outcome.status == "error":
                message = error_message(outcome.error)
                self.ui.pair_summary.setText(f"{job.payload}: {message}")
                self.session.tell(str(job.payload), message)
        self.scanFinished.emit(outcome.status)

    def _add_rows(self, rows: list[PairTableRow]) -> None:
        known = {row.key for row in self.rows}
        new = [row for row in rows if row.key not in known]
        self.rows += new
        self.refresh()
        todo = list(dict.fromkeys(str(r.thumb_path) for r in new if r.thumb_path is not None))
        todo = [p for p in todo if p not in self.thumbs]
        if not todo:
            return
        signals = ThumbnailSignals()
        signals.ready.connect(self._thumb_ready, Qt.ConnectionType.QueuedConnection)
        job = Job(
            lambda token, _p: make_thumbnails([Path(p) for p in todo], signals.ready.emit, token),
            name="thumbnails",
        )
        job.payload = signals  # keeps the signal object alive as long as the job
        job.on_done(self._forget)
        self.jobs.append(job)
        job.start(self.pool)

    def _thumb_ready(self, path: str, image: QImage) -> None:
        self.thumbs[path] = image
        self.ui.table.set_thumbnail(path, image)

    def _forget(self, job: Job, outcome: JobOutcome) -> None:
        if job in self.jobs:
            self.jobs.remove(job)

    # -- editing ---------------------------------------------------------------------------

    def remove_selected(self) -> None:
        chosen = set(self.ui.table.selected_rows())
        self.rows = [row for i, row in enumerate(self.rows) if i not in chosen]
        self.refresh()

    def clear(self) -> None:
        self.rows = []
        self.refresh()

    def mark_suspects(self, suspects: Sequence[SuspectPair]) -> None:
        """Flag the rows of pairs a fine-tune found suspicious (amber, with the reason)."""
        found = {(str(Path(s.short).resolve()), str(Path(s.long).resolve())): s.describe()
                 for s in suspects}  # fmt: skip
        marked = [replace(r, suspicion=found.get(r.key, r.suspicion)) for r in self.rows]
        if marked != self.rows:
            self.rows = marked
            self.refresh()

    def usable_pairs(self) -> list[CheckedPair]:
        """The valid pairs, in table order: what Start trains on."""
        return [row.candidate for row in self.rows if row.usable and row.candidate is not None]

    def cameras(self) -> list[str]:
        return sorted({p.camera for p in self.usable_pairs()})

    def refresh(self) -> None:
        """Re-show the rows and the summary line, then tell the panel."""
        self.ui.table.set_rows(self.rows, self.thumbs)
        pairs = self.usable_pairs()
        self.ui.pair_summary.setText(self.summary())
        self._update_buttons()
        self.changed.emit(len(pairs))

    def summary(self) -> str:
        """One line: how many pairs are usable and what is wrong with the rest."""
        if not self.rows:
            return (
                "Add a folder of tripod shots (a short and a long exposure of each scene), "
                "or pick two files."
            )
        valid = len(self.usable_pairs())
        cameras = self.cameras()
        invalid = sum(r.kind == PAIR and not r.usable for r in self.rows)
        unpaired = sum(r.kind == UNPAIRED for r in self.rows)
        unreadable = sum(r.kind == UNREADABLE for r in self.rows)
        text = f"{valid} valid pair(s)" + (f" ({', '.join(cameras)})" if cameras else "")
        for n, what in (
            (invalid, "invalid pair(s)"),
            (unpaired, "file(s) not paired"),
            (unreadable, "unreadable file(s)"),
        ):
            text += f" · {n} {what}" if n else ""
        if len(cameras) > 1:
            return text + ". ⚠ Several cameras: fine-tune one camera at a time."
        if invalid or unpaired or unreadable:
            return text + ". Only the valid pairs are used (red rows say why)."
        return text + "."

    def _update_buttons(self) -> None:
        self.ui.remove_button.setEnabled(bool(self.ui.table.selected_rows()))
        self.ui.clear_button.setEnabled(bool(self.rows))

    # -- file dialogs ----------------------------------------------------------------------

    def _start_folder(self) -> str:
        value = self.settings.store.value("fineTune/folder", "")
        return value if isinstance(value, str) and value else self.settings.last_folder

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.ui.table, "Folder of tripod pairs", self._start_folder()
        )
        if folder:
            self.add_folder(folder)

    def _choose_pair(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self.ui.table,
            "Pick the short and the long exposure of one scene",
            self._start_folder(),
            RAW_FILES,
        )
        if len(files) == 2:
            self.add_pair(*files)
        elif files:
            self.session.tell(
                "Pick two files",
                "Select exactly two RAW files: the short and the long exposure of the same scene.",
            )

    def shutdown(self) -> None:
        """Cancel the scans and thumbnails (the owner waits for its pool)."""
        for job in self.jobs:
            job.cancel()
