"""Photo facts: camera, lens, exposure, size and the ratio in use."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QWidget
from superqt import QElidingLabel

from engine.io import RawFrame

from .geometry import oriented_size

FIELDS = ("File", "Camera", "Lens", "ISO", "Exposure", "Aperture", "Focal length", "Taken",
          "Dimensions", "Sensor area", "Ratio used", "Model", "Warnings")  # fmt: skip
#: Free text of any length: shortened with an ellipsis to the panel's width (the whole text in
#: the tooltip). A long camera or lens name once widened the form past the side panel and cut
#: off its right edge, the ratio box's Auto button with it.
ELIDED = ("File", "Camera", "Lens", "Model")


def format_exposure_time(seconds: float | None) -> str:
    """1/250 s, 0.5 s, 30 s: how cameras write shutter speeds."""
    if not seconds:
        return "unknown"
    if seconds >= 0.3:
        return f"{seconds:g} s"
    return f"1/{Fraction(seconds).limit_denominator(100000).denominator} s" if seconds else ""


def _num(value: float | None, fmt: str) -> str:
    return fmt.format(value) if value else "unknown"


class InfoPanel(QWidget):
    """A form of labels; :meth:`show_frame` fills it, :meth:`set_ratio` updates the ratio.

    The lens row only appears when the file names a lens (many compacts and phones do not);
    the sensor area row only when the file crops its picture out of a larger area (a DNG's
    default crop): the dimensions are always the picture's, what an export has.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("infoPanel")
        self.form = layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        # Shortened labels are as wide as the text they show: under a style whose fields
        # stay at their size hint (macOS) they would shrink to nothing and never grow back.
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.labels: dict[str, QLabel] = {}
        for name in FIELDS:
            label = QElidingLabel("—", self) if name in ELIDED else QLabel("—", self)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addRow(f"{name}:", label)
            self.labels[name] = label

    def text(self, name: str) -> str:
        return self.labels[name].text()

    def show_frame(self, frame: RawFrame, path: str) -> None:
        exif = frame.exif
        h, w = oriented_size(frame.visible_height, frame.visible_width, frame.orientation)
        # The sensor's active area, when the file frames a smaller picture in it (DNG crop).
        sh, sw = oriented_size(frame.height, frame.width, frame.orientation)
        values = {
            "File": Path(path).name,
            "Camera": exif.camera,
            "Lens": exif.lens or "",
            "ISO": _num(exif.iso, "{:.0f}"),
            "Exposure": format_exposure_time(exif.exposure_time),
            "Aperture": _num(exif.f_number, "f/{:.1f}"),
            "Focal length": _num(exif.focal_length, "{:g} mm"),
            "Taken": exif.datetime or "unknown",
            "Dimensions": f"{w} × {h} ({w * h / 1e6:.1f} MP, {frame.cfa_name})",
            "Sensor area": f"{sw} × {sh} (the file crops it)",
        }
        for name, value in values.items():
            self._set(name, value, path if name == "File" else None)
        self.form.setRowVisible(self.labels["Lens"], bool(exif.lens))
        self.form.setRowVisible(self.labels["Sensor area"], frame.default_crop is not None)
        # Damaged metadata the reader replaced by defaults (the image itself is fine).
        self.labels["Warnings"].setText("\n".join(frame.warnings))
        self.labels["Warnings"].setWordWrap(True)
        self.form.setRowVisible(self.labels["Warnings"], bool(frame.warnings))

    def set_ratio(self, ratio: float, auto_ratio: float | None = None) -> None:
        text = f"×{ratio:g}"
        if auto_ratio is not None:
            text += f" (auto estimate ×{auto_ratio:.0f})"
        self.labels["Ratio used"].setText(text)

    def set_model(self, label: str) -> None:
        self._set("Model", label)

    def clear(self) -> None:
        for name in self.labels:
            self._set(name, "—", "")

    def _set(self, name: str, text: str, tooltip: str | None = None) -> None:
        """A fact's text; a shortened one (:data:`ELIDED`) shows it whole in its tooltip
        unless ``tooltip`` says otherwise (the file's path)."""
        label = self.labels[name]
        label.setText(text)
        if tooltip is not None or name in ELIDED:
            label.setToolTip(text if tooltip is None else tooltip)
