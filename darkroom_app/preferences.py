"""Preferences dialog: compute device and the folder scanned for user models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from engine.device import device_name, select_device
from engine.errors import DarkroomError

from .session import Session
from .settings import DEVICES

_DEVICE_LABELS = {"auto": "Automatic (best available)", "cpu": "CPU", "cuda": "NVIDIA GPU (CUDA)",
                  "mps": "Apple GPU (MPS)"}  # fmt: skip


def available_devices() -> dict[str, str]:
    """Device preference -> what it resolves to here; unavailable ones are left out."""
    found = {}
    for pref in DEVICES:
        try:
            found[pref] = device_name(select_device(pref))
        except DarkroomError:
            continue
    return found


class PreferencesDialog(QDialog):
    """Device (auto/cpu/cuda/mps, only available ones enabled) and the user models folder."""

    def __init__(self, device: str, models_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preferencesDialog")
        self.setWindowTitle("Preferences")
        self.device_combo = QComboBox(self)
        self.device_combo.setObjectName("deviceCombo")
        available = available_devices()
        model = self.device_combo.model()
        for pref in DEVICES:
            label = _DEVICE_LABELS[pref]
            if pref == "auto":
                label += f" — {available.get('auto', 'CPU')}"
            elif pref in available and pref != "cpu":
                label += f" — {available[pref]}"
            self.device_combo.addItem(label, pref)
            if pref not in available and isinstance(model, QStandardItemModel):
                item = model.item(self.device_combo.count() - 1)
                item.setEnabled(False)
                item.setToolTip("Not available on this computer")
        index = self.device_combo.findData(device if device in available else "auto")
        self.device_combo.setCurrentIndex(max(0, index))

        self.models_edit = QLineEdit(str(models_dir), self)
        self.models_edit.setObjectName("modelsDirEdit")
        self.models_edit.setToolTip("Folder with NAME.safetensors + NAME.json model cards")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.models_edit, 1)
        row.addWidget(browse)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Compute device:", self.device_combo)
        form.addRow("User models:", row)
        form.addRow(buttons)
        self.setWindowModality(Qt.WindowModality.WindowModal)

    def device(self) -> str:
        return str(self.device_combo.currentData())

    def models_dir(self) -> Path:
        return Path(self.models_edit.text().strip()).expanduser()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "User models folder", self.models_edit.text()
        )
        if folder:
            self.models_edit.setText(folder)


def ask_preferences(
    session: Session, parent: QWidget, apply: Callable[[str, Path], None]
) -> PreferencesDialog:
    """Open the dialog on the session's device and folder without blocking; on OK it calls
    ``apply(device, models_dir)``."""
    dialog = PreferencesDialog(session.device_pref, session.user_models_dir, parent)
    dialog.accepted.connect(lambda: apply(dialog.device(), dialog.models_dir()))
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()
    return dialog
