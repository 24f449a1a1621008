"""The filmstrip: an open folder's RAW files as thumbnails, in one row under the photo.

Thumbnails are each file's embedded preview (:func:`engine.io.embedded_thumbnail`), made one
file at a time by cancellable jobs on their own one-thread pool, so a big folder never holds up
the live preview's pool; the strip shows names at once and fills in pictures as they come.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QSignalBlocker, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from engine.io import embedded_thumbnail

from .preview_render import to_qimage
from .workers import Job, JobOutcome, error_message

THUMB_SIDE = 96
_PATH_ROLE = Qt.ItemDataRole.UserRole


class FilmStrip(QListWidget):
    """One row of thumbnails; several may be selected (Ctrl/Shift) for a batch export.

    Signals:
        photoChosen(str): the user picked a photo (click, arrow keys, Enter).
    """

    photoChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filmStrip")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE))
        self.setGridSize(QSize(THUMB_SIDE + 40, THUMB_SIDE + 22))
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setFixedHeight(THUMB_SIDE + 44)
        # Long names lose their middle, not the frame number at their end.
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setToolTip("Ctrl+Right / Ctrl+Left: next / previous photo; "
                        "Ctrl- or Shift-click to select several for export")  # fmt: skip
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.jobs: list[Job] = []
        self.folder: Path | None = None
        self._placeholder = _placeholder_icon()
        self.currentItemChanged.connect(self._current_changed)
        self.itemActivated.connect(lambda item: self.photoChosen.emit(item.data(_PATH_ROLE)))

    # -- contents --------------------------------------------------------------------------

    def show_folder(self, folder: Path, files: list[Path]) -> None:
        """List ``files`` (of ``folder``) and start making their thumbnails."""
        self.cancel()
        self.folder = folder
        with QSignalBlocker(self):
            self.clear()
            for path in files:
                item = QListWidgetItem(self._placeholder, path.name)
                item.setData(_PATH_ROLE, str(path))
                item.setToolTip(str(path))
                item.setSizeHint(self.gridSize())
                self.addItem(item)
        for i, path in enumerate(files):
            self._start_thumbnail(i, path)

    def paths(self) -> list[str]:
        """Every photo of the strip, in order."""
        return [self.item(i).data(_PATH_ROLE) for i in range(self.count())]

    def selected_paths(self) -> list[str]:
        """The selected photos, in the strip's order."""
        chosen = {item.data(_PATH_ROLE) for item in self.selectedItems()}
        return [path for path in self.paths() if path in chosen]

    def mark_current(self, path: str) -> None:
        """Show ``path`` as the current photo (no :attr:`photoChosen`); ignored if absent."""
        for i in range(self.count()):
            item = self.item(i)
            if item.data(_PATH_ROLE) == path:
                with QSignalBlocker(self):
                    if len(self.selectedItems()) <= 1:
                        self.setCurrentItem(item)
                    else:  # a selection of several (for an export) stays as it is
                        self.selectionModel().setCurrentIndex(
                            self.indexFromItem(item), QItemSelectionModel.SelectionFlag.NoUpdate
                        )
                self.scrollToItem(item)
                return

    def neighbour(self, path: str | None, step: int) -> str | None:
        """The photo ``step`` places after ``path`` (before, if negative), or None at an end."""
        paths = self.paths()
        if not paths:
            return None
        if path not in paths:
            return paths[0] if step > 0 else paths[-1]
        index = paths.index(path) + step
        return paths[index] if 0 <= index < len(paths) else None

    def thumbnails_done(self) -> bool:
        """Whether every thumbnail job has reported back (tests, scripts)."""
        return not self.jobs

    # -- thumbnails ------------------------------------------------------------------------

    def _start_thumbnail(self, row: int, path: Path) -> None:
        job = Job(lambda _token, _progress: embedded_thumbnail(path, THUMB_SIDE),
                  name=f"thumbnail {path.name}")  # fmt: skip
        job.payload = (self.folder, row, str(path))
        job.on_done(self._thumbnail_done)
        self.jobs.append(job)
        job.start(self.pool)

    def _thumbnail_done(self, job: Job, outcome: JobOutcome) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        folder, row, path = job.payload
        item = self.item(row) if folder == self.folder and row < self.count() else None
        if item is None or item.data(_PATH_ROLE) != path:
            return  # another folder is shown now
        if outcome.status == "ok":
            item.setIcon(QIcon(QPixmap.fromImage(to_qimage(outcome.result))))
        elif outcome.status == "error":
            item.setToolTip(f"{path}\nNo preview: {error_message(outcome.error)}")

    def cancel(self) -> None:
        """Cancel the thumbnails still to make (they report back as cancelled)."""
        for job in self.jobs:
            job.cancel()

    def shutdown(self) -> None:
        self.cancel()
        self.pool.waitForDone()

    def _current_changed(self, current: QListWidgetItem | None, _previous: object) -> None:
        # Arrow keys and clicks move the current item: that photo opens. Extending a
        # selection with Ctrl/Shift moves it too, and opening the last one touched is fine.
        if current is not None:
            self.photoChosen.emit(current.data(_PATH_ROLE))


def _placeholder_icon() -> QIcon:
    pixmap = QPixmap(THUMB_SIDE, THUMB_SIDE * 2 // 3)
    pixmap.fill(QColor(60, 60, 64))
    return QIcon(pixmap)
