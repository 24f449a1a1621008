"""The trainer (the research's Algorithm 1), CPU or CUDA, cancellable and resumable.

Random crops with CFA-correct flips come from a pair source (synthetic or real); the loss is L1
against the clean linear target, compared after developing both with the dark frame's own white
balance and colour matrix (``loss_space="srgb"``, what the photographer sees and the evaluation
scores) or directly on linear camera RGB (``"linear"``); Adam (lr 1e-4) with
StepLR(step_size=10, gamma=0.8), where an "epoch" is ``epoch_iterations`` steps (one pass over
the training photos by default). Variants:

* ``baseline``, ``attention``, ``deep``: plain L1 training (``init_weights`` may warm-start from
  another model: every tensor whose name and shape match is copied, and the count is reported).
* ``gan``: L1 plus an adversarial term from a :class:`~engine.models.UNetDiscriminator`, whose
  global and per-pixel logits both enter a non-saturating BCE loss; the discriminator sees
  developed sRGB images.
* ``uunet``: the first U-Net is loaded from ``base_weights`` (strictly) and frozen; only the
  second U-Net and the bridges train.

Checkpoints hold everything needed to resume bit-for-bit in sequence (model, optimisers,
scheduler, step, loss history, RNG states), written atomically; they are our own files and are
read back with ``torch.load(weights_only=True)``, which cannot run code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias
from torch import nn

from engine.device import (
    hardware_description,
    precision_name,
    select_device,
    training_autocast_dtype,
)
from engine.errors import Cancelled, DarkroomError
from engine.files import atomic_file
from engine.jobs import CancelToken
from engine.models import UNetDiscriminator, create_model
from engine.render import develop_batch, highlight_gains, srgb_encode
from engine.train.synthesis import TrainingPair, crop_pair, to_rggb


class PairSource(Protocol):
    """Anything that hands out random training pairs."""

    def sample(self, rng: np.random.Generator) -> TrainingPair: ...

    def __len__(self) -> int: ...


@dataclass
class TrainConfig:
    """Every knob of a training run (stored in checkpoints and model cards)."""

    variant: str = "baseline"
    model_config: dict[str, Any] = field(default_factory=dict)
    iterations: int = 1000
    batch_size: int = 1
    lr: float = 1e-4
    step_size: int = 10
    gamma: float = 0.8
    epoch_iterations: int = 0  # 0: one epoch = len(source) // batch_size steps
    seed: int = 0
    device: str = "auto"
    checkpoint_path: str | None = None
    checkpoint_every: int = 200
    init_weights: str | None = None
    base_weights: str | None = None
    adversarial_weight: float = 0.005
    disc_lr: float = 1e-4
    disc_config: dict[str, Any] = field(default_factory=dict)
    loss_space: str = "srgb"  # "srgb": L1 on the developed image; "linear": on camera RGB
    precision: str = "auto"  # "auto": see training_autocast_dtype


@dataclass
class TrainProgress:
    """One report per step."""

    iteration: int
    iterations: int
    loss: float  # running mean L1 over the last 50 steps
    lr: float
    elapsed_s: float
    eta_s: float


@dataclass
class TrainResult:
    model: nn.Module
    iterations: int
    losses: list[float]
    elapsed_s: float
    hardware: str
    warm_started: int = 0
    precision: str = "fp32"  # what the steps ran in: "fp32", or the autocast dtype ("bf16")


def warm_start(model: nn.Module, weights: str | Path) -> int:
    """Copy every tensor of ``weights`` whose name and shape match; returns how many.

    An attention U-Net warm-started from plain U-Net weights (no ``gates.*`` among them) gets
    open gates (:meth:`~engine.models.attention.AttentionUNet.open_gates`), so it starts as
    the network it was copied from instead of one whose skips are randomly halved.
    """
    from safetensors.torch import load_file

    source = load_file(str(weights), device="cpu")
    state = model.state_dict()
    matched = {k: v.float() for k, v in source.items() if k in state and state[k].shape == v.shape}
    state.update(matched)
    model.load_state_dict(state, strict=True)
    open_gates = getattr(model, "open_gates", None)
    if callable(open_gates) and not any(k.startswith("gates.") for k in matched):
        open_gates()
    return len(matched)


#: Spaces the L1 loss can be computed in (see :class:`TrainConfig`).
LOSS_SPACES = ("srgb", "linear")


@dataclass
class Batch:
    """One training batch.

    Attributes:
        inputs: ``(B, 4, h, w)`` packed, amplified, clipped to [0, 1].
        targets: ``(B, 3, 2h, 2w)`` clean linear camera RGB in [0, 1].
        wb_gains: ``(B, 3)`` each dark frame's white balance, scaled so the smallest gain is 1.
        cam_to_srgb: ``(B, 3, 3)`` each dark frame's camera -> sRGB matrix.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    wb_gains: torch.Tensor
    cam_to_srgb: torch.Tensor

    def to(self, device: torch.device) -> Batch:
        return Batch(*(t.to(device, non_blocking=True) for t in
                       (self.inputs, self.targets, self.wb_gains, self.cam_to_srgb)))  # fmt: skip


def _batch(source: PairSource, rng: np.random.Generator, size: int) -> Batch:
    # Every layout is mirrored into RGGB geometry, as at inference
    # (engine.render.packing.pack_rggb).
    pairs = [to_rggb(source.sample(rng)) for _ in range(size)]
    # Crops of small photos can be smaller than asked; cut the batch to the common size.
    h = min(p.dark.height for p in pairs)
    w = min(p.dark.width for p in pairs)
    inputs, targets = [], []
    for p in pairs:
        if (p.dark.height, p.dark.width) != (h, w):
            p = crop_pair(p, 0, 0, h, w)
        inputs.append(torch.from_numpy(p.network_input()))
        targets.append(torch.from_numpy(np.ascontiguousarray(p.target.transpose(2, 0, 1))))
    gains = np.stack([highlight_gains(p.dark.wb_gains) for p in pairs])
    matrices = np.stack([np.asarray(p.dark.cam_to_srgb, np.float32) for p in pairs])
    return Batch(torch.stack(inputs), torch.stack(targets), torch.from_numpy(gains),
                 torch.from_numpy(matrices))  # fmt: skip


def training_loss(
    out: torch.Tensor, batch: Batch, loss_space: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L1 loss, output, target), the two images in the space the loss compares them in.

    ``srgb`` develops both with each frame's own white balance and matrix
    (:func:`engine.render.colour.develop_batch`), i.e. L1 on what the photographer sees and what the
    evaluation scores; ``linear`` compares clean linear camera RGB directly.
    """
    if loss_space == "srgb":
        shown = develop_batch(out.float(), batch.wb_gains, batch.cam_to_srgb)
        wanted = develop_batch(batch.targets, batch.wb_gains, batch.cam_to_srgb)
    elif loss_space == "linear":
        shown, wanted = out.float(), batch.targets
    else:
        raise DarkroomError(f"unknown loss space {loss_space!r} (choose from srgb, linear)")
    return F.l1_loss(shown, wanted), shown, wanted


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    state = rng.bit_generator.state
    # Plain str/int containers keep the checkpoint loadable with weights_only=True.
    inner = state["state"]
    return {
        "bit_generator": state["bit_generator"],
        "state": str(inner["state"]),
        "inc": str(inner["inc"]),
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def _set_rng_state(rng: np.random.Generator, saved: dict[str, Any]) -> None:
    rng.bit_generator.state = {
        "bit_generator": saved["bit_generator"],
        "state": {"state": int(saved["state"]), "inc": int(saved["inc"])},
        "has_uint32": saved["has_uint32"],
        "uinteger": saved["uinteger"],
    }


def build_model(config: TrainConfig) -> tuple[nn.Module, int]:
    """The model to train, warm-started / with a frozen first net as the config says."""
    model = create_model(config.variant, **config.model_config)
    warm = 0
    if config.init_weights:
        warm = warm_start(model, config.init_weights)
    if config.variant == "uunet":
        if not config.base_weights:
            raise DarkroomError("uunet training needs --base weights (a trained baseline)")
        from engine.models import load_model

        base, _ = load_model(config.base_weights)
        model.first.load_state_dict(base.state_dict(), strict=True)  # type: ignore[union-attr]
        for p in model.first.parameters():  # type: ignore[union-attr]
            p.requires_grad_(False)
    return model, warm


def _adversarial_losses(
    disc: nn.Module, fake: torch.Tensor, real: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(discriminator loss, generator adversarial loss); ``fake``/``real`` as displayed."""
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


def train(
    config: TrainConfig,
    source: PairSource,
    progress: Callable[[TrainProgress], None] | None = None,
    cancel: CancelToken | None = None,
) -> TrainResult:
    """Train (or resume training) a model; see the module docstring.

    Raises:
        Cancelled: ``cancel`` was set (a checkpoint is written first when configured).
    """
    device = select_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model, warm = build_model(config)
    model.to(device).train()
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=config.lr)
    epoch_len = config.epoch_iterations or max(1, len(source) // config.batch_size)
    # StepLR counts epochs; we step it once per epoch_len iterations.
    scheduler = torch.optim.lr_scheduler.StepLR(optimiser, config.step_size, config.gamma)
    disc: nn.Module | None = None
    disc_opt: torch.optim.Optimizer | None = None
    if config.variant == "gan":
        disc = UNetDiscriminator(**config.disc_config).to(device).train()
        disc_opt = torch.optim.Adam(disc.parameters(), lr=config.disc_lr, betas=(0.5, 0.999))
    if config.loss_space not in LOSS_SPACES:
        raise DarkroomError(f"unknown loss space {config.loss_space!r} (choose from srgb, linear)")
    amp = training_autocast_dtype(device, config.precision)

    start_iter, losses, elapsed_before = 0, [], 0.0
    ckpt = Path(config.checkpoint_path) if config.checkpoint_path else None
    if ckpt is not None and ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        if state["config"]["variant"] != config.variant:
            raise DarkroomError(f"{ckpt}: checkpoint is for {state['config']['variant']}")
        model.load_state_dict(state["model"], strict=True)
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        if disc is not None and disc_opt is not None:
            disc.load_state_dict(state["disc"], strict=True)
            disc_opt.load_state_dict(state["disc_opt"])
        start_iter, losses = int(state["iteration"]), list(state["losses"])
        elapsed_before = float(state["elapsed_s"])
        _set_rng_state(rng, state["rng"])
        torch.set_rng_state(state["torch_rng"])

    def save_checkpoint(iteration: int, elapsed: float) -> None:
        if ckpt is None:
            return
        state = {
            "config": asdict(config), "model": model.state_dict(),
            "optimiser": optimiser.state_dict(), "scheduler": scheduler.state_dict(),
            "iteration": iteration, "losses": losses, "elapsed_s": elapsed,
            "rng": _rng_state(rng), "torch_rng": torch.get_rng_state(),
        }  # fmt: skip
        if disc is not None and disc_opt is not None:
            state["disc"], state["disc_opt"] = disc.state_dict(), disc_opt.state_dict()
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(ckpt) as fh:
            torch.save(state, fh)

    started = time.perf_counter()
    iteration = start_iter
    try:
        while iteration < config.iterations:
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            batch = _batch(source, rng, config.batch_size).to(device)
            x = batch.inputs
            if device.type == "cpu":
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                out = model(x)
            # The loss develops in float32: under autocast its colour matrix (einsum) would run
            # in bf16, whose 8-bit mantissa is coarser than the residuals L1 is meant to see.
            l1, shown, wanted = training_loss(out, batch, config.loss_space)
            loss = l1
            if disc is not None and disc_opt is not None:
                if config.loss_space == "linear":
                    shown, wanted = srgb_encode(shown.clamp(0, 1)), srgb_encode(wanted)
                with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                    d_loss, g_adv = _adversarial_losses(disc, shown, wanted)
                disc_opt.zero_grad(set_to_none=True)
                d_loss.backward(inputs=list(disc.parameters()), retain_graph=True)
                disc_opt.step()
                loss = l1 + config.adversarial_weight * g_adv
            optimiser.zero_grad(set_to_none=True)
            loss.backward(inputs=params)
            optimiser.step()
            iteration += 1
            losses.append(float(l1.detach()))
            if iteration % epoch_len == 0:
                scheduler.step()
            elapsed = elapsed_before + time.perf_counter() - started
            if progress is not None:
                done_here = iteration - start_iter
                rate = (time.perf_counter() - started) / max(done_here, 1)
                progress(TrainProgress(
                    iteration, config.iterations, float(np.mean(losses[-50:])),
                    optimiser.param_groups[0]["lr"], elapsed,
                    rate * (config.iterations - iteration),
                ))  # fmt: skip
            if config.checkpoint_every and iteration % config.checkpoint_every == 0:
                save_checkpoint(iteration, elapsed)
    except Cancelled:
        save_checkpoint(iteration, elapsed_before + time.perf_counter() - started)
        raise
    elapsed = elapsed_before + time.perf_counter() - started
    save_checkpoint(iteration, elapsed)
    model.eval()
    return TrainResult(
        model=model.to("cpu").to(memory_format=torch.contiguous_format),
        iterations=iteration,
        losses=losses,
        elapsed_s=elapsed,
        hardware=hardware_description(device),
        warm_started=warm,
        precision=precision_name(amp),
    )
