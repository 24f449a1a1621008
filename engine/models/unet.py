"""The SID U-Net (Chen et al., CVPR 2018, "Learning to See in the Dark") as a reusable class.

Architecture at defaults (``base_features=32, levels=4``), sizes for a padded ``(N, 4, H, W)``:

* encoder level ``i`` (``i = 0..3``): two 3x3 convs + LeakyReLU(0.2) with ``32 * 2**i`` features
  at ``H / 2**i``, then 2x2 max pool;
* bottleneck: the same conv block with 512 features at ``H / 16``;
* decoder level ``i`` (``i = 3..0``): ConvTranspose2d(2x2, stride 2) to ``32 * 2**i`` features,
  concatenated with the encoder's level-``i`` output (the skip), two 3x3 convs + LeakyReLU;
* head: 1x1 conv to ``4 * out_channels = 12`` channels, ``pixel_shuffle(2)`` to
  ``(N, 3, 2H, 2W)``.

:class:`UNet` has two hooks the other variants build on: :meth:`UNet.gate_skip` (attention gates
on the skips) and the ``inject`` argument of :meth:`UNet.run` (U-UNet feeds the first net's
decoder features into the second net's encoder).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import Tensor, nn

from engine.models.base import (
    ACTIVATION_BYTES_PER_FEATURE,
    UPSCALE,
    ConvBlock,
    EnhanceNet,
    check_positive,
    feature_widths,
)


class UNet(EnhanceNet):
    """SID U-Net: ``(N, in_channels, h, w)`` packed Bayer -> ``(N, out_channels, 2h, 2w)`` RGB.

    Input values in ``[0, 1]`` (packed R, G, B, G, black-subtracted, amplified); output linear
    RGB roughly in ``[0, 1]``, not clamped. Any ``h, w >= 1``: the input is padded to a multiple
    of ``2**levels`` and the output cropped back.

    Args:
        in_channels: input channels (4 for packed Bayer).
        out_channels: output colour channels; the head predicts ``4 * out_channels`` channels at
            packed resolution that ``pixel_shuffle(2)`` turns into full resolution.
        base_features: features of level 0; level ``i`` has ``base_features * 2**i``.
        levels: number of 2x2 poolings (4 gives the SID widths 32-64-128-256-512).
        negative_slope: LeakyReLU slope.
        max_features: cap on any level's width (None: no cap).

    State-dict keys are ``encoders.{i}.{0,2}.*`` (``i = levels`` is the bottleneck),
    ``upsamplers.{i}.*``, ``decoders.{i}.{0,2}.*`` and ``head.*``; subclasses only add keys, so
    baseline weights load into any UNet built with the same arguments.
    """

    variant = "baseline"

    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 3,
        base_features: int = 32,
        levels: int = 4,
        negative_slope: float = 0.2,
        max_features: int | None = None,
    ) -> None:
        super().__init__()
        check_positive(
            in_channels=in_channels,
            out_channels=out_channels,
            base_features=base_features,
            levels=levels,
            max_features=max_features,
        )
        self.config = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "base_features": base_features,
            "levels": levels,
            "negative_slope": float(negative_slope),
            "max_features": max_features,
        }
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.levels = levels
        self.widths = feature_widths(base_features, levels, max_features)
        widths = self.widths

        # encoders[levels] is the bottleneck: it has no skip and no pool after it.
        self.encoders = nn.ModuleList(
            ConvBlock(in_channels if i == 0 else widths[i - 1], widths[i], negative_slope)
            for i in range(levels + 1)
        )
        self.pool = nn.MaxPool2d(2)
        self.upsamplers = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(levels)
        )
        # Decoder input is [upsampled, skip] concatenated, hence 2 * width.
        self.decoders = nn.ModuleList(
            ConvBlock(2 * widths[i], widths[i], negative_slope) for i in range(levels)
        )
        self.head = nn.Conv2d(widths[0], UPSCALE * UPSCALE * out_channels, 1)

        self.size_multiple = 2**levels
        self.receptive_radius = self.trace_radius()[0]
        self.activation_bytes = ACTIVATION_BYTES_PER_FEATURE * base_features

    def gate_skip(self, level: int, skip: Tensor, coarse: Tensor) -> Tensor:
        """Hook applied to each skip before concatenation; the plain U-Net passes it through.

        Args:
            level: decoder level ``i`` (the skip is at ``1 / 2**i`` of the packed size).
            skip: encoder output ``(N, widths[i], H_i, W_i)``.
            coarse: decoder input one level coarser, ``(N, widths[i + 1], H_i / 2, W_i / 2)``.
        """
        del level, coarse
        return skip

    def gate_radius(self, skip_radius: int, coarse_radius: int, scale: int) -> int:
        """Receptive radius of :meth:`gate_skip`'s output (see :meth:`trace_radius`)."""
        del coarse_radius, scale
        return skip_radius

    def run(
        self, x: Tensor, inject: Sequence[Tensor | None] | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        """Run on an already padded input and also return the decoder features.

        Args:
            x: ``(N, in_channels, H, W)`` with ``H, W`` multiples of :attr:`size_multiple`.
            inject: optional per-level tensors ``(N, widths[i], H / 2**i, W / 2**i)`` added to
                encoder level ``i``'s output before it is used as skip and pooled (None entries
                and missing trailing levels inject nothing).

        Returns:
            ``(rgb, decoder_features)``: ``rgb`` is ``(N, out_channels, 2H, 2W)``;
            ``decoder_features[i]`` is decoder level ``i``'s output
            ``(N, widths[i], H / 2**i, W / 2**i)`` for ``i = 0..levels - 1``.
        """
        skips: list[Tensor] = []
        h = x
        for i in range(self.levels):
            h = self.encoders[i](h)
            if inject is not None and i < len(inject) and inject[i] is not None:
                h = h + inject[i]
            skips.append(h)
            h = self.pool(h)
        h = self.encoders[self.levels](h)

        decoded: list[Tensor] = [h] * self.levels
        for i in reversed(range(self.levels)):
            up = self.upsamplers[i](h)
            skip = self.gate_skip(i, skips[i], h)
            h = self.decoders[i](torch.cat([up, skip], dim=1))
            decoded[i] = h
        return F.pixel_shuffle(self.head(h), UPSCALE), decoded

    def forward_padded(self, x: Tensor) -> Tensor:
        """``(N, in_channels, H, W)``, ``H, W`` multiples of ``2**levels`` -> ``(N, C, 2H, 2W)``."""
        return self.run(x)[0]

    def trace_radius(
        self, input_radius: int = 0, inject: Sequence[int | None] | None = None
    ) -> tuple[int, list[int]]:
        """Analytic receptive radius of the output and of each decoder level, in packed pixels.

        A feature at level ``i`` (scale ``s = 2**i``) and position ``j`` covers the packed cell
        block ``[j*s, j*s + s - 1]``; its radius ``r`` means it depends only on packed inputs in
        ``[j*s - r, j*s + s - 1 + r]`` (per axis). Then: a 3x3 conv adds ``s``; a 2x2/stride-2
        max pool adds nothing (the coarse cell is exactly the union of its two fine cells); a
        2x2/stride-2 transposed conv adds ``s`` of the finer level (the fine cell may sit at
        either end of the coarse one); 1x1 convs, pixel (un)shuffle and concatenation (``max``)
        add nothing. Reflect/replicate padding maps every padded pixel to a real pixel no
        farther from the output, so the bound holds at the borders too.

        Args:
            input_radius: radius of the input itself (non-zero when the input is another
                network's output, as in U-UNet).
            inject: radii of the tensors injected per encoder level (see :meth:`run`).

        Returns:
            ``(output_radius, decoder_radii)`` with ``decoder_radii[i]`` for level ``i``.
        """
        r = input_radius
        skips: list[int] = []
        for i in range(self.levels):
            r += 2 * 2**i
            if inject is not None and i < len(inject) and inject[i] is not None:
                r = max(r, inject[i])
            skips.append(r)
        r += 2 * 2**self.levels

        decoded = [0] * self.levels
        for i in reversed(range(self.levels)):
            scale = 2**i
            up = r + scale
            skip = self.gate_radius(skips[i], r, scale)
            r = max(up, skip) + 2 * scale
            decoded[i] = r
        return r, decoded
