"""What the photographer sets for a photo: exposure ratio and Amount, checked once for all
front ends (the CLI's ``--ratio``/``--amount``, the window's controls)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.errors import DarkroomError
from engine.io import MAX_RATIO, MIN_RATIO


def parse_amount(value: str | float) -> float:
    """A user's Amount in percent (0-100, "%" allowed) as a fraction in [0, 1].

    Raises:
        DarkroomError: not a number, or outside 0-100.

    Examples:
        >>> parse_amount("60"), parse_amount(" 100% "), parse_amount(0)
        (0.6, 1.0, 0.0)
    """
    text = str(value).strip().rstrip("%").strip()
    try:
        number = float(text)
    except ValueError:
        raise DarkroomError(f"invalid amount {value!r}: give a percentage from 0 to 100") from None
    if not (math.isfinite(number) and 0.0 <= number <= 100.0):
        raise DarkroomError(f"amount {value!r} out of range: must be from 0 to 100 (%)")
    return number / 100.0


@dataclass(frozen=True)
class Adjustments:
    """How a photo is rendered.

    Attributes:
        ratio: exposure ratio in [1, 1000]; ``None`` estimates it from the frame.
        amount: share of the network's result, 0-1 (see :meth:`Enhancer.render`); 1 by default.
    """

    ratio: float | None = None
    amount: float = 1.0

    def __post_init__(self) -> None:
        if self.ratio is not None and not MIN_RATIO <= float(self.ratio) <= MAX_RATIO:
            raise DarkroomError(f"ratio {self.ratio!r} out of range: must be from 1 to 1000")
        if not 0.0 <= float(self.amount) <= 1.0:  # NaN fails too
            raise DarkroomError(f"amount {self.amount!r} out of range: must be from 0 to 1")
