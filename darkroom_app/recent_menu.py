"""File > Open Recent."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMenu, QWidget


class RecentFilesMenu(QMenu):
    """Lists recently opened photos, newest first.

    Signals:
        openRequested(str): the user picked a file.
        clearRequested(): the user chose "Clear Menu".
    """

    openRequested = Signal(str)
    clearRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Open &Recent", parent)
        self.setObjectName("recentMenu")
        self.set_paths([])

    def set_paths(self, paths: list[str]) -> None:
        self.clear()
        for path in paths:
            action = self.addAction(Path(path).name)
            action.setObjectName("recentFileAction")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setData(path)
            action.triggered.connect(lambda _=False, p=path: self.openRequested.emit(p))
        if paths:
            self.addSeparator()
        clear = self.addAction("Clear Menu")
        clear.setObjectName("clearRecentAction")
        clear.setEnabled(bool(paths))
        clear.triggered.connect(self.clearRequested)

    def paths(self) -> list[str]:
        return [str(a.data()) for a in self.actions() if a.objectName() == "recentFileAction"]
