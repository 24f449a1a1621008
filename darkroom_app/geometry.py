"""Rectangles between the displayed (oriented) image and the unrotated sensor frame.

The viewer works in *display* coordinates: pixels of the full-resolution picture with the file's
orientation applied, which is what the engine returns. ``Enhancer.render_preview`` crops in
*sensor* coordinates of the unrotated picture (the frame's default crop: ``visible_height`` x
``visible_width``). The mapping is the engine's (:func:`engine.io.orient_rect`); this module
adds what the viewer needs on top: fractional view rectangles widened to whole CFA periods.
Rectangles are ``(top, left, height, width)``. Qt-free so the arithmetic is trivially testable.
"""

from __future__ import annotations

import math

from engine.io import Rect, orient_rect, unorient_rect

#: Smallest region side (sensor px) worth cropping; smaller views reuse a slightly larger crop.
MIN_REGION = 32


def oriented_size(sensor_h: int, sensor_w: int, flip: int) -> tuple[int, int]:
    """``(height, width)`` of the displayed image."""
    return (sensor_w, sensor_h) if flip & 4 else (sensor_h, sensor_w)


def display_to_sensor(rect: Rect, sensor_h: int, sensor_w: int, flip: int) -> Rect:
    """A display rectangle -> the sensor rectangle holding the same pixels."""
    return unorient_rect(rect, sensor_h, sensor_w, flip)


def sensor_to_display(rect: Rect, sensor_h: int, sensor_w: int, flip: int) -> Rect:
    """A sensor rectangle -> where its pixels appear in the displayed image."""
    return orient_rect(rect, sensor_h, sensor_w, flip)


def _even_span(start: float, stop: float, limit: int) -> tuple[int, int]:
    """``[start, stop)`` widened to even ends (whole CFA periods) and clamped to ``[0, limit]``."""
    lo = max(0, math.floor(start) // 2 * 2)
    hi = min(limit, (math.ceil(stop) + 1) // 2 * 2)
    if hi - lo < MIN_REGION:  # tiny views: grow around the centre, still inside the frame
        mid = (lo + hi) // 2
        lo = max(0, min(limit - MIN_REGION, mid - MIN_REGION // 2)) // 2 * 2
        hi = min(limit, lo + MIN_REGION)
    return lo, hi


def sensor_region(
    display_rect: tuple[float, float, float, float], sensor_h: int, sensor_w: int, flip: int
) -> Rect:
    """The even-aligned sensor crop covering a (fractional) display rectangle."""
    top, left, height, width = display_rect
    d_top, d_left = math.floor(top), math.floor(left)
    d_h = math.ceil(top + height) - d_top
    d_w = math.ceil(left + width) - d_left
    s_top, s_left, s_h, s_w = display_to_sensor((d_top, d_left, d_h, d_w), sensor_h, sensor_w, flip)
    t0, t1 = _even_span(s_top, s_top + s_h, sensor_h)
    l0, l1 = _even_span(s_left, s_left + s_w, sensor_w)
    return t0, l0, t1 - t0, l1 - l0
