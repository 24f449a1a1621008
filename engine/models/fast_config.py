"""The fast network's options (:mod:`engine.models.fast`): the input layout it reads, the forms
it can take, and the check of a card's config against them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.models.base import check_positive
from engine.resources import SENSORS

#: The extra space-to-depth factor at the input (and depth-to-space at the output: the head
#: emits 4x4 sensor pixels per level-0 position).
UNSHUFFLE = 2
#: Where the output starts from (see :mod:`engine.models.fast`).
BASES = ("demosaic", "bilinear", "none")
#: How the level-0 features become full-resolution pixels (see :mod:`engine.models.fast`).
HEADS = ("shuffle", "overlap")
#: The gate's starting logit: sigmoid(-2) = 0.12 of the base let go, small enough to start
#: near the base, large enough for the gradient to open it where the input is noise.
GATE_START = -2.0
#: The demosaic planes the runner adds for ``base="demosaic"``
#: (:func:`engine.render.demosaic_planes`: 3 colours x 2 x 2 sensor pixels per packed pixel).
DEMOSAIC_PLANES = 12
#: The colour-masked mosaic planes an X-Trans network takes (:func:`engine.render.colour_planes`:
#: 3 colours x 4 positions).
COLOUR_PLANES = 12
#: The widest per-pixel base filter (its taps are head outputs, 16 channels each).
MAX_FILTER = 5


def checked_config(
    *,
    raw_channels: int,
    out_channels: int,
    noise_input: bool,
    widths: Sequence[int],
    encoder_convs: Sequence[int],
    decoder_convs: Sequence[int],
    negative_slope: float,
    base: str,
    gate: bool,
    head: str,
    sensor: str,
    base_filter: int,
    base_below_black: bool = False,
) -> dict[str, Any]:
    """The network's card config from :class:`~engine.models.fast.FastUNet`'s arguments
    (see there), checked: lists for the per-level counts, plain bools and floats, and
    ``sensor``/``base_filter``/``base_below_black`` only where not the default (older cards
    keep their exact config).

    Raises:
        ValueError: a layout or an option combination the network cannot build.
    """
    widths, encoder_convs, decoder_convs = list(widths), list(encoder_convs), list(decoder_convs)
    levels = len(widths)
    if levels < 2 or len(encoder_convs) != levels or len(decoder_convs) != levels - 1:
        raise ValueError(
            "need at least 2 widths, one encoder count per width and one decoder count "
            f"per width but the last; got {widths}, {encoder_convs}, {decoder_convs}"
        )
    counts = {f"width {i}": w for i, w in enumerate(widths)}
    counts |= {f"encoder convs {i}": n for i, n in enumerate(encoder_convs)}
    counts |= {f"decoder convs {i}": n for i, n in enumerate(decoder_convs)}
    check_positive(raw_channels=raw_channels, out_channels=out_channels, **counts)
    base_filter, noise_input = int(base_filter), bool(noise_input)
    if base not in BASES:
        raise ValueError(f"base must be one of {', '.join(BASES)}, got {base!r}")
    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
    if base != "none" and (raw_channels != 4 or out_channels != 3):
        raise ValueError("starting from a demosaic needs 4 raw and 3 output channels")
    if sensor not in SENSORS:
        raise ValueError(f"sensor must be one of {', '.join(SENSORS)}, got {sensor!r}")
    if sensor == "x-trans" and (base != "demosaic" or not noise_input):
        raise ValueError("an X-Trans network needs base='demosaic' and noise_input")
    if base_filter and (base_filter < 3 or base_filter % 2 == 0 or base_filter > MAX_FILTER):
        raise ValueError(f"base_filter must be 0 or odd from 3 to {MAX_FILTER}, got {base_filter}")
    if base_filter and (base == "none" or head != "shuffle"):
        raise ValueError("base_filter needs a base and the shuffle head")
    if base_below_black and (base != "demosaic" or sensor != "bayer"):
        raise ValueError("base_below_black needs base='demosaic' on a Bayer network")
    checked = {
        "raw_channels": raw_channels,
        "out_channels": out_channels,
        "noise_input": noise_input,
        "widths": widths,
        "encoder_convs": encoder_convs,
        "decoder_convs": decoder_convs,
        "negative_slope": float(negative_slope),
        "base": base,
        "gate": bool(gate),
        "head": head,
    }
    if sensor != "bayer":  # Bayer cards written before X-Trans keep their exact config
        checked["sensor"] = sensor
    if base_filter:  # and cards written before the base filter theirs
        checked["base_filter"] = base_filter
    if base_below_black:
        checked["base_below_black"] = True
    return checked
