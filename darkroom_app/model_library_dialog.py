"""The Model library dialog: list, rename, delete, export and import the user's own models.

Rename and delete are a file rename or two and run on the GUI thread; export and import copy
(and, for import, fully validate) weights files that may be tens of megabytes, so they run as
:class:`~darkroom_app.workers.Job` on the pool the owner lends. Every change is announced with
:meth:`Session.models_edited <darkroom_app.session.Session.models_edited>` (the window re-lists
its model selector from it); errors go through
:meth:`Session.tell <darkroom_app.session.Session.tell>`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import DarkroomError
from engine.models import (
    LibraryModel,
    delete_model,
    export_model,
    import_model,
    list_library,
    rename_model,
)

from .session import Session
from .workers import Job, JobOutcome, error_message


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


class ModelLibraryDialog(QDialog):
    """Lists the models in the user's library (the session's user models folder).

    Signals:
        changed(): a model was added, renamed or removed (the session was already told).
        jobFinished(str): an export or import ended: ``"ok"``, ``"cancelled"`` or ``"error"``.
    """

    changed = Signal()
    jobFinished = Signal(str)

    COLUMNS = ("Name", "Based on", "Iterations", "Validation PSNR", "Size")

    def __init__(self, session: Session, pool: QThreadPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.pool = pool
        self.jobs: list[Job] = []
        self.entries: list[LibraryModel] = []
        self.setObjectName("modelLibraryDialog")
        self.setWindowTitle("Model library")
        self.resize(640, 360)
        self.folder_label = QLabel()
        self.folder_label.setObjectName("libraryFolderLabel")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder_label.setWordWrap(True)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setObjectName("libraryTable")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.empty_label = QLabel(
            "No models of your own yet. Fine-tune one (Tools ▸ Fine-tune on my camera…) or "
            "import a .safetensors file with its .json card."
        )
        self.empty_label.setObjectName("libraryEmptyLabel")
        self.empty_label.setWordWrap(True)
        self.status_label = QLabel()
        self.status_label.setObjectName("libraryStatusLabel")

        def button(text: str, name: str, slot: Callable[[], None]) -> QPushButton:
            b = QPushButton(text)
            b.setObjectName(name)
            b.clicked.connect(slot)
            return b

        self.rename_button = button("Rename…", "renameModelButton", self._ask_rename)
        self.delete_button = button("Delete…", "deleteModelButton", self._ask_delete)
        self.export_button = button("Export…", "exportModelButton", self._ask_export)
        self.import_button = button("Import…", "importModelButton", self._ask_import)
        row = QHBoxLayout()
        for b in (self.rename_button, self.delete_button, self.export_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(self.import_button)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.folder_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label)
        layout.addLayout(row)
        layout.addWidget(self.status_label)
        layout.addWidget(close)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.reload()

    @property
    def library(self) -> Path:
        """Read each time: Preferences may point the session at another folder meanwhile."""
        return self.session.user_models_dir

    # -- listing ---------------------------------------------------------------------------

    def reload(self, select: str | None = None) -> None:
        """Re-read the library folder; keep (or move) the selection."""
        keep = select or self.selected_name()
        self.entries = list_library(self.library)
        self.folder_label.setText(f"Folder: {self.library}")
        self.table.setRowCount(len(self.entries))
        for r, entry in enumerate(self.entries):
            card = entry.card
            psnr = card.metrics.get("psnr") if card else None
            before = card.metrics.get("psnr_before") if card else None
            if isinstance(psnr, float) and isinstance(before, float):
                score = f"{before:.2f} → {psnr:.2f} dB"
            else:
                score = f"{psnr:.2f} dB" if isinstance(psnr, float) else ""
            texts = (
                entry.name,
                (card.base_model or card.architecture) if card else "",
                f"{card.iterations:,}" if card and card.iterations else "",
                score,
                _size(entry.size_bytes),
            )
            for c, text in enumerate(texts):
                item = QTableWidgetItem(text)
                item.setToolTip(entry.problem or (card.training_data if card else ""))
                self.table.setItem(r, c, item)
        self.empty_label.setVisible(not self.entries)
        if not self.select(keep) and self.entries:
            self.table.selectRow(0)  # the buttons act on a selection: offer the first
        self._update_buttons()

    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()].name if rows else None

    def select(self, name: str | None) -> bool:
        """Select the model ``name``; returns whether it is listed."""
        if name in self.names():
            self.table.selectRow(self.names().index(name))
            return True
        self.table.clearSelection()
        return False

    def _update_buttons(self) -> None:
        chosen = self.selected_name() is not None
        for b in (self.rename_button, self.delete_button, self.export_button):
            b.setEnabled(chosen)

    def _changed(self, select: str | None = None, renamed: dict[str, str] | None = None) -> None:
        self.reload(select)
        self.session.models_edited(renamed)  # the window re-lists its model selector
        self.changed.emit()

    # -- operations (also the scripting and test interface) --------------------------------

    def rename(self, old: str, new: str) -> bool:
        """Rename a model (weights, card, the name in the card); errors go to a dialog."""
        try:
            entry = rename_model(old, new.strip(), self.library)
        except DarkroomError as exc:
            self.session.tell("Cannot rename model", str(exc))
            return False
        self.status_label.setText(f"Renamed {old!r} to {entry.name!r}")
        self._changed(entry.name, {old: entry.name})
        return True

    def delete(self, name: str) -> bool:
        """Delete a model's files (and any checkpoint of it); errors go to a dialog."""
        try:
            delete_model(name, self.library)
        except DarkroomError as exc:
            self.session.tell("Cannot delete model", str(exc))
            return False
        self.status_label.setText(f"Deleted {name!r}")
        self._changed()
        return True

    def export(self, name: str, folder: str | Path) -> Job:
        """Copy a model and its card into ``folder`` in the background."""
        library = self.library
        return self._start(
            lambda: export_model(name, folder, library),
            f"Exporting {name!r}…",
            "Cannot export model",
        )

    def import_file(self, path: str | Path) -> Job:
        """Validate and copy a ``.safetensors`` model (with its ``.json`` card) in."""
        library = self.library
        return self._start(
            lambda: import_model(path, library),
            f"Importing {Path(path).name}…",
            "Cannot import model",
        )

    def _start(self, work: Callable[[], object], message: str, error_title: str) -> Job:
        job = Job(lambda _token, _progress: work(), name=message)
        job.payload = error_title
        job.on_done(self._job_done)
        self.jobs.append(job)
        self.status_label.setText(message)
        self.import_button.setEnabled(False)
        job.start(self.pool)
        return job

    def _job_done(self, job: Job, outcome: JobOutcome) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        self.import_button.setEnabled(not self.jobs)
        result = outcome.result
        if outcome.status == "ok" and isinstance(result, LibraryModel):
            self.status_label.setText(f"Imported {result.name!r}")
            self._changed(result.name)
        elif outcome.status == "ok":
            self.status_label.setText(f"Exported to {result}")
        elif outcome.status == "error":
            self.status_label.setText("")
            self.session.tell(str(job.payload), error_message(outcome.error))
        self.jobFinished.emit(outcome.status)

    # -- asking the user (non-blocking dialogs, so the window keeps working) ----------------

    def _ask_rename(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        ask = QInputDialog(self)
        ask.setObjectName("renameModelInput")
        ask.setWindowTitle("Rename model")
        ask.setLabelText(f"New name for {name!r}:")
        ask.setTextValue(name)
        ask.textValueSelected.connect(lambda new: self.rename(name, new))
        ask.finished.connect(ask.deleteLater)
        ask.open()

    def _ask_delete(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete model",
            f"Delete the model {name!r} and its card? This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("confirmDeleteDialog")
        yes = box.button(QMessageBox.StandardButton.Yes)
        # QMessageBox does not emit accepted() for Yes: look at which button closed it.
        box.finished.connect(lambda _: self.delete(name) if box.clickedButton() is yes else None)
        box.finished.connect(box.deleteLater)
        box.open()

    def _ask_export(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        folder = QFileDialog.getExistingDirectory(self, f"Export {name!r} to folder")
        if folder:
            self.export(name, folder)

    def _ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a model", "", "Darkroom models (*.safetensors)"
        )
        if path:
            self.import_file(path)
