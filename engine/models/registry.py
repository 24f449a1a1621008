"""Model registry: enhancement variants by name, in the style of timm / BasicSR.

Each variant is a thin constructor function registered with :func:`register_model`; the
front ends and the trainer only ever call :func:`create_model` with a name and a config dict
(from a model card), and store ``model.variant`` and ``model.config`` next to the weights.

Variants (registration order), measured at default arguments; "fp16 file" is the size of the
state dict saved with ``torch.save`` after converting floating tensors to half precision:

=========  ===========  =========  ================  ==========================================
name       parameters   fp16 file  receptive radius  architecture
=========  ===========  =========  ================  ==========================================
baseline   7,760,748    15.5 MB    107               SID U-Net, 32-64-128-256-512
attention  7,891,792    15.8 MB    122               + additive attention gate on every skip
gan        7,760,748    15.5 MB    107               baseline architecture, adversarial training
uunet      15,611,320   31.3 MB    214               two chained U-Nets, decoder->encoder skips
deep       31,095,148   62.2 MB    219               one more level, 32-...-1024
lite       1,941,436    3.9 MB     107               baseline shape at half width, 16-...-256
fast       1,394,864    2.8 MB     194               Darkroom's default: noise map and demosaic
                                                     in, below packed resolution, 54 GMAC
=========  ===========  =========  ================  ==========================================

Smaller settings: ``deep`` with ``max_features=512`` has 20,608,364 parameters (41.2 MB);
``uunet`` with ``second_base_features=16`` has 9,747,096 (19.5 MB). Receptive radius is in packed
(half-resolution) pixels and depends on the levels only, not the widths. ``UNetDiscriminator``
(not registered) has 5,853,250 parameters (11.8 MB) at defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from torch import nn

from engine.errors import ModelError
from engine.models.base import EnhanceNet

_F = TypeVar("_F", bound=Callable[..., EnhanceNet])

_REGISTRY: dict[str, Callable[..., EnhanceNet]] = {}


def register_model(name: str) -> Callable[[_F], _F]:
    """Decorator registering ``fn(**cfg) -> EnhanceNet`` as variant ``name``.

    The wrapped function sets ``model.variant = name`` on what it returns, so architecturally
    identical variants (``baseline`` and ``gan``) still record which one they are. Registering a
    name twice is a programming error (``ValueError``).
    """

    def decorator(fn: _F) -> _F:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")

        @wraps(fn)
        def build(**cfg: Any) -> EnhanceNet:
            model = fn(**cfg)
            model.variant = name
            return model

        _REGISTRY[name] = build
        return build  # type: ignore[return-value]

    return decorator


def list_models() -> list[str]:
    """Registered variant names, in registration order."""
    return list(_REGISTRY)


def create_model(name: str, **cfg: Any) -> EnhanceNet:
    """Build variant ``name`` with constructor kwargs ``cfg`` (missing ones take defaults).

    ``create_model(model.variant, **model.config)`` rebuilds an identical architecture. The
    result is an :class:`~engine.models.base.EnhanceNet`: its ``size_multiple``,
    ``receptive_radius``, ``activation_bytes`` and ``supported_dtypes`` tell a runner how to
    tile it, and ``variant`` which training strategy trains it.

    Raises:
        ModelError: ``name`` is unknown, or ``cfg`` has an unknown key or an invalid value
            (one-line message; a model card naming them is what the user can fix).
    """
    try:
        build = _REGISTRY[name]
    except KeyError:
        known = ", ".join(_REGISTRY) or "none"
        raise ModelError(f"unknown model {name!r}; known models: {known}") from None
    try:
        return build(**cfg)
    except (TypeError, ValueError) as err:
        raise ModelError(f"invalid config for model {name!r}: {err}") from err


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (only those with ``requires_grad`` if asked)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
