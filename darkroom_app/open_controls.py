"""How photos get opened: File ▸ Open, the sample, recent files, drops, and the first photo.

Every way in ends in :meth:`PhotoLoader.open <darkroom_app.loader.PhotoLoader.open>`, which
keeps the current photo until the new one has loaded. :class:`OpenControls` wires those ways
and remembers what was opened (recent files, last folder), so the main window only hears
that a photo changed.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QObject
from PySide6.QtWidgets import QWidget

from .loader import PhotoLoader, ask_for_raw_file
from .settings import AppSettings
from .window_ui import WindowUi


def dropped_files(mime: QMimeData) -> list[str]:
    """The local files in a drag's data, in order (URLs from elsewhere are ignored)."""
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]


class OpenControls(QObject):
    """Wires the window's opening widgets (see :class:`~darkroom_app.window_ui.WindowUi`)."""

    def __init__(
        self, loader: PhotoLoader, ui: WindowUi, settings: AppSettings, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self.loader, self.ui, self.settings, self.dialog_parent = loader, ui, settings, parent
        ui.recent_menu.set_paths(settings.recent_files)
        ui.open_action.triggered.connect(self.choose_file)
        ui.sample_action.triggered.connect(loader.open_sample)
        ui.recent_menu.openRequested.connect(loader.open)
        ui.recent_menu.clearRequested.connect(self.clear_recent)

    def start(self, path: str | None = None) -> None:
        """First photo: ``path``, else the previous session's, else (first run) the sample."""
        last = self.settings.last_file
        if path:
            self.loader.open(path)
        elif last and Path(last).is_file():
            self.loader.open(last)
        elif not self.settings.has_session:
            self.loader.open_sample()

    def choose_file(self) -> None:
        folder = self.settings.last_folder or str(Path.home())
        name = ask_for_raw_file(self.dialog_parent, folder)
        if name:
            self.loader.open(name)

    def clear_recent(self) -> None:
        self.settings.recent_files = []
        self.ui.recent_menu.set_paths([])

    def remember(self, path: str) -> None:
        """A photo was opened: it heads the recent files and its folder is the next start."""
        s = self.settings
        s.last_file, s.last_folder = path, str(Path(path).parent)
        self.ui.recent_menu.set_paths(s.add_recent(path))
