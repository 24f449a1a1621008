"""U-Net discriminator for adversarial training of the ``gan`` variant.

After Schönfeld, Schiele & Khoreva, CVPR 2020, "A U-Net Based Discriminator for Generative
Adversarial Networks": the encoder judges the whole image (one real/fake logit per image) and the
decoder judges every pixel (a logit map), which gives the generator feedback on both global
structure and local texture. Not an enhancement variant, so it is not in the registry.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from engine.models.base import check_positive, feature_widths, pad_to_multiple


class UNetDiscriminator(nn.Module):
    """``(N, in_channels, H, W)`` image -> ``(global_logits (N, 1), pixel_logits (N, 1, H, W))``.

    The input is an RGB image (generated or real, linear, roughly in ``[0, 1]``) of any
    ``H, W >= 1``; it is padded to a multiple of :attr:`size_multiple` and the pixel logits are
    cropped back. Logits are unbounded (use ``BCEWithLogits`` or a hinge loss).

    Architecture (defaults): a 3x3 stem to 64 features at full resolution, then ``levels``
    4x4/stride-2 convs (64-128-256-512); the global head averages the bottleneck over the
    unpadded area and applies a linear layer; the decoder upsamples (nearest 2x + 3x3 conv),
    concatenates the encoder feature of the same resolution, applies a 3x3 conv, and a final
    1x1 conv gives the per-pixel logit. LeakyReLU everywhere, no normalisation layers (so one
    image's logits never depend on the rest of the batch); optional spectral norm on every
    conv and linear layer stabilises GAN training.

    Args:
        in_channels: image channels.
        base_features: stem width; level ``i`` has ``base_features * 2**i``.
        levels: number of stride-2 downsamplings.
        max_features: cap on any level's width (None: no cap).
        negative_slope: LeakyReLU slope.
        spectral_norm: wrap every conv/linear in spectral normalisation.
    """

    def __init__(
        self,
        in_channels: int = 3,
        base_features: int = 64,
        levels: int = 3,
        max_features: int | None = 512,
        negative_slope: float = 0.2,
        spectral_norm: bool = True,
    ) -> None:
        super().__init__()
        check_positive(
            in_channels=in_channels,
            base_features=base_features,
            levels=levels,
            max_features=max_features,
        )
        self.config: dict[str, Any] = {
            "in_channels": in_channels,
            "base_features": base_features,
            "levels": levels,
            "max_features": max_features,
            "negative_slope": float(negative_slope),
            "spectral_norm": bool(spectral_norm),
        }
        self.in_channels = in_channels
        self.levels = levels
        self.size_multiple: int = 2**levels
        widths = feature_widths(base_features, levels, max_features)

        def sn(layer: nn.Module) -> nn.Module:
            return _spectral_norm(layer) if spectral_norm else layer

        self.act = nn.LeakyReLU(negative_slope)
        self.stem = sn(nn.Conv2d(in_channels, widths[0], 3, padding=1))
        self.down = nn.ModuleList(
            sn(nn.Conv2d(widths[i], widths[i + 1], 4, stride=2, padding=1)) for i in range(levels)
        )
        self.global_head = sn(nn.Linear(widths[levels], 1))
        # Nearest upsampling + conv instead of a transposed conv: avoids checkerboard patterns
        # that the generator could learn to exploit in the per-pixel logits.
        self.up = nn.ModuleList(
            sn(nn.Conv2d(widths[i + 1], widths[i], 3, padding=1)) for i in range(levels)
        )
        self.fuse = nn.ModuleList(
            sn(nn.Conv2d(2 * widths[i], widths[i], 3, padding=1)) for i in range(levels)
        )
        self.pixel_head = sn(nn.Conv2d(widths[0], 1, 1))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(N, C, H, W)`` -> ``(global_logits (N, 1), pixel_logits (N, 1, H, W))``."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"UNetDiscriminator expects (N, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        h, w = x.shape[-2:]
        if h < 1 or w < 1:
            raise ValueError(f"UNetDiscriminator needs H, W >= 1, got {tuple(x.shape)}")
        feat = self.act(self.stem(pad_to_multiple(x, self.size_multiple)))
        skips: list[Tensor] = []
        for down in self.down:
            skips.append(feat)
            feat = self.act(down(feat))

        # Pool only the cells that cover real pixels, so padding does not dilute the verdict.
        scale = 2**self.levels
        valid = feat[..., : -(-h // scale), : -(-w // scale)]
        global_logits = self.global_head(torch.mean(valid, dim=(-2, -1)))

        for i in reversed(range(self.levels)):
            feat = self.act(self.up[i](F.interpolate(feat, scale_factor=2.0, mode="nearest")))
            feat = self.act(self.fuse[i](torch.cat([feat, skips[i]], dim=1)))
        pixel_logits = self.pixel_head(feat)[..., :h, :w]
        return global_logits, pixel_logits
