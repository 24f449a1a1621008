"""The window's export widgets kept in step with the :class:`~darkroom_app.exporter.Exporter`.

File ▸ Export, the status bar's progress bar and its Cancel button belong to the window; the
exporter only reports (started, progress, finished). The window builds one
:class:`ExportControls` to connect the two, so the exporter never touches a widget of the
window's, and the window's class does not grow a method per export event.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QProgressBar, QPushButton

from engine.render import WRITING

from .exporter import Exporter
from .session import Session
from .workers import JobOutcome


class ExportControls(QObject):
    """Shows the exporter's progress and offers Cancel while an export runs.

    The Export action is enabled while there is a photo and no export is running (the
    exporter does one at a time).
    """

    def __init__(
        self,
        exporter: Exporter,
        session: Session,
        export_action: QAction,
        progress_bar: QProgressBar,
        cancel_button: QPushButton,
    ) -> None:
        super().__init__(exporter)
        self.exporter, self.session = exporter, session
        self.export_action, self.progress_bar = export_action, progress_bar
        self.cancel_button = cancel_button
        export_action.triggered.connect(exporter.choose)
        cancel_button.clicked.connect(exporter.cancel)
        exporter.started.connect(self._started)
        exporter.progress.connect(self._progress)
        exporter.finished.connect(self._finished)

    def update_action(self) -> None:
        """Enable File ▸ Export when it can do something (call it when the photo changes)."""
        self.export_action.setEnabled(self.session.photo is not None and not self.exporter.running)

    def _started(self, _path: str) -> None:
        self.progress_bar.setValue(0)
        self.progress_bar.show()
        self.cancel_button.setEnabled(True)
        self.cancel_button.show()
        self.update_action()

    def _progress(self, done: int, total: int, message: str) -> None:
        self.progress_bar.setValue(100 * done // max(total, 1))
        if message == WRITING:  # past the last point where Cancel can stop it
            self.cancel_button.setEnabled(False)

    def _finished(self, _outcome: JobOutcome) -> None:
        self.progress_bar.hide()
        self.cancel_button.hide()
        self.update_action()
