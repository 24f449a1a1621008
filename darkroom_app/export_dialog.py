"""Export dialog: format, bit depth, JPEG quality, destination and metadata."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from engine.io import FORMATS, ExportOptions, output_name

__all__ = ["ExportDialog"]

FORMAT_LABELS = {"jpeg": "JPEG", "tiff": "TIFF", "png": "PNG", "dng": "DNG (linear RAW)",
                 "dng-cfa": "DNG (Bayer mosaic)"}  # fmt: skip
_NOTES = {
    "jpeg": "8-bit sRGB, for sharing.",
    "tiff": "Uncompressed sRGB; 16-bit keeps the most tonal detail for editing.",
    "png": "Lossless sRGB, 8 or 16 bit.",
    "dng": "16-bit linear camera RGB before tone mapping, for further RAW editing.",
    "dng-cfa": "The enhanced photo as a Bayer mosaic: your raw converter demosaics and "
    "develops it as it would the original, minus the noise (Bayer RAWs only).",
}
_FILTERS = {"jpeg": "JPEG (*.jpg *.jpeg)", "tiff": "TIFF (*.tif *.tiff)", "png": "PNG (*.png)",
            "dng": "DNG (*.dng)"}  # fmt: skip


def unused_path(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem.suffix``, or ``stem-2.suffix``... if taken: a default never overwrites."""
    candidate = folder / f"{stem}{suffix}"
    n = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{n}{suffix}"
        n += 1
    return candidate


class ExportDialog(QDialog):
    """Collects :class:`ExportOptions`; the caller renders and writes on ``accepted``."""

    def __init__(
        self,
        source: Path,
        folder: Path,
        fmt: str = "jpeg",
        bits: int = 8,
        quality: int = 95,
        keep_metadata: bool = True,
        parent: QWidget | None = None,
        photos: int | None = None,
    ) -> None:
        """``photos`` given: a batch of that many photos (one, too); "Save into" is then a
        folder, each file named by the engine's rule (``NAME-darkroom.jpg``), and no existing
        file is replaced."""
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.batch = photos is not None
        self.photos = photos or 1
        if self.batch:
            noun = "Photo" if self.photos == 1 else "Photos"
            self.setWindowTitle(f"Export {self.photos} {noun}")
        else:
            self.setWindowTitle("Export")
        self._stem = output_name(source, "")  # the engine's naming rule, as the CLI's
        self._overwrite_confirmed: Path | None = None
        self._make_widgets(quality, keep_metadata)
        self._lay_out()
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumWidth(480)

        if self.batch:
            self.path_edit.setText(str(folder))
        else:
            self.path_edit.setText(str(unused_path(folder, self._stem, FORMATS[fmt])))
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self.format_combo.setCurrentIndex(max(0, self.format_combo.findData(fmt)))
        self.bits_combo.setCurrentIndex(1 if bits == 16 else 0)
        self._format_changed()

    def _make_widgets(self, quality: int, keep_metadata: bool) -> None:
        self.format_combo = QComboBox(self)
        self.format_combo.setObjectName("exportFormatCombo")
        for key, label in FORMAT_LABELS.items():
            self.format_combo.addItem(label, key)
        self.bits_combo = QComboBox(self)
        self.bits_combo.setObjectName("exportBitsCombo")
        self.bits_combo.addItem("8-bit", 8)
        self.bits_combo.addItem("16-bit", 16)
        self.quality_spin = QSpinBox(self)
        self.quality_spin.setObjectName("exportQualitySpin")
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setValue(quality)
        self.path_edit = QLineEdit(self)
        self.path_edit.setObjectName("exportPathEdit")
        self.browse_button = QPushButton("Browse…", self)
        self.browse_button.clicked.connect(self._browse)
        self.metadata_check = QCheckBox("Keep camera metadata (EXIF, GPS, XMP, IPTC)", self)
        self.metadata_check.setObjectName("keepMetadataCheck")
        self.metadata_check.setChecked(keep_metadata)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: palette(mid);")

    def _lay_out(self) -> None:
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Format:", self.format_combo)
        form.addRow("Bit depth:", self.bits_combo)
        form.addRow("JPEG quality:", self.quality_spin)
        form.addRow("Save into folder:" if self.batch else "Save as:", row)
        form.addRow("", self.metadata_check)
        form.addRow(self.note)
        form.addRow(buttons)

    def choice(self) -> str:
        """The format entry chosen (``"dng-cfa"`` is a DNG holding a Bayer mosaic)."""
        return str(self.format_combo.currentData())

    def fmt(self) -> str:
        """The engine's export format of the choice."""
        return "dng" if self.choice() == "dng-cfa" else self.choice()

    def path(self) -> Path:
        """The file to write (a batch: the folder to write into)."""
        return Path(self.path_edit.text().strip()).expanduser()

    def options(self) -> ExportOptions:
        """How to write it (the engine's options, checked by the engine)."""
        path = self.path()
        fmt = self.fmt()
        return ExportOptions(
            fmt=fmt,
            bits=16 if fmt == "dng" else int(self.bits_combo.currentData()),
            quality=self.quality_spin.value(),
            keep_metadata=self.metadata_check.isChecked(),
            # Only a file the user explicitly chose to replace in the file dialog is replaced;
            # the RAW being edited is refused by the engine either way.
            overwrite=self._overwrite_confirmed == path,
            dng_kind="cfa" if self.choice() == "dng-cfa" else "linear",
        )

    def _format_changed(self) -> None:
        fmt = self.fmt()
        jpeg, dng = fmt == "jpeg", fmt == "dng"
        if jpeg or dng:
            self.bits_combo.setCurrentIndex(1 if dng else 0)
        self.bits_combo.setEnabled(not (jpeg or dng))
        self.quality_spin.setEnabled(jpeg)
        self.note.setText(_NOTES[self.choice()])
        if self.batch:  # a folder: each photo's name follows the format
            who = f"Each of the {self.photos} photos is" if self.photos > 1 else "The photo is"
            self.note.setText(f"{_NOTES[self.choice()]} {who} exported with its own ratio, "
                              f"model and Amount, as NAME-darkroom{FORMATS[fmt]}; no file is "
                              "replaced.")  # fmt: skip
            return
        current = Path(self.path_edit.text().strip())
        if current.suffix.lower() != FORMATS[fmt]:
            self.path_edit.setText(str(unused_path(current.parent, current.stem, FORMATS[fmt])))

    def _browse(self) -> None:
        if self.batch:
            folder = QFileDialog.getExistingDirectory(self, "Export into", self.path_edit.text())
            if folder:
                self.path_edit.setText(folder)
            return
        fmt = self.fmt()
        name, _ = QFileDialog.getSaveFileName(
            self, "Export as", self.path_edit.text(), _FILTERS[fmt]
        )
        if name:
            path = Path(name)
            if not path.suffix:
                path = path.with_suffix(FORMATS[fmt])
            # The file dialog has already asked before replacing an existing file.
            self._overwrite_confirmed = path if path.exists() else None
            self.path_edit.setText(str(path))
