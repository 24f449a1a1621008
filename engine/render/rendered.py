"""What a render gives back: :class:`Rendered`, the finished image and what an export needs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.io import Rect, orient_rect
from engine.render.colour import apply_orientation


@dataclass
class Rendered:
    """A finished image, orientation applied.

    Attributes:
        srgb: ``(H, W, 3)`` float32 sRGB-encoded display image in [0, 1]: the picture, i.e.
            cropped to the frame's default crop, then oriented.
        linear_sensor: ``(H', W', 3)`` float32 linear RGB on the sensor grid (not yet
            oriented), the whole rendered area (a DNG export keeps the borders and says where
            the picture is); camera RGB unless the model outputs sRGB, then linear sRGB. In
            [0, 1], except that the classical render's noise below black (down to
            ``-NOISE_FLOOR``) stays in the classical render, the Amount blend and restored
            detail; the DNG writers clip it.
        orientation: LibRaw flip code that :attr:`linear` applies.
        crop: the picture within ``linear_sensor`` (``(top, left, height, width)``), or
            ``None`` for all of it.
        covers: the part of the picture (the frame's default crop, unrotated coordinates)
            that ``srgb`` shows: all of it for :meth:`~engine.render.Enhancer.render`, a region
            for previews (at ``srgb``'s size times the preview's binning factor).
        xyz_to_cam: ``(3, 3)`` XYZ -> the space of ``linear`` (DNG ColorMatrix1).
        wb_gains: ``(3,)`` white balance that neutralises ``linear`` (DNG AsShotNeutral = 1/x).
        ratio: exposure ratio used.
        model: model name, or ``"none"``.
        amount: share of the network's result (0-1; 1 for the classical pipeline).
    """

    srgb: np.ndarray
    linear_sensor: np.ndarray
    orientation: int
    xyz_to_cam: np.ndarray
    wb_gains: np.ndarray
    ratio: float
    model: str
    crop: Rect | None = None
    covers: Rect | None = None
    amount: float = 1.0

    @property
    def linear(self) -> np.ndarray:
        """``(H', W', 3)`` linear RGB, oriented, for DNG export (the whole rendered area).

        Built on demand: only DNG export needs it, and at 12 MP the oriented copy is 144 MB.
        """
        return apply_orientation(self.linear_sensor, self.orientation)

    @property
    def linear_crop(self) -> Rect | None:
        """Where the picture lies in :attr:`linear` (a DNG's DefaultCrop), or ``None``."""
        if self.crop is None:
            return None
        height, width = self.linear_sensor.shape[:2]
        return orient_rect(self.crop, height, width, self.orientation)
