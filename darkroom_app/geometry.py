"""Rectangles between the displayed (oriented) image and the unrotated sensor frame.

The viewer works in *display* coordinates: pixels of the full-resolution image with the file's
orientation applied, which is what the engine returns. ``Enhancer.render_preview`` crops in
*sensor* coordinates of the unrotated mosaic. LibRaw's ``flip`` code mirrors columns (bit 0),
then rows (bit 1), then transposes (bit 2); mirrors are their own inverse, so mapping a
rectangle back is the same steps in reverse order. Rectangles are ``(top, left, height, width)``.
Qt-free so the arithmetic is trivially testable.
"""

from __future__ import annotations

import math

from engine.render import preview_factor

Rect = tuple[int, int, int, int]
#: Smallest region side (sensor px) worth cropping; smaller views reuse a slightly larger crop.
MIN_REGION = 32


def oriented_size(sensor_h: int, sensor_w: int, flip: int) -> tuple[int, int]:
    """``(height, width)`` of the displayed image."""
    return (sensor_w, sensor_h) if flip & 4 else (sensor_h, sensor_w)


def display_to_sensor(rect: Rect, sensor_h: int, sensor_w: int, flip: int) -> Rect:
    """A display rectangle -> the sensor rectangle holding the same pixels."""
    top, left, height, width = rect
    if flip & 4:
        top, left, height, width = left, top, width, height
    if flip & 2:
        top = sensor_h - (top + height)
    if flip & 1:
        left = sensor_w - (left + width)
    return top, left, height, width


def sensor_to_display(rect: Rect, sensor_h: int, sensor_w: int, flip: int) -> Rect:
    """A sensor rectangle -> where its pixels appear in the displayed image."""
    top, left, height, width = rect
    if flip & 1:
        left = sensor_w - (left + width)
    if flip & 2:
        top = sensor_h - (top + height)
    if flip & 4:
        top, left, height, width = left, top, width, height
    return top, left, height, width


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


def preview_coverage(region: Rect, max_side: int) -> Rect:
    """The sensor rectangle a ``render_preview(region=region, max_side=max_side)`` output spans.

    The engine bins packed pixels ``f`` x ``f`` and drops the remainder, so the output can stop a
    few pixels short of the region's far edges; drawing it over exactly what it covers keeps the
    preview registered with the rest of the image.
    """
    top, left, height, width = region
    factor = preview_factor(height, width, max_side)
    return top, left, (height // 2 // factor) * 2 * factor, (width // 2 // factor) * 2 * factor
