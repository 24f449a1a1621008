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
CLASSICAL_LABEL = "No enhancement (classical)"


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


#: What each architecture is good for, in a photographer's words.
PURPOSES = {
    "fast": "Noise-aware and quick: cleans dark photos and leaves well-exposed ones alone.",
    "fast-xtrans": "fast for Fujifilm X-Trans sensors; chosen by itself for their photos.",
    "baseline": "The original See-in-the-Dark network: strong on very dark shots, slow.",
    "attention": "See-in-the-Dark with attention gates: the best score on very dark shots.",
    "gan": "Trained against a critic for crisper texture; may invent fine detail.",
    "uunet": "Two networks in a row, the second refining the first; slow.",
    "deep": "A deeper network: smoother results, slower.",
    "lite": "The smallest network: the quickest, and the softest.",
}
#: The named choices (label, how the model is picked) shown before the advanced group.
RECOMMENDED, FASTEST, STRONGEST = "Recommended", "Fastest", "Strongest"


def model_tooltip(entry: ModelEntry) -> str:
    """A few short sentences: what the model is good for, how it was trained, what it scored
    (rounded; no file paths or hardware names)."""
    card = entry.card
    if card is None:
        return f"{entry.name}: no trained weights yet."
    purpose = PURPOSES.get(entry.name) or PURPOSES.get(
        card.architecture, f"A {card.architecture} network."
    )
    if not entry.bundled:  # the user's own
        origin = f", fine-tuned from {card.base_model}" if card.base_model else ""
        purpose = f"Your model{origin}. {purpose}"
    where = "a GPU" if "GPU" in (card.hardware or "") else "a 2-core CPU"
    hours = card.training_time_s / 3600 if card.training_time_s else 0.0
    trained = f"Trained {card.iterations:,} steps" if card.iterations else "Trained"
    took = f" in {hours:.0f} h" if hours >= 1 else f" in {hours * 60:.0f} min" if hours else ""
    lines = [f"<b>{entry.name}</b>: {purpose}", f"{trained} on {where}{took}."]
    psnr = _psnr(entry)
    if math.isfinite(psnr):
        lines.append(f"Scores {psnr:.1f} dB on held-out dark photos (higher is cleaner).")
    return "<br>".join(lines)


CLASSICAL_TOOLTIP = (
    "<b>No enhancement</b>: the photo as plain brightening shows it (demosaic and the "
    "file's own colours). Noise grows with the exposure."
)


def _psnr(entry: ModelEntry) -> float:
    value = entry.card.metrics.get("psnr") if entry.card else None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else -math.inf


class ModelCombo(QComboBox):
    """Model selector in a photographer's words: "Recommended" (the default model), "Fastest"
    (the fewest computations), "Strongest" (the best measured score), "No enhancement", the
    user's own fine-tuned models by name, then every model by name under "Advanced".

    Item data is the model name passed to ``Enhancer`` (``"none"`` for classical); headers
    carry none and cannot be chosen. A model may appear twice (a named choice and its own
    row); :meth:`select` picks its first row.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelCombo")
        self.currentIndexChanged.connect(self._update_tooltip)
        self.reload([])

    def reload(self, model_dirs: list[Path]) -> None:
        """Rescan bundled and user models, keeping the selection if it still exists."""
        current = self.current_model()
        entries = model_entries(model_dirs)
        usable = [e for e in entries if e.problem is None and e.has_weights]
        bundled = [e for e in usable if e.bundled]
        own = [e for e in usable if not e.bundled]
        with QSignalBlocker(self):
            self.clear()
            for label, entry in self._named_choices(bundled):
                self._add(f"{label}: {entry.name}", entry.name, model_tooltip(entry))
            self._add(CLASSICAL_LABEL, CLASSICAL, CLASSICAL_TOOLTIP)
            if own:
                self._add_header("Your models")
                for entry in own:
                    self._add(entry.name, entry.name, model_tooltip(entry))
            self._add_header("Advanced: every model")
            for entry in bundled:
                self._add(entry.name, entry.name, model_tooltip(entry))
            for entry in entries:
                if entry.problem is not None:  # listed, greyed out, with the reason
                    self._add_disabled(entry.name, entry.problem)
            self.select(current)
        self._update_tooltip()

    @staticmethod
    def _named_choices(bundled: list[ModelEntry]) -> list[tuple[str, ModelEntry]]:
        """Recommended (the default model), Fastest (the fewest steps per photo: ``lite``),
        Strongest (the best measured score), each once."""
        from engine.resources import DEFAULT_MODEL

        by_name = {e.name: e for e in bundled}
        # Scores are comparable on one table only: Bayer models' (X-Trans has its own).
        bayer = [e for e in bundled if e.card is not None and "bayer" in e.card.sensors]
        picks = [(RECOMMENDED, by_name.get(DEFAULT_MODEL)), (FASTEST, by_name.get("lite")),
                 (STRONGEST, max(bayer, key=_psnr, default=None))]  # fmt: skip
        seen: set[str] = set()
        out = []
        for label, entry in picks:
            if entry is not None and entry.name not in seen:
                seen.add(entry.name)
                out.append((label, entry))
        return out

    def _add(self, label: str, name: str, tooltip: str) -> None:
        self.addItem(label, name)
        self.setItemData(self.count() - 1, tooltip, Qt.ItemDataRole.ToolTipRole)

    def _add_header(self, text: str) -> None:
        self.insertSeparator(self.count())
        self.addItem(text, None)
        item = self.model().item(self.count() - 1)  # type: ignore[attr-defined]
        item.setEnabled(False)
        font = item.font()
        font.setBold(True)
        item.setFont(font)

    def _add_disabled(self, name: str, problem: str) -> None:
        """A model whose card is damaged: shown so the user learns why it cannot be chosen."""
        self.addItem(f"{name} (disabled)", None)
        index = self.count() - 1
        self.setItemData(index, f"<b>{name}</b> cannot be used: {problem}",
                         Qt.ItemDataRole.ToolTipRole)  # fmt: skip
        item = self.model().item(index)  # type: ignore[attr-defined]
        item.setEnabled(False)

    def models(self) -> list[str]:
        """The names that can be chosen, once each (headers and disabled entries are not)."""
        names = [str(self.itemData(i)) for i in range(self.count()) if self.itemData(i)]
        return list(dict.fromkeys(names))

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
