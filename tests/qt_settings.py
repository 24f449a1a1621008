"""Isolated Qt settings for GUI tests, so no test reads or writes a developer's own settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings


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
