"""Widgets of the fine-tune panel: the pairs table, the live loss curve, a learning-rate box,
and the small named buttons, labels, boxes and groups its form is built from."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QIcon,
    QImage,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QPolygonF,
    QValidator,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLayout,
    QPushButton,
    QSpinBox,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from .finetune_jobs import PAIR, THUMB_SIDE, UNPAIRED, PairTableRow

#: Text colour of rows training will not use (a readable red on light and dark themes).
PROBLEM_COLOUR = QColor(205, 45, 45)
#: A valid pair that a fine-tune found suspicious (likely a wrong pairing).
SUSPECT_COLOUR = QColor(200, 120, 0)


class LossCurve(QWidget):
    """Training loss per iteration, painted as one line on a log scale.

    The loss of a fine-tune falls by a small factor at first and then creeps, so a log axis
    shows both. Points past the resumed step are dropped when a run resumes from a checkpoint,
    so the curve never runs backwards.
    """

    #: Points kept; beyond this every other point is dropped (the shape stays).
    MAX_POINTS = 2000

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lossCurve")
        self.setMinimumHeight(120)
        self.setToolTip("Training loss (L1, mean of the last 50 steps) per iteration")
        self.points: list[tuple[int, float]] = []
        self.total = 0

    def sizeHint(self) -> QSize:
        return QSize(320, 140)

    def clear(self) -> None:
        self.points = []
        self.update()

    def set_total(self, iterations: int) -> None:
        """The run's length: the x axis spans the whole run from the start."""
        self.total = max(0, int(iterations))
        self.update()

    def add(self, iteration: int, loss: float) -> None:
        if not math.isfinite(loss) or loss <= 0:
            return  # nothing a log axis can show
        while self.points and self.points[-1][0] >= iteration:
            self.points.pop()  # resumed from an earlier step, or a repeated report
        self.points.append((int(iteration), float(loss)))
        if len(self.points) > self.MAX_POINTS:
            self.points = self.points[::2]
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        painter.fillRect(self.rect(), pal.base())
        plot = QRectF(self.rect()).adjusted(46, 8, -10, -20)
        painter.setPen(QPen(pal.mid().color()))
        painter.drawRect(plot)
        painter.setPen(QPen(pal.text().color()))
        if not self.points:
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, "Loss appears once training runs")
            return
        x_max = max(self.total, self.points[-1][0], 1)
        logs = [math.log10(loss) for _, loss in self.points]
        lo, hi = min(logs), max(logs)
        if hi - lo < 1e-3:  # a flat line: give it some room to sit in the middle
            lo, hi = lo - 0.05, hi + 0.05
        poly = QPolygonF(
            [
                QPointF(
                    plot.left() + plot.width() * it / x_max,
                    plot.bottom() - plot.height() * (lg - lo) / (hi - lo),
                )
                for (it, _), lg in zip(self.points, logs, strict=True)
            ]
        )
        small = painter.font()
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        left = QRectF(0, 0, 42, 14)
        painter.drawText(
            left.translated(0, plot.top() - 4), Qt.AlignmentFlag.AlignRight, f"{10**hi:.3g}"
        )
        painter.drawText(
            left.translated(0, plot.bottom() - 10), Qt.AlignmentFlag.AlignRight, f"{10**lo:.3g}"
        )
        painter.drawText(
            QRectF(plot.left(), plot.bottom() + 2, plot.width(), 16),
            Qt.AlignmentFlag.AlignLeft,
            "0",
        )
        painter.drawText(
            QRectF(plot.left(), plot.bottom() + 2, plot.width(), 16),
            Qt.AlignmentFlag.AlignRight,
            f"{x_max} iterations",
        )
        painter.setPen(QPen(pal.highlight().color(), 1.6))
        painter.drawPolyline(poly)


class LearningRateBox(QDoubleSpinBox):
    """A spin box showing learning rates the way papers write them (``5e-05``).

    A plain QDoubleSpinBox rounds to its decimals and shows ``0.00005`` at best; this one keeps
    full precision and steps by a factor of two, which is how learning rates are tuned.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)  # no rounding of the stored value
        self.setRange(1e-7, 1e-1)
        self.setKeyboardTracking(False)

    def textFromValue(self, value: float) -> str:
        return f"{value:.3g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        try:
            value = float(text)
        except ValueError:  # "5e-" on the way to "5e-5"
            return (QValidator.State.Intermediate, text, pos)
        ok = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate, text, pos)

    def stepBy(self, steps: int) -> None:
        self.setValue(self.value() * 2.0**steps)


#: Columns of the pairs table.
COLUMNS = ("Preview", "Short exposure", "Long exposure", "Camera", "Ratio", "Status")


class PairTable(QTableWidget):
    """The pairs found or picked, with a thumbnail, camera, ratio and verdict per row.

    Invalid pairs and files in no pair are listed too, in red with a warning icon and the
    reason (also as the row's tooltip), so the user sees exactly what will not be used.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setObjectName("pairTable")
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE * 2 // 3))
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(THUMB_SIDE * 2 // 3 + 6)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.setColumnWidth(0, THUMB_SIDE + 8)
        self.rows: list[PairTableRow] = []

    def set_rows(self, rows: list[PairTableRow], thumbs: dict[str, QImage]) -> None:
        """Show ``rows``; ``thumbs`` maps file paths to thumbnails already made."""
        self.rows = list(rows)
        self.setRowCount(len(rows))
        warn = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for r, row in enumerate(rows):
            cand = row.candidate
            if row.kind == PAIR:
                status = "valid" if row.usable else f"invalid: {row.reason}"
                if row.usable and row.suspicion:
                    status = f"suspicious: {row.suspicion.split(': ', 1)[-1]}"
            elif row.kind == UNPAIRED:
                status = f"not paired: {row.reason}"
            else:
                status = f"unreadable: {row.reason}"
            ratio = f"×{cand.ratio:.3g}" if cand is not None and cand.ratio is not None else ""
            texts = (
                "",
                row.short.name,
                row.long.name if row.long else "—",
                cand.camera if cand is not None else "",
                ratio,
                status,
            )
            flagged = not row.usable or bool(row.suspicion)
            for c, text in enumerate(texts):
                item = QTableWidgetItem(text)
                item.setToolTip(status if flagged else str(row.short.parent))
                if flagged:
                    item.setForeground(QBrush(PROBLEM_COLOUR if not row.usable else SUSPECT_COLOUR))
                self.setItem(r, c, item)
            status_item = self.item(r, len(COLUMNS) - 1)
            if flagged:
                status_item.setIcon(warn)
            path = row.thumb_path
            if path is not None and str(path) in thumbs:
                self._put_thumb(r, thumbs[str(path)])

    def set_thumbnail(self, path: str, image: QImage) -> None:
        """Show a thumbnail that just arrived on every row it belongs to."""
        for r, row in enumerate(self.rows):
            if row.thumb_path is not None and str(row.thumb_path) == path:
                self._put_thumb(r, image)

    def has_thumbnail(self, row: int) -> bool:
        item = self.item(row, 0)
        return item is not None and not item.icon().isNull()

    def _put_thumb(self, r: int, image: QImage) -> None:
        item = self.item(r, 0)
        if item is not None and not image.isNull():
            item.setIcon(QIcon(QPixmap.fromImage(image)))  # QPixmap: GUI thread only, as here

    def selected_rows(self) -> list[int]:
        return sorted({index.row() for index in self.selectionModel().selectedRows()})


def named_button(text: str, name: str, tip: str = "") -> QPushButton:
    """A push button with an object name (tests and style sheets find it) and a tooltip."""
    button = QPushButton(text)
    button.setObjectName(name)
    button.setToolTip(tip)
    return button


def named_label(name: str, wrap: bool = True) -> QLabel:
    """An empty, selectable label with an object name, wrapping its text by default."""
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def int_spin(name: str, low: int, high: int, value: int, tip: str, step: int = 1) -> QSpinBox:
    """A named integer box from ``low`` to ``high`` showing ``value``."""
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin


def group_box(title: str, layout: QLayout) -> QGroupBox:
    """A titled group around ``layout``."""
    box = QGroupBox(title)
    box.setLayout(layout)
    return box
