"""Folders: File ▸ Open Folder, the filmstrip, next / previous photo, export of a selection.

The folder's RAW files are the engine's list (:func:`engine.io.raw_files_in`); choosing one in
the strip (click, arrow keys) or with Ctrl+Right / Ctrl+Left opens it through the window's
loader, and each photo opens with its own settings (:mod:`darkroom_app.photo_settings`).
Several selected photos are exported with their own settings by the engine's batch
(:meth:`~darkroom_app.exporter.Exporter.choose_batch`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from engine.errors import DarkroomError
from engine.io import raw_files_in

from .exporter import Exporter
from .loader import PhotoLoader
from .photo_settings import PhotoSettingsKeeper
from .session import Session
from .settings import AppSettings
from .window_ui import WindowUi


class FolderControls(QObject):
    """Wires the folder actions and the filmstrip (see :class:`~darkroom_app.window_ui.WindowUi`).

    Signals:
        folderOpened(str): a folder's photos are in the filmstrip.
    """

    folderOpened = Signal(str)

    def __init__(
        self,
        ui: WindowUi,
        session: Session,
        loader: PhotoLoader,
        exporter: Exporter,
        keeper: PhotoSettingsKeeper,
        settings: AppSettings,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.ui, self.session, self.loader = ui, session, loader
        self.exporter, self.keeper, self.settings = exporter, keeper, settings
        self.dialog_parent = parent
        self.strip = ui.filmstrip
        self.folder: Path | None = None
        ui.open_folder_action.triggered.connect(self.choose_folder)
        ui.next_photo_action.triggered.connect(lambda: self.step(1))
        ui.previous_photo_action.triggered.connect(lambda: self.step(-1))
        ui.export_selected_action.triggered.connect(self.export_selected)
        self.strip.photoChosen.connect(self._chosen)

    def choose_folder(self) -> None:
        """File ▸ Open Folder: ask for a folder (non-blocking dialog), then open it."""
        start = str(self.folder or Path(self.session.path or Path.home()).parent)
        dialog = QFileDialog(self.dialog_parent, "Open Folder", start)
        dialog.setObjectName("openFolderDialog")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(self.open_folder)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def open_folder(self, folder: str | Path) -> list[str]:
        """Show ``folder``'s RAW files in the filmstrip and open the first (unless the current
        photo is one of them). Returns the files; none, or an unreadable folder, is said in a
        dialog and changes nothing."""
        folder = Path(folder)
        try:
            files = raw_files_in(folder)
        except DarkroomError as exc:
            self.session.tell("Cannot open the folder", str(exc))
            return []
        if not files:
            self.session.tell("No photos", f"{folder}: no RAW files in this folder")
            return []
        self.folder = folder
        self.strip.show_folder(folder, files)
        self.ui.filmstrip_dock.show()
        for action in (self.ui.next_photo_action, self.ui.previous_photo_action,
                       self.ui.export_selected_action):  # fmt: skip
            action.setEnabled(True)
        paths = [str(p) for p in files]
        if self.session.path in paths:
            self.strip.mark_current(self.session.path)
        else:
            self.loader.open(paths[0])
        self.folderOpened.emit(str(folder))
        return paths

    def step(self, offset: int) -> str | None:
        """Open the photo ``offset`` places along the strip (the open photo's folder fills the
        strip if no folder is open); None (and a status line) at an end."""
        if not self.strip.count() and self.session.path is not None:
            self.open_folder(Path(self.session.path).parent)  # the open photo's own folder
        # Count from the photo on its way, so quick presses add up.
        path = self.strip.neighbour(self.loader.loading_path or self.session.path, offset)
        if path is None:
            self.session.say("Last photo of the folder" if offset > 0 else "First photo")
            return None
        self.loader.open(path)
        return path

    def photo_loaded(self, path: str) -> None:
        """Show the photo that just opened as the strip's current one."""
        self.strip.mark_current(path)

    def export_selected(self) -> None:
        """Export the selected photos (all of the folder's when none is selected), each with
        its own settings."""
        paths = self.strip.selected_paths() or self.strip.paths()
        self.keeper.save_now()  # the current photo's last change
        self.exporter.choose_batch(paths, self.keeper.settings_of)

    def _chosen(self, path: str) -> None:
        if path != self.session.path:
            self.loader.open(path)

    def shutdown(self) -> None:
        self.strip.shutdown()
