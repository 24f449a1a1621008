"""The registered enhancement variants: thin constructors around the model classes.

Import order here is registration order, which :func:`~engine.models.registry.list_models`
reports: baseline, attention, gan, uunet, deep, lite, fast.
"""

from __future__ import annotations

from typing import Any

from engine.models.attention import AttentionUNet
from engine.models.base import EnhanceNet
from engine.models.fast import FastUNet
from engine.models.registry import register_model
from engine.models.unet import UNet
from engine.models.uunet import UUNet


@register_model("baseline")
def baseline(**cfg: Any) -> EnhanceNet:
    """The SID U-Net (:class:`~engine.models.unet.UNet`), features 32-64-128-256-512."""
    return UNet(**cfg)


@register_model("attention")
def attention(**cfg: Any) -> EnhanceNet:
    """U-Net with attention gates on the skips (:class:`~engine.models.attention.AttentionUNet`)."""
    return AttentionUNet(**cfg)


@register_model("gan")
def gan(**cfg: Any) -> EnhanceNet:
    """Generator of the adversarial variant: architecturally the baseline U-Net.

    Trained against :class:`~engine.models.discriminator.UNetDiscriminator`.
    """
    return UNet(**cfg)


@register_model("uunet")
def uunet(**cfg: Any) -> EnhanceNet:
    """Two chained U-Nets (:class:`~engine.models.uunet.UUNet`)."""
    return UUNet(**cfg)


@register_model("deep")
def deep(levels: int = 5, **cfg: Any) -> EnhanceNet:
    """U-Net with one more level (32-...-1024); ``max_features=512`` caps it smaller."""
    return UNet(levels=levels, **cfg)


@register_model("lite")
def lite(base_features: int = 16, **cfg: Any) -> EnhanceNet:
    """A CPU-friendly U-Net: the baseline's shape at half the widths (16-...-256).

    About a quarter of the baseline's arithmetic, for live previews on a CPU.
    """
    return UNet(base_features=base_features, **cfg)


@register_model("fast")
def fast(**cfg: Any) -> EnhanceNet:
    """Darkroom's own noise-conditioned network (:class:`~engine.models.fast.FastUNet`):
    54 GMAC per 12 MP frame, a tenth of the baseline's, with the noise map and the classical
    demosaic as input."""
    return FastUNet(**cfg)
