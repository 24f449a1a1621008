"""BeforeAfterView: one canvas showing the enhanced photo against its "before".

A plain QWidget painting QImages (no QGraphicsScene needed for two images). Everything is in
*display* coordinates: pixels of the full-resolution oriented image. Previews are layers that
cover a rectangle of it: a whole-frame ``base`` and, when zoomed in, a sharper ``detail`` of the
visible region on top. The view transform (``scale`` screen px per image px and the image point
at the pane centre) is shared by every pane, so wipe and side-by-side halves always stay in
sync. Modes: ``wipe`` (draggable split line), ``side`` (side by side), ``after`` (output only);
holding backslash or B shows "before" everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from .viewer_paint import (
    BACKGROUND,
    paint_images,
    paint_label,
    paint_split_line,
    render_images,
)

MODES = ("wipe", "side", "after")
BEFORE_KEYS = (Qt.Key.Key_Backslash, Qt.Key.Key_B)
_GRAB = 8  # px either side of the split line that grab it instead of panning
_GAP = 4  # px between side-by-side panes
_MAX_SCALE = 32.0


@dataclass
class Layer:
    before: QImage
    after: QImage
    rect: QRectF  # display coordinates covered by the images


class BeforeAfterView(QWidget):
    """Before/after canvas with wipe, side-by-side, zoom and pan.

    Signals:
        viewChanged: the visible part of the image changed (zoom, pan, resize, mode).
        zoomChanged(float): new zoom as device pixels per image pixel (1.0 = 100 %).
    """

    viewChanged = Signal()
    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("beforeAfterView")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._size: QSize | None = None  # full image size in display coordinates
        self._base: Layer | None = None
        self._detail: Layer | None = None
        self._scale = 1.0
        self._center = QPointF()
        self._fit = True
        self._mode = "wipe"
        self._split = 0.5  # split line position as a fraction of the width
        self._show_before = False
        self._drag: str | None = None  # "pan" or "split" while a mouse button is down
        self._last_pos = QPointF()
        self.before_label = "Before"
        self.after_label = "After"
        self.placeholder = "Open a RAW photo (Ctrl+O) or drop one here"

    # -- content ---------------------------------------------------------------------------

    def set_image_size(self, width: int, height: int) -> None:
        """Start a new photo of ``width`` x ``height`` display px: drop layers, zoom to fit."""
        self._size = QSize(width, height)
        self._base = self._detail = None
        self.zoom_fit()

    def clear(self) -> None:
        self._size = None
        self._base = self._detail = None
        self.update()

    def set_base(self, before: QImage, after: QImage, rect: tuple[int, int, int, int]) -> None:
        """Show a whole-frame preview; a detail layer from an older view is kept on top."""
        self._base = Layer(before, after, _qrect(rect))
        self.update()

    def set_detail(self, before: QImage, after: QImage, rect: tuple[int, int, int, int]) -> None:
        """Show a sharper preview of part of the image on top of the base layer."""
        self._detail = Layer(before, after, _qrect(rect))
        self.update()

    def clear_detail(self) -> None:
        self._detail = None
        self.update()

    @property
    def image_size(self) -> tuple[int, int] | None:
        """``(width, height)`` of the whole picture in display pixels, or ``None``."""
        return None if self._size is None else (self._size.width(), self._size.height())

    @property
    def has_image(self) -> bool:
        return self._size is not None

    @property
    def base_layer(self) -> Layer | None:
        return self._base

    @property
    def detail_layer(self) -> Layer | None:
        return self._detail

    # -- modes -----------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown view mode {mode!r}")
        if mode != self._mode:
            self._mode = mode
            self._refit_or_clamp()

    @property
    def split(self) -> float:
        return self._split

    def set_split(self, fraction: float) -> None:
        self._split = min(1.0, max(0.0, fraction))
        self.update()

    @property
    def showing_before(self) -> bool:
        return self._show_before

    def set_show_before(self, show: bool) -> None:
        if show != self._show_before:
            self._show_before = show
            self.update()

    # -- view transform --------------------------------------------------------------------

    @property
    def scale(self) -> float:
        """Screen (logical) pixels per image pixel."""
        return self._scale

    @property
    def is_fit(self) -> bool:
        return self._fit

    def panes(self) -> list[tuple[QRectF, str]]:
        """Pane rectangles in widget coordinates and what each shows."""
        r = QRectF(self.rect())
        if self._mode == "side":
            half = (r.width() - _GAP) / 2
            return [
                (QRectF(r.left(), r.top(), half, r.height()), "before"),
                (QRectF(r.right() - half, r.top(), half, r.height()), "after"),
            ]
        return [(r, "after")]

    def fit_scale(self) -> float:
        """The scale "Fit" uses: the whole photo in a pane; side by side, the photo fills the
        panes' full height (a landscape photo fitted into half the width left half the
        viewer empty), its sides reached by panning, both panes in step."""
        if self._size is None:
            return 1.0
        pane = self.panes()[0][0]
        by_height = pane.height() / self._size.height()
        if self._mode == "side":
            return max(1e-4, by_height)
        return max(1e-4, min(pane.width() / self._size.width(), by_height))

    def zoom_fit(self) -> None:
        self._fit = True
        self._refit_or_clamp()

    def zoom_actual(self, anchor: QPointF | None = None) -> None:
        """100 %: one image pixel per device pixel."""
        self.set_zoom(1.0 / self.devicePixelRatioF(), anchor)

    def set_zoom(self, scale: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``scale`` keeping the image point under ``anchor`` (widget px) still."""
        if self._size is None:
            return
        scale = min(_MAX_SCALE, max(min(self.fit_scale(), 1.0) * 0.5, scale))
        pane = self._pane_at(anchor) if anchor is not None else self.panes()[0][0]
        anchor = pane.center() if anchor is None else anchor
        point = self.to_image(anchor, pane)
        self._scale = scale
        self._center = point - (anchor - pane.center()) / scale
        self._fit = False
        self._changed()

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the image by ``dx``, ``dy`` screen pixels."""
        if self._size is None:
            return
        self._center -= QPointF(dx, dy) / self._scale
        self._fit = False
        self._changed()

    def to_image(self, pos: QPointF, pane: QRectF | None = None) -> QPointF:
        """Widget position -> display image coordinates."""
        pane = pane or self._pane_at(pos)
        return self._center + (pos - pane.center()) / self._scale

    def visible_image_rect(self) -> QRectF:
        """The part of the image a pane shows (all panes show the same part)."""
        if self._size is None:
            return QRectF()
        pane = self.panes()[0][0]
        top_left = self.to_image(pane.topLeft(), pane)
        seen = QRectF(top_left, pane.size() / self._scale)
        return seen.intersected(QRectF(0, 0, self._size.width(), self._size.height()))

    def visible_region(self) -> tuple[int, int, int, int]:
        """The visible part of the photo as whole pixels ``(x, y, width, height)`` in display
        coordinates (after orientation); ``(0, 0, 0, 0)`` without a photo."""
        seen = self.visible_image_rect()
        if seen.isEmpty():
            return (0, 0, 0, 0)
        x0, y0 = math.floor(seen.left() + 1e-6), math.floor(seen.top() + 1e-6)
        x1, y1 = math.ceil(seen.right() - 1e-6), math.ceil(seen.bottom() - 1e-6)
        return (x0, y0, x1 - x0, y1 - y0)

    def side_pixels(self, which: str = "after") -> np.ndarray:
        """What a pane draws of ``which`` ("before"/"after") for :meth:`visible_region`, at the
        current zoom in device pixels, without labels or split line: ``(H, W, 3)`` uint8."""
        layers = [layer for layer in (self._base, self._detail) if layer is not None]
        images = [(getattr(layer, which), layer.rect) for layer in layers]
        scale = self._scale * self.devicePixelRatioF()
        return render_images(images, self.visible_region(), scale)

    def shows_whole_image(self) -> bool:
        if self._size is None:
            return True
        seen = self.visible_image_rect()
        return seen.width() >= self._size.width() - 1 and seen.height() >= self._size.height() - 1

    def pane_device_size(self) -> tuple[int, int]:
        """Width, height of one pane in device pixels (what a preview should fill)."""
        pane, dpr = self.panes()[0][0], self.devicePixelRatioF()
        return max(1, round(pane.width() * dpr)), max(1, round(pane.height() * dpr))

    def _pane_at(self, pos: QPointF) -> QRectF:
        panes = self.panes()
        for pane, _ in panes:
            if pane.contains(pos):
                return pane
        return panes[-1][0] if pos.x() > self.width() / 2 else panes[0][0]

    def _refit_or_clamp(self) -> None:
        if self._size is not None and self._fit:
            self._scale = self.fit_scale()
            self._center = QPointF(self._size.width() / 2, self._size.height() / 2)
        self._changed()

    def _changed(self) -> None:
        if self._size is not None:  # keep the image centre reachable, never lost off-screen
            w, h = self._size.width(), self._size.height()
            self._center = QPointF(
                min(w, max(0.0, self._center.x())), min(h, max(0.0, self._center.y()))
            )
            self._snap_to_pixels()
        self.update()
        self.zoomChanged.emit(self._scale * self.devicePixelRatioF())
        self.viewChanged.emit()

    def _snap_to_pixels(self) -> None:
        """At whole-number zooms (100 %, 200 %...) put image pixels on device pixels, so the
        screen shows the render's pixels as they are, not resampled half a pixel off."""
        device_scale = self._scale * self.devicePixelRatioF()
        if self._fit or device_scale < 1 or abs(device_scale - round(device_scale)) > 1e-6:
            return
        pane = self.panes()[0][0]
        half = QPointF(pane.width(), pane.height()) / (2 * self._scale)
        corner = self._center - half  # the pane's top-left, in image pixels
        self._center = QPointF(round(corner.x()), round(corner.y())) + half

    # -- painting --------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), BACKGROUND)
        if self._size is None or (self._base is None and self._detail is None):
            p.setPen(QColor(170, 170, 170))
            text = self.placeholder if self._size is None else "Rendering preview…"
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, text)
            p.end()
            return
        for pane, which in self.panes():
            shown = "before" if self._show_before else which
            self._paint_pane(p, pane, shown)
            if self._mode != "wipe" or self._show_before:
                label = self.before_label if shown == "before" else self.after_label
                paint_label(p, self.font(), pane, label, left=True)
        if self._mode == "wipe" and not self._show_before:
            x = self.width() * self._split
            pane = self.panes()[0][0]
            left = QRectF(pane.left(), pane.top(), x - pane.left(), pane.height())
            self._paint_pane(p, pane, "before", clip=left)
            paint_split_line(p, x, self.height())
            paint_label(p, self.font(), pane, self.before_label, left=True)
            paint_label(p, self.font(), pane, self.after_label, left=False)
        p.end()

    def _paint_pane(
        self, p: QPainter, pane: QRectF, which: str, clip: QRectF | None = None
    ) -> None:
        """Draw the ``which`` ("before"/"after") images through ``pane``'s view transform."""
        layers = [layer for layer in (self._base, self._detail) if layer is not None]
        images = [
            (layer.before if which == "before" else layer.after, layer.rect) for layer in layers
        ]
        paint_images(p, pane, images, self._scale, self._center, clip)

    # -- interaction -----------------------------------------------------------------------

    def _near_split(self, pos: QPointF) -> bool:
        return (
            self._mode == "wipe"
            and not self._show_before
            and abs(pos.x() - self.width() * self._split) <= _GRAB
        )

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._size is None:
            return super().mousePressEvent(event)
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self._drag = "split" if self._near_split(event.position()) else "pan"
        self._last_pos = event.position()
        if self._drag == "pan":
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._drag == "split":
            self.set_split(pos.x() / max(1, self.width()))
        elif self._drag == "pan":
            delta = pos - self._last_pos
            self._last_pos = pos
            self.pan_by(delta.x(), delta.y())
        elif self._near_split(pos):
            self.setCursor(Qt.CursorShape.SplitHCursor)
        else:
            self.setCursor(
                Qt.CursorShape.OpenHandCursor if self._size else Qt.CursorShape.ArrowCursor
            )
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._drag:
            self._drag = None
            self.unsetCursor()
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._size is None:
            return
        if self._fit:
            self.zoom_actual(event.position())
        else:
            self.zoom_fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self._size is None:
            return
        steps = event.angleDelta().y() / 120.0 or event.pixelDelta().y() / 40.0
        if steps:
            self.set_zoom(self._scale * 1.25**steps, event.position())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in BEFORE_KEYS:
            if not event.isAutoRepeat():
                self.set_show_before(True)
            event.accept()
        elif event.key() == Qt.Key.Key_F:
            self.zoom_fit()
        elif event.key() == Qt.Key.Key_1:
            self.zoom_actual()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() in BEFORE_KEYS:
            if not event.isAutoRepeat():
                self.set_show_before(False)
            event.accept()
        else:
            super().keyReleaseEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._refit_or_clamp()


def _qrect(rect: tuple[int, int, int, int]) -> QRectF:
    top, left, height, width = rect
    return QRectF(left, top, width, height)
