"""Exposure ratio: validation and the automatic estimate.

Method of ``auto``: a well-exposed RAW frame's mean normalised signal (black-subtracted, divided
by ``white - black``, all four CFA channels, before white balance) sits near
:data:`TARGET_MEAN`; daylight frames of the cameras we have measured range 0.10-0.17. So the
ratio that brings the dark frame's mean to that level is ``TARGET_MEAN / mean``. The mean is
taken *without* clipping negative values, so zero-mean read noise cancels out instead of
biasing a very dark frame upwards, and over a decimated grid (every 4th CFA block) for speed.
Pixels at or near saturation are excluded, since a clipped street light says nothing about how
dark the rest is. The result is clamped to [1, 1000].
"""

from __future__ import annotations

import math

import numpy as np

from engine.errors import DarkroomError
from engine.io.raw import RawFrame

MIN_RATIO = 1.0
MAX_RATIO = 1000.0
#: Mean normalised raw level of a "normally" exposed frame (see module docstring).
TARGET_MEAN = 0.12


def parse_ratio(value: str | float) -> float | None:
    """Parse a user's ratio: a number in [1, 1000], or ``"auto"`` -> ``None``.

    Raises:
        DarkroomError: text that is not a number, NaN, infinite, <= 0 or outside [1, 1000].

    Examples:
        >>> parse_ratio("100"), parse_ratio(" x250 "), parse_ratio(2)
        (100.0, 250.0, 2.0)
        >>> parse_ratio("Auto") is None
        True
        >>> parse_ratio("0.5")
        Traceback (most recent call last):
        ...
        engine.errors.DarkroomError: ratio 0.5 out of range: must be from 1 to 1000
    """
    if isinstance(value, str):
        text = value.strip().lower().lstrip("x")
        if text == "auto":
            return None
        try:
            number = float(text)
        except ValueError:
            raise DarkroomError(
                f"invalid ratio {value!r}: give a number from 1 to 1000 or 'auto'"
            ) from None
    else:
        number = float(value)
    if not math.isfinite(number):
        raise DarkroomError(f"invalid ratio {value!r}: must be a finite number")
    if number <= 0:
        raise DarkroomError(f"invalid ratio {value!r}: must be positive (1 to 1000)")
    if not MIN_RATIO <= number <= MAX_RATIO:
        raise DarkroomError(f"ratio {number:g} out of range: must be from 1 to 1000")
    return number


def estimate_ratio(frame: RawFrame, target_mean: float = TARGET_MEAN, step: int = 4) -> float:
    """Estimate the amplification that makes ``frame`` look normally exposed.

    Returns:
        A ratio in [1, 1000].

    Only the picture counts (:meth:`~engine.io.RawFrame.visible`): borders a file crops away
    may be black or masked.
    """
    frame = frame.visible()
    values = []
    n, black_level = frame.period, np.asarray(frame.black_level, np.float32)
    for dy in (0, 1):
        for dx in (0, 1):
            plane = frame.mosaic[dy :: 2 * step, dx :: 2 * step].astype(np.float32)
            # Each sample's own CFA position (one position per plane for Bayer).
            rows = np.arange(dy, frame.height, 2 * step)[: plane.shape[0]] % n
            cols = np.arange(dx, frame.width, 2 * step)[: plane.shape[1]] % n
            black = black_level[np.ix_(rows, cols)]
            v = (plane - black) / (np.float32(frame.white_level) - black)
            values.append(v[v < 0.95].reshape(-1))
    unclipped = np.concatenate(values) if values else np.empty(0, np.float32)
    if unclipped.size == 0:  # every sample clipped: it is overexposed, not dark
        return MIN_RATIO
    level = float(unclipped.mean())
    if not math.isfinite(level) or level <= target_mean / MAX_RATIO:
        return MAX_RATIO
    return float(min(MAX_RATIO, max(MIN_RATIO, target_mean / level)))
