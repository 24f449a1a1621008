"""Persistent preferences and session state, on top of QSettings.

Stored under organisation "Darkroom", application "Darkroom". Values are read back defensively:
the INI backend returns strings for numbers and a bare string for one-element lists, and a
settings file may come from another version or machine.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from engine.models import DEFAULT_MODEL

ORGANISATION = "Darkroom"
APPLICATION = "Darkroom"
MAX_RECENT = 10
SPLIT_MODES = ("wipe", "side", "after")
BEFORE_MODES = ("same", "x1")
DEVICES = ("auto", "cpu", "cuda", "mps")


def default_user_models_dir() -> Path:
    """Where user-trained models live unless Preferences says otherwise: the engine's model
    library (:func:`engine.models.default_library_dir`), as the command line's."""
    from engine.models import default_library_dir

    return default_library_dir()


class AppSettings:
    """Typed accessors for everything Darkroom remembers between runs."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store if store is not None else QSettings(ORGANISATION, APPLICATION)

    # -- helpers ---------------------------------------------------------------------------

    def _str(self, key: str, default: str = "") -> str:
        value = self.store.value(key, default)
        return value if isinstance(value, str) else default

    def _choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self._str(key, default)
        return value if value in choices else default

    def _float(self, key: str, default: float) -> float:
        try:
            value = float(self.store.value(key, default))
        except (TypeError, ValueError):
            return default
        return value if math.isfinite(value) else default

    def _int(self, key: str, default: int) -> int:
        try:
            return int(self.store.value(key, default))
        except (TypeError, ValueError):
            return default

    def _bool(self, key: str, default: bool) -> bool:
        value = self.store.value(key, default)
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes")
        return bool(value)

    def _list(self, key: str) -> list[str]:
        value = self.store.value(key, [])
        if isinstance(value, str):
            return [value] if value else []
        return [str(v) for v in value or [] if v]

    # -- session ---------------------------------------------------------------------------

    @property
    def has_session(self) -> bool:
        """Whether Darkroom ran before with these settings (decides about the sample)."""
        return bool(self._str("session/lastFile")) or self.store.contains("view/ratio")

    @property
    def last_file(self) -> str:
        return self._str("session/lastFile")

    @last_file.setter
    def last_file(self, path: str) -> None:
        self.store.setValue("session/lastFile", path)

    @property
    def last_folder(self) -> str:
        return self._str("session/lastFolder")

    @last_folder.setter
    def last_folder(self, folder: str) -> None:
        self.store.setValue("session/lastFolder", folder)

    @property
    def recent_files(self) -> list[str]:
        return self._list("session/recentFiles")[:MAX_RECENT]

    @recent_files.setter
    def recent_files(self, paths: list[str]) -> None:
        self.store.setValue("session/recentFiles", list(paths)[:MAX_RECENT])

    def add_recent(self, path: str) -> list[str]:
        """Put ``path`` first in the recent list (no duplicates) and return the list."""
        paths = [path, *(p for p in self.recent_files if p != path)][:MAX_RECENT]
        self.recent_files = paths
        return paths

    # -- view ------------------------------------------------------------------------------

    @property
    def ratio(self) -> float:
        return min(1000.0, max(1.0, self._float("view/ratio", 100.0)))

    @ratio.setter
    def ratio(self, value: float) -> None:
        self.store.setValue("view/ratio", float(value))

    @property
    def amount(self) -> float:
        """How much of the model's result, 0-1 (1 when never set)."""
        return min(1.0, max(0.0, self._float("view/amount", 1.0)))

    @amount.setter
    def amount(self, value: float) -> None:
        self.store.setValue("view/amount", float(value))

    @property
    def model(self) -> str:
        return self._str("view/model", DEFAULT_MODEL) or DEFAULT_MODEL

    @model.setter
    def model(self, name: str) -> None:
        self.store.setValue("view/model", name)

    @property
    def split_mode(self) -> str:
        return self._choice("view/splitMode", SPLIT_MODES, "wipe")

    @split_mode.setter
    def split_mode(self, mode: str) -> None:
        self.store.setValue("view/splitMode", mode)

    @property
    def before_mode(self) -> str:
        return self._choice("view/beforeMode", BEFORE_MODES, "same")

    @before_mode.setter
    def before_mode(self, mode: str) -> None:
        self.store.setValue("view/beforeMode", mode)

    # -- window ----------------------------------------------------------------------------

    @property
    def geometry(self) -> QByteArray | None:
        value = self.store.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    @geometry.setter
    def geometry(self, data: QByteArray) -> None:
        self.store.setValue("window/geometry", data)

    @property
    def window_state(self) -> QByteArray | None:
        value = self.store.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    @window_state.setter
    def window_state(self, data: QByteArray) -> None:
        self.store.setValue("window/state", data)

    # -- compute ---------------------------------------------------------------------------

    @property
    def device(self) -> str:
        return self._choice("compute/device", DEVICES, "auto")

    @device.setter
    def device(self, name: str) -> None:
        self.store.setValue("compute/device", name)

    @property
    def user_models_dir(self) -> Path:
        folder = self._str("compute/userModelsDir")
        return Path(folder) if folder else default_user_models_dir()

    @user_models_dir.setter
    def user_models_dir(self, folder: Path | str) -> None:
        self.store.setValue("compute/userModelsDir", str(folder))

    # -- export ----------------------------------------------------------------------------

    @property
    def export_folder(self) -> str:
        return self._str("export/folder")

    @export_folder.setter
    def export_folder(self, folder: str) -> None:
        self.store.setValue("export/folder", folder)

    @property
    def export_format(self) -> str:
        return self._choice("export/format", ("jpeg", "tiff", "png", "dng"), "jpeg")

    @export_format.setter
    def export_format(self, fmt: str) -> None:
        self.store.setValue("export/format", fmt)

    @property
    def export_bits(self) -> int:
        return 16 if self._int("export/bits", 8) == 16 else 8

    @export_bits.setter
    def export_bits(self, bits: int) -> None:
        self.store.setValue("export/bits", int(bits))

    @property
    def export_quality(self) -> int:
        return min(100, max(1, self._int("export/quality", 95)))

    @export_quality.setter
    def export_quality(self, quality: int) -> None:
        self.store.setValue("export/quality", int(quality))

    @property
    def export_keep_metadata(self) -> bool:
        return self._bool("export/keepMetadata", True)

    @export_keep_metadata.setter
    def export_keep_metadata(self, keep: bool) -> None:
        self.store.setValue("export/keepMetadata", bool(keep))

    def sync(self) -> None:
        self.store.sync()
