"""How the before/after canvas draws: images through a view transform, split line, labels.

Free functions over a ``QPainter``, so :mod:`darkroom_app.viewer` keeps the view's state and
interaction and this module the look. Every function saves and restores the painter.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen

BACKGROUND = QColor(30, 30, 32)


def paint_images(
    p: QPainter,
    pane: QRectF,
    images: Iterable[tuple[QImage, QRectF]],
    scale: float,
    center: QPointF,
    clip: QRectF | None = None,
) -> None:
    """Draw each image over its display rectangle, ``center`` at the pane's centre.

    Args:
        images: ``(image, rect)`` pairs, bottom first; ``rect`` in display coordinates
            (pixels of the full-resolution oriented photo).
        scale: screen px per display px.
        clip: the part of ``pane`` to draw in (the whole pane by default).
    """
    p.save()
    p.setClipRect(clip or pane)
    p.translate(pane.center())
    p.scale(scale, scale)
    p.translate(-center)
    draw_images(p, images, scale)
    p.restore()


def draw_images(p: QPainter, images: Iterable[tuple[QImage, QRectF]], scale: float) -> None:
    """Draw each image over its rectangle in the painter's current (display) coordinates."""
    for image, rect in images:
        # Magnified past 2x, show real pixels (nearest) so pixel-peeping is honest; at exactly
        # one image pixel per screen pixel on whole pixels, drawing copies the pixels as they are.
        magnification = scale * rect.width() / max(1, image.width())
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, magnification < 2.0)
        p.drawImage(rect, image)


def render_images(
    images: Iterable[tuple[QImage, QRectF]], region: tuple[int, int, int, int], scale: float
) -> np.ndarray:
    """Draw ``images`` (display coordinates) as a pane would, for ``region`` ``(x, y, w, h)``
    at ``scale`` device pixels per display pixel: ``(round(h * scale), round(w * scale), 3)``
    uint8 (background where nothing is drawn)."""
    x, y, w, h = region
    image = QImage(max(1, round(w * scale)), max(1, round(h * scale)),
                   QImage.Format.Format_RGB888)  # fmt: skip
    image.fill(BACKGROUND)
    p = QPainter(image)
    p.scale(scale, scale)
    p.translate(-x, -y)
    draw_images(p, images, scale)
    p.end()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1)
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def paint_split_line(p: QPainter, x: float, height: float) -> None:
    """The wipe's split line at ``x``, with a round handle half-way down."""
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QPen(QColor(0, 0, 0, 120), 3))
    p.drawLine(QPointF(x, 0), QPointF(x, height))
    p.setPen(QPen(QColor(255, 255, 255, 220), 1))
    p.drawLine(QPointF(x, 0), QPointF(x, height))
    p.setBrush(QColor(255, 255, 255, 230))
    p.setPen(QPen(QColor(0, 0, 0, 140), 1))
    p.drawEllipse(QPointF(x, height / 2), 9, 9)
    p.restore()


def paint_label(p: QPainter, base_font: QFont, pane: QRectF, text: str, left: bool) -> None:
    """A dark rounded tag with ``text`` in the pane's top-left (or top-right) corner."""
    p.save()
    font = QFont(base_font)
    font.setPointSizeF(max(8.0, font.pointSizeF() * 0.95))
    p.setFont(font)
    metrics = p.fontMetrics()
    w, h = metrics.horizontalAdvance(text) + 14, metrics.height() + 6
    x = pane.left() + 10 if left else pane.right() - 10 - w
    box = QRectF(x, pane.top() + 10, w, h)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(0, 0, 0, 150))
    p.drawRoundedRect(box, 4, 4)
    p.setPen(QColor(235, 235, 235))
    p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
    p.restore()
