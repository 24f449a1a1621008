"""U-UNet: two chained SID U-Nets, the second refining the first's RGB output.

Data flow for a padded input ``x`` ``(N, 4, H, W)``::

    rgb1, dec1 = first.run(x)                        # (N, 3, 2H, 2W), decoder features
    y = pixel_unshuffle(rgb1, 2)                     # (N, 12, H, W): back to packed resolution
    inject[i] = bridges[i](dec1[i])                  # 1x1 conv to the second net's width
    rgb2, _ = second.run(y, inject)                  # inject[i] added to encoder level i output
    out = rgb1 + rgb2 if residual else rgb2

The skips from the first net's decoder into the second net's encoder are *added after a 1x1
projection* rather than concatenated: the second net's convolutions then keep the shapes of a
plain UNet (so it could be initialised from one), and the widths of the two nets are decoupled.
"""

from __future__ import annotations

import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import Tensor, nn

from engine.models.base import UPSCALE, EnhanceNet, check_positive
from engine.models.unet import UNet


class UUNet(EnhanceNet):
    """Two chained U-Nets: ``(N, 4, h, w)`` packed Bayer in ``[0, 1]`` -> ``(N, 3, 2h, 2w)``
    linear RGB roughly in ``[0, 1]`` (not clamped).

    Args:
        in_channels, out_channels, base_features, levels, negative_slope, max_features:
            configuration of :attr:`first`, exactly as for the ``baseline`` variant.
        second_base_features: level-0 width of :attr:`second` (e.g. 16 for a light refiner).
        second_levels: poolings of :attr:`second` (None: same as ``levels``).
        second_max_features: width cap of :attr:`second` (None: no cap).
        residual: if True the second net predicts a correction added to the first's output;
            its head is then zero-initialised, so an untrained second net leaves a pretrained
            first net's output unchanged at the start of training.

    Attributes:
        first: a :class:`~engine.models.unet.UNet` whose state-dict keys match a standalone
            baseline with the same arguments (``model.first.load_state_dict(baseline_sd)``).
        second: a :class:`~engine.models.unet.UNet` with ``4 * out_channels`` input channels.
        bridges: ``bridges[i]`` projects first-decoder level ``i`` to second-encoder level
            ``i``, for the levels both nets have.
    """

    variant = "uunet"

    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 3,
        base_features: int = 32,
        levels: int = 4,
        negative_slope: float = 0.2,
        max_features: int | None = None,
        second_base_features: int = 32,
        second_levels: int | None = None,
        second_max_features: int | None = None,
        residual: bool = True,
    ) -> None:
        super().__init__()
        check_positive(
            second_base_features=second_base_features,
            second_levels=second_levels,
            second_max_features=second_max_features,
        )
        self.config = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "base_features": base_features,
            "levels": levels,
            "negative_slope": float(negative_slope),
            "max_features": max_features,
            "second_base_features": second_base_features,
            "second_levels": second_levels,
            "second_max_features": second_max_features,
            "residual": bool(residual),
        }
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.residual = bool(residual)

        self.first = UNet(
            in_channels, out_channels, base_features, levels, negative_slope, max_features
        )
        self.second = UNet(
            UPSCALE * UPSCALE * out_channels,
            out_channels,
            second_base_features,
            levels if second_levels is None else second_levels,
            negative_slope,
            second_max_features,
        )
        shared = min(self.first.levels, self.second.levels)
        self.bridges = nn.ModuleList(
            nn.Conv2d(self.first.widths[i], self.second.widths[i], 1) for i in range(shared)
        )
        if self.residual:
            nn.init.zeros_(self.second.head.weight)
            nn.init.zeros_(self.second.head.bias)

        self.size_multiple = max(self.first.size_multiple, self.second.size_multiple)
        first_radius, first_decoded = self.first.trace_radius()
        # pixel_unshuffle regroups each packed cell's 2x2 output block, so the second net's
        # input has the first net's radius.
        second_radius, _ = self.second.trace_radius(first_radius, first_decoded[:shared])
        self.receptive_radius = max(first_radius, second_radius)
        # The first net's decoder features stay alive while the second net runs.
        self.activation_bytes = self.first.activation_bytes + self.second.activation_bytes

    def forward_padded(self, x: Tensor) -> Tensor:
        """``(N, in_channels, H, W)``, ``H, W`` multiples of :attr:`size_multiple`
        -> ``(N, out_channels, 2H, 2W)``."""
        rgb1, decoded = self.first.run(x)
        inject = [bridge(decoded[i]) for i, bridge in enumerate(self.bridges)]
        rgb2, _ = self.second.run(F.pixel_unshuffle(rgb1, UPSCALE), inject)
        return rgb1 + rgb2 if self.residual else rgb2
