"""Shared pieces of the enhancement networks: the :class:`EnhanceNet` contract and padding.

Tensor contract of every enhancement variant (see :class:`EnhanceNet`):

* input ``(N, 4, h, w)`` float: packed Bayer in canonical channel order R, G, B, G, each channel
  at half the sensor resolution, black-subtracted, normalised and amplified, values in ``[0, 1]``;
  any ``h, w >= 1``.
* output ``(N, 3, 2h, 2w)`` float: linear RGB at full sensor resolution, roughly in ``[0, 1]``
  (never clamped inside the model, so losses see the true prediction).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import Tensor, nn

#: Full-resolution output pixels per packed input pixel along each axis (one 2x2 Bayer cell).
UPSCALE = 2
#: Rough peak activation bytes per packed input pixel per level-0 feature of a U-Net, float32,
#: inference mode (the encoder's full-resolution blocks and the first decoder dominate).
ACTIVATION_BYTES_PER_FEATURE = 40


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Pad the bottom and right of ``x`` so both spatial sizes are multiples of ``multiple``.

    Args:
        x: ``(N, C, h, w)``.
        multiple: the required divisor of the padded height and width.

    Returns:
        ``(N, C, H, W)`` with ``H = ceil(h / multiple) * multiple`` (same for ``W``); the
        original content sits at ``[..., :h, :w]``, so cropping undoes the padding.

    Reflect padding keeps the image statistics continuous at the border (replicate or zeros
    would create flat or dark bands the convolutions react to). Reflect needs the pad to be
    smaller than the size, so each axis falls back to replicate on its own when the input is
    too small. Padding only bottom/right keeps packed pixel ``(0, 0)`` at the origin, so the
    Bayer phase and the crop are trivial.
    """
    h, w = x.shape[-2:]
    pad_h = -h % multiple
    pad_w = -w % multiple
    if pad_w:
        x = F.pad(x, (0, pad_w, 0, 0), mode="reflect" if pad_w < w else "replicate")
    if pad_h:
        x = F.pad(x, (0, 0, 0, pad_h), mode="reflect" if pad_h < h else "replicate")
    return x


def feature_widths(base_features: int, levels: int, max_features: int | None) -> list[int]:
    """Channel width of each U-Net level ``0..levels``: ``base * 2**i``, capped at ``max_features``.

    ``levels`` counts the poolings, so there are ``levels + 1`` widths (the last is the
    bottleneck): ``feature_widths(32, 4, None) == [32, 64, 128, 256, 512]``.
    """
    widths = [base_features * 2**i for i in range(levels + 1)]
    if max_features is not None:
        widths = [min(width, max_features) for width in widths]
    return widths


def check_positive(**values: int | None) -> None:
    """Raise ``ValueError`` naming the first argument that is not a positive int (None passes)."""
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


class ConvBlock(nn.Sequential):
    """Two 3x3 convolutions, each followed by LeakyReLU: ``(N, in, h, w) -> (N, out, h, w)``.

    No normalisation layer on purpose: images are processed as independent tiles, and
    BatchNorm would make a tile's result depend on what else is in the batch.
    """

    def __init__(self, in_channels: int, out_channels: int, negative_slope: float) -> None:
        # In-place activations: a fresh full-size buffer per activation costs ~15 % of CPU
        # inference time in page faults and memory traffic; autograd supports it for slope > 0.
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(negative_slope, inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(negative_slope, inplace=True),
        )


class EnhanceNet(nn.Module):
    """Base class of every enhancement variant: packed Bayer in, full-resolution RGB out.

    ``forward(x)``:
        ``x``: ``(N, in_channels, h, w)`` float (``in_channels`` is 4 for raw input), packed
        Bayer R, G, B, G at half sensor resolution, black-subtracted, normalised, amplified,
        values in ``[0, 1]``; any ``h, w >= 1``, odd sizes included.
        Returns ``(N, out_channels, 2h, 2w)`` float, linear RGB roughly in ``[0, 1]``, not
        clamped.

    The input is padded internally to a multiple of :attr:`size_multiple` (see
    :func:`pad_to_multiple`) and the output cropped back, so callers never pad.

    Attributes (the contract :class:`~engine.render.TiledRunner` and the trainer read; every
    subclass sets them in ``__init__``):
        variant: registry name the model was built under (``create_model(variant, **config)``
            rebuilds it).
        config: JSON-serialisable constructor kwargs, complete enough to rebuild the model.
        size_multiple: padded packed sizes must be multiples of this (``2**levels``).
        receptive_radius: analytic upper bound, in packed pixels, on how far an output pixel's
            dependence reaches: output pixel ``(y, x)`` (full resolution) depends only on packed
            inputs within Chebyshev distance ``receptive_radius`` of ``(y // 2, x // 2)``.
            Tiled inference uses it as the minimum tile overlap for seamless results.
        activation_bytes: estimated peak activation memory per packed input pixel in float32
            inference; the runner sizes tiles from it (half of it under bf16/fp16 autocast).
        supported_dtypes: the reduced precisions the network may be autocast to (float32
            always works); the runner falls back to float32 for any other.
        in_channels, out_channels: channel counts of input and output.
        noise_input: the input is the 4 packed channels followed by their noise map
            (:meth:`engine.noise.NoiseLevel.sigma_map`), ``in_channels = 8``; the runner makes
            the map (the model card records the flag in ``config``).
        demosaic_input: the input also carries the classical demosaic of the packed channels
            as 12 planes after the noise map (:func:`engine.render.inputs.demosaic_planes`);
            the runner makes them.
        demosaic_below_black: those planes are the demosaic of the mosaic with its noise below
            black kept (``[-NOISE_FLOOR, 1]``, the classical render's own,
            :func:`engine.render.demosaic_below_black`) instead of the clipped mosaic's
            ([0, 1]); the renderer then takes the detail it restores from them instead of
            demosaicking the frame a second time.
        sensors: the colour filter arrays the network takes, ``"bayer"`` (a 2x2 block packed
            into colour planes) and/or ``"x-trans"``; the renderer refuses (or hands to an
            X-Trans sibling) a frame of another kind.
        colour_input: the packed planes hold samples by position (X-Trans,
            :func:`engine.render.packing.pack_xtrans`) and the input carries the 12
            colour-masked planes after the noise map (:func:`engine.render.colour_planes`).
    """

    variant: str = "enhance"
    #: Full-resolution output pixels per packed pixel along each axis.
    upscale: ClassVar[int] = UPSCALE
    #: Convolutions and LeakyReLU only: bf16 and fp16 autocast are safe (measured: the shipped
    #: baseline moved by +0.01 dB on the held-out set in bf16).
    supported_dtypes: ClassVar[tuple[torch.dtype, ...]] = (torch.bfloat16, torch.float16)
    #: Whether a runner should hand the input over channels-last (oneDNN's and cuDNN's fast
    #: layout); ``False`` for a network that rearranges its input into that layout itself.
    channels_last_input: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.config: dict[str, Any] = {}
        self.size_multiple: int = 1
        self.receptive_radius: int = 0
        self.activation_bytes: int = 0
        self.in_channels: int = 4
        self.out_channels: int = 3
        self.noise_input: bool = False
        self.demosaic_input: bool = False
        self.demosaic_below_black: bool = False
        self.sensors: tuple[str, ...] = ("bayer",)

    @property
    def colour_input(self) -> bool:
        """Whether the input carries the colour planes: an X-Trans network (see the class
        docstring)."""
        return "x-trans" in self.sensors

    def warm_start_state(self, source: dict[str, Tensor]) -> dict[str, Tensor]:
        """``source`` weights (another trained network's) made ready to warm-start this one;
        :func:`engine.train.warm_start` then copies every tensor whose name and shape match.
        A variant that can start from a related architecture adapts them here."""
        return source

    def forward(self, x: Tensor) -> Tensor:
        """``(N, in_channels, h, w)`` packed Bayer -> ``(N, out_channels, 2h, 2w)`` linear RGB."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__} expects (N, {self.in_channels}, h, w), got {tuple(x.shape)}"
            )
        h, w = x.shape[-2:]
        if h < 1 or w < 1:
            raise ValueError(f"{type(self).__name__} needs h, w >= 1, got {tuple(x.shape)}")
        y = self.forward_padded(pad_to_multiple(x, self.size_multiple))
        return y[..., : self.upscale * h, : self.upscale * w]

    def forward_padded(self, x: Tensor) -> Tensor:
        """Like :meth:`forward` but ``x``'s spatial sizes are already multiples of
        :attr:`size_multiple`; ``(N, in_channels, H, W) -> (N, out_channels, 2H, 2W)``."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"variant={self.variant!r}, receptive_radius={self.receptive_radius}"
