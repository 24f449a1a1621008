"""Attention U-Net: the SID U-Net with additive attention gates on every skip connection.

After Oktay et al. 2018, "Attention U-Net: Learning Where to Look for the Pancreas". Each skip
``x`` (encoder level ``i``) is multiplied by a per-pixel coefficient ``alpha in (0, 1)``
computed from ``x`` and the gating signal ``g``, the decoder features one level coarser::

    alpha = sigmoid(psi(relu(W_x(x) + resize(W_g(g)))))

so the decoder can suppress skip content (e.g. amplified noise in flat regions) that the coarse
context says is irrelevant.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import Tensor, nn

from engine.models.base import check_positive
from engine.models.unet import UNet


class AttentionGate(nn.Module):
    """Additive attention gate: ``(skip, gate) -> skip * alpha``.

    Args:
        skip_channels: channels of the skip ``x``, ``(N, skip_channels, H, W)``.
        gate_channels: channels of the gating signal ``g``, ``(N, gate_channels, H', W')``
            (any ``H', W'``; the U-Net passes ``H / 2, W / 2``).
        inter_channels: channels of the intermediate ``W_x(x) + W_g(g)``.

    ``forward`` returns ``(N, skip_channels, H, W)``: the skip scaled by ``alpha``
    ``(N, 1, H, W)``, values in ``(0, 1)``.
    """

    def __init__(self, skip_channels: int, gate_channels: int, inter_channels: int) -> None:
        super().__init__()
        # One bias suffices for the sum W_x(x) + W_g(g), as in the paper.
        self.w_x = nn.Conv2d(skip_channels, inter_channels, 1, bias=False)
        self.w_g = nn.Conv2d(gate_channels, inter_channels, 1)
        self.psi = nn.Conv2d(inter_channels, 1, 1)

    def forward(self, skip: Tensor, gate: Tensor) -> Tensor:
        # Project before resampling: a 1x1 conv commutes with bilinear interpolation (whose
        # weights sum to 1), and it is cheaper on the coarse grid with fewer channels.
        g = self.w_g(gate)
        if g.shape[-2:] != skip.shape[-2:]:
            g = F.interpolate(g, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        alpha = torch.sigmoid(self.psi(F.relu(self.w_x(skip) + g)))
        return skip * alpha


class AttentionUNet(UNet):
    """SID U-Net with an :class:`AttentionGate` on each skip; same tensor contract as
    :class:`~engine.models.unet.UNet`: ``(N, 4, h, w)`` in ``[0, 1]`` -> ``(N, 3, 2h, 2w)``.

    Args:
        in_channels, out_channels, base_features, levels, negative_slope, max_features: as
            :class:`~engine.models.unet.UNet`.
        gate_reduction: each gate's ``inter_channels`` is the skip width divided by this
            (at least 1); Oktay et al. use 2.

    The gates live in ``gates.{i}.*``; every other state-dict key matches a plain UNet with the
    same arguments.
    """

    variant = "attention"

    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 3,
        base_features: int = 32,
        levels: int = 4,
        negative_slope: float = 0.2,
        max_features: int | None = None,
        gate_reduction: int = 2,
    ) -> None:
        check_positive(gate_reduction=gate_reduction)
        # The gate radius hook reads nothing from self, so computing receptive_radius inside
        # UNet.__init__ before the gates exist is fine.
        super().__init__(
            in_channels, out_channels, base_features, levels, negative_slope, max_features
        )
        self.config["gate_reduction"] = gate_reduction
        self.gates = nn.ModuleList(
            AttentionGate(
                self.widths[i], self.widths[i + 1], max(1, self.widths[i] // gate_reduction)
            )
            for i in range(levels)
        )

    def open_gate_state(self, alpha: float = 0.98) -> dict[str, Tensor]:
        """The gates' ``psi`` weights that pass every skip scaled by the constant ``alpha``.

        For a warm start from plain U-Net weights: freshly initialised gates scale skips by
        about 0.5 with random per-pixel variation, which breaks the decoder the baseline
        trained; open gates start the network as (almost) that baseline. ``psi``'s weights are
        zero and its bias ``logit(alpha)``; the first step's gradient reaches ``psi``'s
        weights (from the ReLU features), and through them ``W_x`` and ``W_g``.
        """
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), not {alpha}")
        logit = math.log(alpha / (1.0 - alpha))
        state: dict[str, Tensor] = {}
        for i, gate in enumerate(self.gates):
            state[f"gates.{i}.psi.weight"] = torch.zeros_like(gate.psi.weight)
            state[f"gates.{i}.psi.bias"] = torch.full_like(gate.psi.bias, logit)
        return state

    def warm_start_state(self, source: dict[str, Tensor]) -> dict[str, Tensor]:
        """Plain U-Net weights (no ``gates.*`` among them) come with open gates
        (:meth:`open_gate_state`), so the network starts as the one they were copied from
        instead of one whose skips are randomly halved."""
        if any(k.startswith("gates.") for k in source):
            return source
        return source | self.open_gate_state()

    def gate_skip(self, level: int, skip: Tensor, coarse: Tensor) -> Tensor:
        return self.gates[level](skip, coarse)

    def gate_radius(self, skip_radius: int, coarse_radius: int, scale: int) -> int:
        # Bilinear 2x upsampling (align_corners=False) reads the coarse cells on both sides of
        # a fine cell, reaching 2 fine-level cells beyond it: +2 * scale.
        return max(skip_radius, coarse_radius + 2 * scale)
