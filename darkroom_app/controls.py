"""Side-panel controls: the exposure-ratio slider and the model selector."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from engine.models import ModelEntry, model_entries
from engine.render import CLASSICAL, MAX_RATIO, MIN_RATIO

#: The slider covers x1 to x300 (most night shots); the spin box takes up to x1000.
SLIDER_MAX_RATIO = 300.0
_STEPS = 1000
CLASSICAL_LABEL = "None (classical)"


class ExposureSlider(QSlider):
    """A horizontal slider whose position is the log of the exposure ratio (x1 to x300).

    Equal slider travel is an equal number of stops, which is how exposure is judged. Ratios
    above x300 (typed in the spin box) pin the handle at the right end.

    Signals:
        ratioChanged(float): the user moved the handle (not emitted by :meth:`set_ratio`).
    """

    ratioChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setObjectName("exposureSlider")
        self.setRange(0, _STEPS)
        self.setSingleStep(5)
        self.setPageStep(100)
        self.setToolTip("Exposure ratio (logarithmic, x1 to x300)")
        self._ratio = 1.0
        self.valueChanged.connect(self._on_value)

    @staticmethod
    def value_for(ratio: float) -> int:
        ratio = min(SLIDER_MAX_RATIO, max(MIN_RATIO, ratio))
        return round(_STEPS * math.log(ratio) / math.log(SLIDER_MAX_RATIO))

    @staticmethod
    def ratio_for(value: int) -> float:
        return float(SLIDER_MAX_RATIO ** (value / _STEPS))

    def ratio(self) -> float:
        return self._ratio

    def set_ratio(self, ratio: float) -> None:
        """Show ``ratio`` (any value up to x1000) without emitting :attr:`ratioChanged`."""
        self._ratio = float(ratio)
        with QSignalBlocker(self):
            self.setValue(self.value_for(ratio))

    def _on_value(self, value: int) -> None:
        # Round like the spin box so both widgets agree on the value.
        self._ratio = round(self.ratio_for(value), 1)
        self.ratioChanged.emit(self._ratio)


class ExposurePanel(QWidget):
    """Slider, spin box and Auto button kept in step.

    Signals:
        ratioChanged(float): the ratio changed through any of the three.
        autoRequested(): the Auto button was pressed (the window knows the photo's estimate).
    """

    ratioChanged = Signal(float)
    autoRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = ExposureSlider(self)
        self.spin = QDoubleSpinBox(self)
        self.spin.setObjectName("ratioSpinBox")
        self.spin.setRange(MIN_RATIO, MAX_RATIO)
        self.spin.setDecimals(1)
        self.spin.setPrefix("×")
        self.spin.setKeyboardTracking(False)  # a half-typed "3" must not render x3
        self.spin.setToolTip("Exposure ratio: how much to brighten (x1 to x1000)")
        self.auto_button = QPushButton("Auto", self)
        self.auto_button.setObjectName("autoRatioButton")
        self.auto_button.setToolTip("Estimate the ratio from the photo's brightness")

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.spin, 1)
        row.addWidget(self.auto_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider)
        layout.addLayout(row)

        self.slider.ratioChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)
        self.auto_button.clicked.connect(self.autoRequested)

    def ratio(self) -> float:
        return float(self.spin.value())

    def set_ratio(self, ratio: float, notify: bool = True) -> float:
        """Set the ratio (clamped to x1..x1000); returns the value shown."""
        ratio = round(min(MAX_RATIO, max(MIN_RATIO, float(ratio))), 1)
        changed = abs(ratio - self.spin.value()) > 1e-9
        with QSignalBlocker(self.spin):
            self.spin.setValue(ratio)
        self.slider.set_ratio(ratio)
        if changed and notify:
            self.ratioChanged.emit(ratio)
        return ratio

    def _from_slider(self, ratio: float) -> None:
        with QSignalBlocker(self.spin):
            self.spin.setValue(ratio)
        self.ratioChanged.emit(self.ratio())

    def _from_spin(self, ratio: float) -> None:
        self.slider.set_ratio(ratio)
        self.ratioChanged.emit(float(ratio))


class AmountControl(QWidget):
    """The Amount slider (0-100 %) and its value: how much of the model's result to use.

    Signals:
        amountChanged(float): the new Amount as a fraction, 0-1.
    """

    amountChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("amountSlider")
        self.slider.setRange(0, 100)
        self.slider.setValue(100)
        self.slider.setToolTip(
            "How much of the model's result to use: 0 % is the classical render, "
            "100 % the model's (like Lightroom's Denoise Amount)"
        )
        self.value_label = QLabel("100 %", self)
        self.value_label.setObjectName("amountLabel")
        self.value_label.setMinimumWidth(self.value_label.fontMetrics().horizontalAdvance("100 %"))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.value_label)
        self.slider.valueChanged.connect(self._on_value)

    def amount(self) -> float:
        return self.slider.value() / 100.0

    def set_amount(self, amount: float, notify: bool = True) -> float:
        """Show ``amount`` (0-1, whole percent); returns the value shown."""
        percent = round(min(1.0, max(0.0, float(amount))) * 100)
        with QSignalBlocker(self.slider):
            self.slider.setValue(percent)
        self.value_label.setText(f"{percent} %")
        if notify:
            self.amountChanged.emit(percent / 100.0)
        return percent / 100.0

    def _on_value(self, percent: int) -> None:
        self.value_label.setText(f"{percent} %")
        self.amountChanged.emit(percent / 100.0)


def model_tooltip(entry: ModelEntry) -> str:
    """The model card as a tooltip: what it is, what it learned from and what it measured."""
    card = entry.card
    if card is None:
        return f"{entry.name}: no trained weights"
    lines = [f"<b>{entry.name}</b> — {card.summary()}"]
    if card.training_data:
        lines.append(f"Data: {card.training_data}")
    lines.append(f"Iterations: {card.iterations:,}" if card.iterations else "Iterations: unknown")
    metrics = [
        f"{key.upper()} {value:.3f}" if isinstance(value, float) else f"{key}: {value}"
        for key, value in card.metrics.items()
    ]
    lines.append("Measured: " + (", ".join(metrics) if metrics else "not measured"))
    if card.hardware:
        lines.append(f"Trained on: {card.hardware}")
    if entry.weights_path is not None:
        lines.append(f"File: {entry.weights_path}")
    return "<br>".join(lines)


CLASSICAL_TOOLTIP = (
    "<b>None (classical)</b> — no network: gain, edge-aware demosaic and the file's own "
    "colour pipeline. Fast, but noise is amplified with the exposure."
)


class ModelCombo(QComboBox):
    """Model selector: "None (classical)" plus every model that has weights.

    Item data is the model name passed to ``Enhancer`` (``"none"`` for classical); the tooltip
    of each item, and of the combo for the current item, is the model card.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelCombo")
        self.currentIndexChanged.connect(self._update_tooltip)
        self.reload([])

    def reload(self, model_dirs: list[Path]) -> None:
        """Rescan bundled and user models, keeping the selection if it still exists."""
        current = self.current_model()
        with QSignalBlocker(self):
            self.clear()
            self.addItem(CLASSICAL_LABEL, CLASSICAL)
            self.setItemData(0, CLASSICAL_TOOLTIP, Qt.ItemDataRole.ToolTipRole)
            for entry in model_entries(model_dirs):
                if entry.problem is not None:  # listed, greyed out, with the reason
                    self._add_disabled(entry.name, entry.problem)
                    continue
                if not entry.has_weights:
                    continue  # registered variants still training: nothing to run yet
                self.addItem(entry.name, entry.name)
                self.setItemData(
                    self.count() - 1, model_tooltip(entry), Qt.ItemDataRole.ToolTipRole
                )
            self.select(current)
        self._update_tooltip()

    def _add_disabled(self, name: str, problem: str) -> None:
        """A model whose card is damaged: shown so the user learns why it cannot be chosen."""
        self.addItem(f"{name} (disabled)", None)
        index = self.count() - 1
        self.setItemData(index, f"<b>{name}</b> cannot be used: {problem}",
                         Qt.ItemDataRole.ToolTipRole)  # fmt: skip
        item = self.model().item(index)  # type: ignore[attr-defined]
        item.setEnabled(False)

    def models(self) -> list[str]:
        """The names that can be chosen (disabled entries are not among them)."""
        return [str(self.itemData(i)) for i in range(self.count()) if self.itemData(i)]

    def current_model(self) -> str:
        data = self.currentData()
        return str(data) if data else CLASSICAL

    def select(self, name: str) -> bool:
        """Select ``name`` if listed (else classical); returns whether it was found."""
        index = self.findData(name)
        self.setCurrentIndex(max(0, index))
        return index >= 0

    def _update_tooltip(self) -> None:
        self.setToolTip(str(self.itemData(self.currentIndex(), Qt.ItemDataRole.ToolTipRole) or ""))
