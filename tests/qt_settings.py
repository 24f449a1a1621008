"""Shared by the GUI tests: isolated Qt settings, so no test reads or writes a developer's own
settings, and the check that no worker job outlives its window."""

from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6.QtCore import QSettings

from darkroom_app.workers import live_jobs


def isolated_settings(tmp_path: Path) -> QSettings:
    """An INI settings file in ``tmp_path``; stray ``QSettings()`` calls land there too, and the
    user-models folder points into ``tmp_path`` (never the real per-user folder)."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings")
    )
    store = QSettings(str(tmp_path / "darkroom.ini"), QSettings.Format.IniFormat)
    store.setValue("compute/userModelsDir", str(tmp_path / "models"))
    return store


def assert_no_live_jobs(qtbot) -> None:
    """Call after closing the windows: every job lets go once its worker has returned and its
    queued report has been delivered, which the event loop does within a few seconds at most;
    a job still live after that would never be freed (see :class:`darkroom_app.workers.Job`)."""
    with contextlib.suppress(qtbot.TimeoutError):
        qtbot.waitUntil(lambda: live_jobs() == 0, timeout=3000)
    assert live_jobs() == 0, f"{live_jobs()} job(s) still live after the window closed"
