"""Histogram of the rendered output: R, G, B filled, luminance as a line.

The counts are computed in the preview worker (:func:`darkroom_app.workers.histogram`) from the
preview pixels, so painting here is only a few hundred polygon points.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

_COLOURS = (QColor(230, 60, 60, 110), QColor(60, 200, 80, 110), QColor(70, 110, 240, 110))


class HistogramView(QWidget):
    """Paints ``(4, 256)`` counts (R, G, B, luminance) on a log-ish vertical scale."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("histogramView")
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setToolTip("Histogram of the output (red, green, blue; white line: luminance)")
        self._counts: np.ndarray | None = None

    def sizeHint(self) -> QSize:
        return QSize(256, 110)

    def set_counts(self, counts: np.ndarray | None) -> None:
        """Show new counts (``None`` clears the plot)."""
        self._counts = None if counts is None else np.asarray(counts, dtype=np.float64)
        self.update()

    @property
    def counts(self) -> np.ndarray | None:
        return self._counts

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 26))
        p.setPen(QPen(QColor(60, 60, 64), 1))
        for i in (1, 2, 3):  # quarter-tone guides
            x = self.width() * i / 4
            p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        if self._counts is not None and self._counts.sum() > 0:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            # Square root keeps a spike of pure black from flattening everything else.
            scaled = np.sqrt(self._counts)
            peak = max(float(np.percentile(scaled[:3, 1:-1], 99.5)), 1e-9)
            w, h = self.width(), self.height() - 2
            xs = np.linspace(0, w, 256)
            for channel, colour in enumerate(_COLOURS):
                ys = h - np.minimum(scaled[channel] / peak, 1.0) * (h - 4)
                poly = QPolygonF([QPointF(0, h), *map(QPointF, xs, ys), QPointF(w, h)])
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(colour)
                p.drawPolygon(poly)
            ys = h - np.minimum(scaled[3] / peak, 1.0) * (h - 4)
            p.setPen(QPen(QColor(235, 235, 235, 200), 1.2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPolyline(QPolygonF(list(map(QPointF, xs, ys))))
        p.end()
