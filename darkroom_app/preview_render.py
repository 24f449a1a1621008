"""One preview pass, off the GUI thread: a before/after pair of one part of the photo.

The live preview is drawn in passes (see :mod:`darkroom_app.preview`): perhaps a stand-in
first, then the chosen model's own render of what is on screen, then the whole photo around a
zoomed-in view. Each pass is one :class:`PreviewRequest`, rendered here by
:func:`render_preview_pass` (engine calls; QImage is the only Qt type touched, and it is safe
to build off the GUI thread).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from engine.io import RawFrame
from engine.jobs import CancelToken, ProgressCallback
from engine.render import CLASSICAL, Rendered

from .geometry import Rect, sensor_to_display
from .session import EnhancerCache

#: What a pass draws: the view itself (the whole photo when fitted, else the visible region),
#: or the whole photo around a zoomed-in view (seen while panning).
VIEW, SURROUND = "view", "surround"


@dataclass(frozen=True)
class PreviewRequest:
    """Everything one preview pass needs, captured in the GUI thread.

    Attributes:
        before_ratio: ratio of the classical "before" render; ``None`` = the same as ``ratio``.
        region: sensor crop to render, ``None`` = the whole picture.
        max_side: longer output side; the region's own longer side (or more) renders it at
            full resolution, which is the export's own pixels.
        generation: which state of the window this pass belongs to (newest wins).
        preview_model: the model that draws this pass when it is not ``model`` (a faster
            stand-in on a CPU); exports always use ``model``.
        role: :data:`VIEW` or :data:`SURROUND`.
    """

    frame: RawFrame
    ratio: float
    model: str
    device: str
    model_dirs: tuple[Path, ...]
    before_ratio: float | None
    region: Rect | None
    max_side: int
    generation: int
    preview_model: str | None = None
    amount: float = 1.0
    role: str = VIEW

    @property
    def drawn_by(self) -> str:
        """The model that renders this pass."""
        return self.preview_model or self.model

    @property
    def is_stand_in(self) -> bool:
        """Whether another model draws this pass in place of the chosen one."""
        return self.drawn_by != self.model


@dataclass
class PreviewLayer:
    """A before/after pair and the display rectangle (top, left, height, width) it covers."""

    before: QImage
    after: QImage
    rect: Rect


@dataclass
class PreviewResult:
    """A rendered pass.

    Attributes:
        after_pixels: ``(H, W, 3)`` uint8, the "after" image of ``layer`` (tests compare it
            with the export; scripts read it through the window's ``after_image``).
        histogram: ``(4, 256)`` counts of R, G, B and luminance of ``after_pixels``.
        after_mean: mean of ``after_pixels`` in [0, 1].
    """

    request: PreviewRequest
    layer: PreviewLayer
    after_pixels: np.ndarray
    histogram: np.ndarray
    after_mean: float
    seconds: float


def to_uint8(srgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` float sRGB in [0, 1] -> contiguous uint8 (rounded, as exports are)."""
    return np.ascontiguousarray(np.clip(srgb * 255.0 + 0.5, 0, 255).astype(np.uint8))


def to_qimage(pixels: np.ndarray) -> QImage:
    """``(H, W, 3)`` uint8 -> a QImage that owns a copy of the pixels."""
    h, w, _ = pixels.shape
    return QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def histogram(pixels: np.ndarray) -> np.ndarray:
    """``(4, 256)`` counts of R, G, B and Rec. 709 luminance of a uint8 image."""
    flat = pixels.reshape(-1, 3)
    if flat.shape[0] > 1_000_000:  # plenty for 256 bins; keeps big previews cheap
        flat = flat[:: flat.shape[0] // 1_000_000 + 1]
    wide = flat.astype(np.uint16)  # 54 + 183 + 19 = 256: the weighted sum fits in 16 bits
    luma = (54 * wide[:, 0] + 183 * wide[:, 1] + 19 * wide[:, 2]) >> 8
    channels = [flat[:, 0], flat[:, 1], flat[:, 2], luma]
    return np.stack([np.bincount(c, minlength=256)[:256] for c in channels])


def render_preview_pass(
    req: PreviewRequest, cache: EnhancerCache, cancel: CancelToken, progress: ProgressCallback
) -> PreviewResult:
    """Render the before/after pair one pass asks for."""
    start = time.perf_counter()
    frame = req.frame
    after_enh = cache.get(req.drawn_by, req.device, req.model_dirs)
    after: Rendered = after_enh.render_preview(
        frame, req.ratio, req.max_side, req.region, progress, cancel, amount=req.amount
    )
    after_px = to_uint8(after.srgb)
    after_img = to_qimage(after_px)
    if req.model == CLASSICAL and req.before_ratio is None:
        before_img = after_img  # the classical render at the same ratio *is* the before image
    else:
        classical = cache.get(CLASSICAL, "cpu")
        before_ratio = req.ratio if req.before_ratio is None else req.before_ratio
        before = classical.render_preview(frame, before_ratio, req.max_side, req.region,
                                          cancel=cancel)  # fmt: skip
        before_img = to_qimage(to_uint8(before.srgb))
    cancel.raise_if_cancelled()
    # Drawn over exactly what it shows: binning may stop a few pixels short of the region.
    covered = after.covers or (0, 0, frame.visible_height, frame.visible_width)
    rect = sensor_to_display(covered, frame.visible_height, frame.visible_width, frame.orientation)
    return PreviewResult(
        request=req,
        layer=PreviewLayer(before_img, after_img, rect),
        after_pixels=after_px,
        histogram=histogram(after_px),
        after_mean=float(after_px.mean()) / 255.0,
        seconds=time.perf_counter() - start,
    )
