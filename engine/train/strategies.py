"""How each variant trains, registered by variant name (like the model registry).

The trainer's loop is the same for every variant (batch, forward, L1, backward, step); a
:class:`TrainingStrategy` adds what one variant needs around it:

* :class:`PlainStrategy` (``baseline``, ``attention``, ``deep``, ``lite``, and any variant not
  registered here): L1 on every parameter.
* :class:`AdversarialStrategy` (``gan``): L1 plus a non-saturating BCE term from a
  :class:`~engine.models.UNetDiscriminator` that sees developed sRGB images and is stepped
  once per generator step; its state rides in the checkpoint.
* :class:`FrozenFirstNetStrategy` (``uunet``): the first U-Net comes from ``base_weights`` (a
  trained baseline, strictly) or from ``init_weights`` covering it, and is frozen; only the
  second U-Net and the bridges train.

A fine-tune uses the strategy its variant names in :attr:`TrainingStrategy.finetune_strategy`
(the GAN fine-tunes with L1 only: a fresh discriminator needs far more steps than a fine-tune
has).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias
from torch import nn

from engine.distributed import current
from engine.errors import DarkroomError
from engine.models import EnhanceNet, UNetDiscriminator, load_model, read_tensors

if TYPE_CHECKING:
    from engine.train.trainer import TrainConfig

_STRATEGIES: dict[str, type[TrainingStrategy]] = {}


def register_strategy(*variants: str) -> Callable[[type[TrainingStrategy]], type[TrainingStrategy]]:
    """Class decorator: the strategy that trains ``variants``."""

    def decorator(cls: type[TrainingStrategy]) -> type[TrainingStrategy]:
        for variant in variants:
            if variant in _STRATEGIES:
                raise ValueError(f"a training strategy for {variant!r} is already registered")
            _STRATEGIES[variant] = cls
        return cls

    return decorator


def strategy_class(variant: str) -> type[TrainingStrategy]:
    """The strategy class registered for ``variant`` (plain L1 if none is)."""
    return _STRATEGIES.get(variant, PlainStrategy)


def strategy_for(config: TrainConfig) -> TrainingStrategy:
    """A fresh strategy for one run: ``config.strategy`` if set, else the variant's."""
    name = config.strategy or config.variant
    cls = STRATEGY_NAMES.get(name) or strategy_class(name)
    return cls(config)


class TrainingStrategy:
    """Plain L1 training; subclasses override the hooks they need.

    One instance serves one run; it may hold state (a discriminator) that
    :meth:`state_dict` / :meth:`load_state_dict` carry through checkpoints.
    """

    #: Name a :class:`~engine.train.TrainConfig` may give as ``strategy``.
    name: ClassVar[str] = "plain"
    #: The strategy a fine-tune of this variant uses, and the note its card gets about it.
    finetune_strategy: ClassVar[str] = "plain"
    finetune_note: ClassVar[str] = ""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config

    def prepare(self, model: EnhanceNet) -> None:
        """Adjust the built (and warm-started) model before its optimiser is made."""

    def setup(self, device: torch.device) -> None:
        """Build the strategy's own state on ``device``, after the model and its optimiser
        (so a seed gives the same initial weights whatever the strategy)."""

    def loss(
        self, l1: torch.Tensor, shown: torch.Tensor, wanted: torch.Tensor, amp: torch.dtype | None
    ) -> torch.Tensor:
        """The generator's total loss from its L1 and the developed output/target images."""
        return l1

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint entries of the strategy's own (none for plain training)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` wrote (``state`` is the whole checkpoint)."""

    def card_notes(self) -> list[str]:
        """Lines for the model card's notes about how this strategy trained."""
        return []


@register_strategy("baseline", "attention", "deep", "lite")
class PlainStrategy(TrainingStrategy):
    """L1 on every parameter."""


@register_strategy("gan")
class AdversarialStrategy(TrainingStrategy):
    """L1 plus ``adversarial_weight`` x a non-saturating BCE term from a U-Net discriminator
    whose global and per-pixel logits both enter the loss."""

    name = "adversarial"
    finetune_note = (
        "gan model fine-tuned with L1 only (a fresh discriminator needs far more steps than a "
        "fine-tune has)"
    )

    disc: UNetDiscriminator
    disc_opt: torch.optim.Optimizer

    def setup(self, device: torch.device) -> None:
        self.disc = UNetDiscriminator(**self.config.disc_config).to(device).train()
        self.disc_opt = torch.optim.Adam(self.disc.parameters(), lr=self.config.disc_lr,
                                         betas=(0.5, 0.999))  # fmt: skip
        self._device_type = device.type

    def loss(
        self, l1: torch.Tensor, shown: torch.Tensor, wanted: torch.Tensor, amp: torch.dtype | None
    ) -> torch.Tensor:
        if self.config.loss_space == "linear":
            from engine.render import srgb_encode

            shown, wanted = srgb_encode(shown.clamp(0, 1)), srgb_encode(wanted)
        with torch.autocast(self._device_type, dtype=amp, enabled=amp is not None):
            d_loss, g_adv = adversarial_losses(self.disc, shown, wanted)
        self.disc_opt.zero_grad(set_to_none=True)
        d_loss.backward(inputs=list(self.disc.parameters()), retain_graph=True)
        average_gradients(self.disc)
        self.disc_opt.step()
        return l1 + self.config.adversarial_weight * g_adv

    def state_dict(self) -> dict[str, Any]:
        return {"disc": self.disc.state_dict(), "disc_opt": self.disc_opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.disc.load_state_dict(state["disc"], strict=True)
        self.disc_opt.load_state_dict(state["disc_opt"])

    def card_notes(self) -> list[str]:
        import json

        return [f"discriminator {json.dumps(self.config.disc_config)}"]


@register_strategy("uunet")
class FrozenFirstNetStrategy(TrainingStrategy):
    """The first U-Net of a U-UNet stays as given; only the second net and bridges train."""

    name = "frozen-first-net"
    finetune_strategy = "frozen-first-net"
    finetune_note = "uunet: first U-Net kept frozen, as in its training"

    def prepare(self, model: EnhanceNet) -> None:
        first = getattr(model, "first", None)
        if not isinstance(first, nn.Module):
            raise DarkroomError(f"{self.config.variant} has no first net to freeze")
        if self.config.base_weights:
            base, _ = load_model(self.config.base_weights)
            first.load_state_dict(base.state_dict(), strict=True)
        elif not _covers(self.config.init_weights, "first.", model):
            raise DarkroomError("uunet training needs --base weights (a trained baseline)")
        for p in first.parameters():
            p.requires_grad_(False)

    def card_notes(self) -> list[str]:
        if self.config.base_weights:
            return [f"first U-Net frozen from {Path(self.config.base_weights).name}"]
        return ["first U-Net frozen as warm-started"]


#: Strategies by their own names, for :attr:`TrainConfig.strategy`.
STRATEGY_NAMES: dict[str, type[TrainingStrategy]] = {
    cls.name: cls for cls in (PlainStrategy, AdversarialStrategy, FrozenFirstNetStrategy)
}


def _covers(weights: str | None, prefix: str, model: nn.Module) -> bool:
    """Whether the safetensors file ``weights`` holds every ``prefix`` tensor of ``model``."""
    if not weights:
        return False
    keys = set(read_tensors(weights))
    wanted = {k for k in model.state_dict() if k.startswith(prefix)}
    return bool(wanted) and wanted <= keys


def average_gradients(module: nn.Module) -> None:
    """Average ``module``'s gradients over the torchrun ranks (nothing in a single process).

    The discriminator runs three times a step (fakes, reals, fakes for the generator), which
    DDP's once-per-backward hooks do not allow; its gradients are averaged here instead, in
    one flat all-reduce.
    """
    group = current()
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not group.active or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    torch.distributed.all_reduce(flat)
    flat /= group.world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def adversarial_losses(
    disc: nn.Module, fake: torch.Tensor, real: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(discriminator loss, generator adversarial loss); ``fake``/``real`` as displayed.

    Both are sums of BCE on the discriminator's global and per-pixel logits; the generator's
    term is non-saturating (its fakes labelled real).
    """
    g_fake, p_fake = disc(fake.detach())
    g_real, p_real = disc(real)
    bce = F.binary_cross_entropy_with_logits
    d_loss = (
        bce(g_real, torch.ones_like(g_real)) + bce(g_fake, torch.zeros_like(g_fake))
        + bce(p_real, torch.ones_like(p_real)) + bce(p_fake, torch.zeros_like(p_fake))
    )  # fmt: skip
    g_adv_global, g_adv_pixel = disc(fake)
    g_loss = bce(g_adv_global, torch.ones_like(g_adv_global)) + bce(
        g_adv_pixel, torch.ones_like(g_adv_pixel)
    )
    return d_loss, g_loss
