"""Model zoo: U-Net enhancement variants for packed-Bayer low-light RAW (after SID, CVPR 2018).

Every variant maps ``(N, 4, h, w)`` packed Bayer (R, G, B, G; black-subtracted, amplified,
in ``[0, 1]``) to ``(N, 3, 2h, 2w)`` linear RGB; see :class:`EnhanceNet`. Build them by name::

    model = create_model("baseline", base_features=32)
    same = create_model(model.variant, **model.config)
"""

from __future__ import annotations

from engine.models import variants as _variants  # noqa: F401 - registers the variants
from engine.models.attention import AttentionGate, AttentionUNet
from engine.models.base import EnhanceNet, pad_to_multiple
from engine.models.discriminator import UNetDiscriminator
from engine.models.registry import count_parameters, create_model, list_models, register_model
from engine.models.unet import UNet
from engine.models.uunet import UUNet

__all__ = [
    "AttentionGate",
    "AttentionUNet",
    "EnhanceNet",
    "UNet",
    "UNetDiscriminator",
    "UUNet",
    "count_parameters",
    "create_model",
    "list_models",
    "pad_to_multiple",
    "register_model",
]
