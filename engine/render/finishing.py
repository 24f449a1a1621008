"""The steps after the network, in their one order: what a model card's
:class:`~engine.models.Finishing` asks for, done to its linear camera RGB output.

The renderer (:class:`~engine.render.Enhancer`, before the Amount blend) and the fine-tune's
validation both call :func:`finish_output`, so a score is always of what the app renders.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.jobs import CancelToken
from engine.models import Finishing
from engine.noise import NoiseLevel
from engine.render.chroma import smooth_chroma
from engine.render.detail import restore_detail


def finish_output(
    out: torch.Tensor,
    finishing: Finishing,
    level: NoiseLevel | None,
    ratio: float,
    wb_gains: np.ndarray,
    sensor: str = "bayer",
    detail_source: torch.Tensor | None = None,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """``out`` after the steps ``finishing`` asks for: the detail restoration
    (:func:`~engine.render.restore_detail`, from ``detail_source``), then the chroma step
    (:func:`~engine.render.smooth_chroma`).

    Args:
        out: ``(3, H, W)`` float32 linear camera RGB, a network's output; changed in place.
        finishing: the steps (a card's :attr:`~engine.models.ModelCard.finishing`, less what
            a caller leaves out, e.g. a binned preview).
        level: the frame's noise level; needed for either step (the chroma step runs ungated
            without it).
        ratio, wb_gains, sensor: the frame's (``RawFrame.wb_gains``, ``RawFrame.sensor``) and
            the amplification ``out`` was rendered at.
        detail_source: ``(3, H, W)`` the restoration's source (see
            :func:`~engine.render.restore_detail`); needed with ``restores_detail``.
        cancel: checked before each step.

    Returns:
        ``out``, finished.
    """
    if finishing.restores_detail:
        if detail_source is None or level is None:
            raise ValueError("restoring detail needs its source and the frame's noise level")
        if cancel is not None:
            cancel.raise_if_cancelled()
        out = restore_detail(out, detail_source, level, ratio, wb_gains, sensor)
    if finishing.smooths_chroma:
        if cancel is not None:
            cancel.raise_if_cancelled()
        out = smooth_chroma(out, wb_gains, level, ratio)
    return out
