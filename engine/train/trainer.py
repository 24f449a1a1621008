"""The trainer (the research's Algorithm 1), CPU or CUDA, cancellable and resumable.

Random crops with CFA-correct flips come from a pair source (synthetic or real); the loss is L1
against the clean linear target (:func:`~engine.train.batches.training_loss`: on the developed
sRGB image by default, or on linear camera RGB); Adam (lr 1e-4) with StepLR(step_size=10,
gamma=0.8), where an "epoch" is ``epoch_iterations`` steps (one pass over the training photos
by default). What differs per variant (a discriminator, a frozen first net) is the variant's
registered :mod:`~engine.train.strategies` strategy; ``init_weights`` may warm-start any
variant from another model (every tensor whose name and shape match is copied, and the count
is reported).

Checkpoints (:mod:`~engine.train.checkpoint`) hold everything needed to resume bit-for-bit in
sequence.

Under ``torchrun`` (:mod:`engine.distributed`) the same loop runs on every rank with the model
in :class:`~torch.nn.parallel.DistributedDataParallel`: ``batch_size`` stays the *global* batch
(so the learning rate, the epochs and a run's recipe do not depend on the number of processes),
each rank makes its share of it, gradients are averaged across ranks, and only rank 0 writes
checkpoints. Each crop then draws from its own generator seeded by ``(seed, iteration, index in
the global batch)`` (``per_sample_seeds``), so N ranks draw the crops one process with the same
global batch draws (cut to a common size per rank rather than per batch when a photo is smaller
than the crop), and a resumed run draws the crops it would have drawn. A run started under
torchrun keeps per-crop seeds when resumed in one process. Every rank restores the same step or
the run stops, and a cancel on any rank stops all of them at the same step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.device import (
    hardware_description,
    precision_name,
    select_device,
    training_autocast_dtype,
)
from engine.distributed import Distributed, current
from engine.errors import Cancelled, DarkroomError
from engine.jobs import CancelToken
from engine.models import EnhanceNet, create_model, read_tensors
from engine.train.batches import (
    LOSS_SPACES,
    LOSS_WEIGHTINGS,
    PairSource,
    check_choice,
    make_batch,
    training_loss,
    weighted_objective,
)
from engine.train.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from engine.train.strategies import TrainingStrategy, strategy_for


@dataclass
class TrainConfig:
    """Every knob of a training run (stored in checkpoints and model cards).

    ``strategy`` overrides the variant's registered training strategy by its name
    (``"plain"``, ``"adversarial"``, ``"frozen-first-net"``); empty: the variant's own.
    """

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
    loss_weighting: str = "mean"  # "log": each crop's relative error counts alike (batches.py)
    precision: str = "auto"  # "auto": see engine.device.training_autocast_dtype
    strategy: str = ""
    # A generator per crop, seeded by (seed, iteration, index in the global batch), instead of
    # one stream for the run: how ranks share a batch (always on under torchrun).
    per_sample_seeds: bool = False


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
    model: EnhanceNet
    iterations: int
    losses: list[float]
    elapsed_s: float
    hardware: str
    warm_started: int = 0
    precision: str = "fp32"  # what the steps ran in: "fp32", or the autocast dtype ("bf16")
    notes: list[str] = field(default_factory=list)  # the strategy's lines for the model card
    parallel: str = ""  # how torchrun shared the run out, for the card ("" in one process)


def warm_start(model: nn.Module, weights: str | Path) -> int:
    """Copy every tensor of ``weights`` whose name and shape match; returns how many of the
    file's tensors were copied.

    The model first adapts the weights (:meth:`~engine.models.EnhanceNet.warm_start_state`: an
    X-Trans ``fast`` from Bayer ``fast`` weights, an attention U-Net with open gates from
    plain U-Net weights), and what it adds is copied too.
    """
    in_file = read_tensors(weights)  # refuses pickles; a bad file is one line
    source = model.warm_start_state(in_file) if isinstance(model, EnhanceNet) else in_file
    state = model.state_dict()
    matched = {k: v.float() for k, v in source.items() if k in state and state[k].shape == v.shape}
    state.update(matched)
    model.load_state_dict(state, strict=True)
    return len(matched.keys() & in_file.keys())


def build_model(config: TrainConfig, strategy: TrainingStrategy) -> tuple[EnhanceNet, int]:
    """The model to train: built, warm-started, then prepared by its strategy."""
    model = create_model(config.variant, **config.model_config)
    warm = warm_start(model, config.init_weights) if config.init_weights else 0
    strategy.prepare(model)
    return model, warm


class _Run:
    """One :func:`train` call: the model, its optimiser and schedule, the strategy, the RNGs."""

    def __init__(self, config: TrainConfig, source: PairSource) -> None:
        # Before any work, not at the first step.
        check_choice("loss space", config.loss_space, LOSS_SPACES)
        check_choice("loss weighting", config.loss_weighting, LOSS_WEIGHTINGS)
        self.dist = group = current()
        if group.active:
            if config.batch_size % group.world_size:
                raise DarkroomError(f"--batch {config.batch_size} must be a multiple of the "
                                    f"{group.world_size} processes")  # fmt: skip
            config = replace(config, per_sample_seeds=True)
        self.config, self.source = config, source
        self.device = select_device(config.device)
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.strategy = strategy_for(config)
        model, self.warm = build_model(config, self.strategy)
        model.to(self.device).train()
        if self.device.type == "cpu":
            model = model.to(memory_format=torch.channels_last)
        self.model: EnhanceNet = model
        self.forward = _data_parallel(model, self.device, group)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimiser = torch.optim.Adam(self.params, lr=config.lr)
        self.epoch_len = config.epoch_iterations or max(1, len(source) // config.batch_size)
        # StepLR counts epochs; it is stepped once per epoch_len iterations.
        self.scheduler = torch.optim.lr_scheduler.StepLR(
            self.optimiser, config.step_size, config.gamma
        )
        self.strategy.setup(self.device)
        self.amp = training_autocast_dtype(self.device, config.precision)
        self.ckpt = Path(config.checkpoint_path) if config.checkpoint_path else None
        self.iteration, self.losses, self.elapsed_before = 0, [], 0.0

    def restore(self) -> None:
        """Continue from the checkpoint, if there is one."""
        if self.ckpt is None or not self.ckpt.is_file():
            return
        state = load_checkpoint(self.ckpt)
        if state["config"].get("variant") != self.config.variant:
            raise DarkroomError(f"{self.ckpt}: checkpoint is for {state['config'].get('variant')}")
        self.model.load_state_dict(state["model"], strict=True)
        self.optimiser.load_state_dict(state["optimiser"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.strategy.load_state_dict(state)
        self.iteration, self.losses = int(state["iteration"]), list(state["losses"])
        self.elapsed_before = float(state["elapsed_s"])
        set_rng_state(self.rng, state["rng"])
        torch.set_rng_state(state["torch_rng"])
        if state["config"].get("per_sample_seeds"):  # a torchrun run resumed in one process
            self.config = replace(self.config, per_sample_seeds=True)

    def check_same_start(self) -> None:
        """Under torchrun: refuse to go on unless every rank restored the same step. Ranks
        read the checkpoint each from its own view of a shared disk, and one that started
        elsewhere would wait for the others in an all-reduce for ever."""
        if self.dist.any_rank(self.dist.broadcast(self.iteration) != self.iteration):
            raise DarkroomError(f"{self.ckpt}: the torchrun processes read different "
                                "checkpoints (is the disk shared and in sync?)")  # fmt: skip

    def save(self, elapsed: float) -> None:
        if self.ckpt is None or not self.dist.is_main:
            return
        save_checkpoint(self.ckpt, {
            "config": asdict(self.config), "model": self.model.state_dict(),
            "optimiser": self.optimiser.state_dict(), "scheduler": self.scheduler.state_dict(),
            "iteration": self.iteration, "losses": self.losses, "elapsed_s": elapsed,
            "rng": rng_state(self.rng), "torch_rng": torch.get_rng_state(),
            **self.strategy.state_dict(),
        })  # fmt: skip

    def step(self) -> None:
        """One optimisation step on a fresh random batch."""
        model = self.model
        batch = make_batch(self.source, self._rngs(), self._local_batch_size(),
                           model.noise_input, model.demosaic_input,
                           model.demosaic_below_black).to(self.device)  # fmt: skip
        x = batch.inputs
        if self.device.type == "cpu" and model.channels_last_input:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
            out = self.forward(x)
        # The loss develops in float32: under autocast its colour matrix (einsum) would run in
        # bf16, whose 8-bit mantissa is coarser than the residuals L1 is meant to see.
        l1, shown, wanted = training_loss(out, batch, self.config.loss_space)
        if self.config.loss_weighting != "mean":
            l1_objective = weighted_objective(shown, wanted, self.config.loss_weighting)
        else:
            l1_objective = l1
        loss = self.strategy.loss(l1_objective, shown, wanted, self.amp)
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward(inputs=self.params)
        self.optimiser.step()
        self.iteration += 1
        self.losses.append(self._global_mean(l1.detach()))
        if self.iteration % self.epoch_len == 0:
            self.scheduler.step()

    def _local_batch_size(self) -> int:
        return self.config.batch_size // self.dist.world_size

    def _rngs(self) -> np.random.Generator | list[np.random.Generator]:
        """The run's stream, or (``per_sample_seeds``) one generator per crop of this rank's
        share of the global batch."""
        if not self.config.per_sample_seeds:
            return self.rng
        first = self.dist.rank * self._local_batch_size()
        return [np.random.default_rng([self.config.seed, self.iteration, first + i])
                for i in range(self._local_batch_size())]  # fmt: skip

    def _global_mean(self, value: torch.Tensor) -> float:
        """``value`` averaged over the ranks (the global batch's loss, for the log)."""
        if self.dist.active:
            value = value.float().clone()
            torch.distributed.all_reduce(value)
            value /= self.dist.world_size
        return float(value)

    def result(self, elapsed: float) -> TrainResult:
        self.model.eval()
        model = self.model.to("cpu").to(memory_format=torch.contiguous_format)
        return TrainResult(
            model=model,  # type: ignore[arg-type]
            iterations=self.iteration,
            losses=self.losses,
            elapsed_s=elapsed,
            hardware=hardware_description(self.device),
            warm_started=self.warm,
            precision=precision_name(self.amp),
            notes=self.strategy.card_notes(),
            parallel=data_parallel_note(self.dist, self.config.batch_size),
        )


def data_parallel_note(group: Distributed, batch_size: int) -> str:
    """The model card's line on a torchrun run (``""`` for a single process)."""
    if not group.active:
        return ""
    return (f"data parallel: {group.world_size} torchrun processes ({group.backend}, DDP), "
            f"global batch {batch_size}, a seed per crop")  # fmt: skip


def _data_parallel(model: nn.Module, device: torch.device, group: Distributed) -> nn.Module:
    """``model`` itself in a single process; wrapped in DDP (gradients averaged over the ranks
    during backward) under torchrun."""
    if not group.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index if device.index is not None else group.local_rank]
    return DistributedDataParallel(model, device_ids=device_ids if device.type == "cuda" else None)


def train(
    config: TrainConfig,
    source: PairSource,
    progress: Callable[[TrainProgress], None] | None = None,
    cancel: CancelToken | None = None,
) -> TrainResult:
    """Train (or resume training) a model; see the module docstring.

    Raises:
        Cancelled: ``cancel`` was set (a checkpoint is written first when configured).
        DarkroomError: bad settings, or a checkpoint of another variant or unreadable.
    """
    run = _Run(config, source)
    run.restore()
    run.check_same_start()
    start_iter, started = run.iteration, time.perf_counter()

    def elapsed() -> float:
        return run.elapsed_before + time.perf_counter() - started

    try:
        while run.iteration < config.iterations:
            # Every rank stops at the same step, or one would wait in an all-reduce for ever.
            if run.dist.any_rank(cancel is not None and cancel.cancelled):
                raise Cancelled()
            run.step()
            if progress is not None:
                rate = (time.perf_counter() - started) / max(run.iteration - start_iter, 1)
                progress(TrainProgress(
                    run.iteration, config.iterations, float(np.mean(run.losses[-50:])),
                    run.optimiser.param_groups[0]["lr"], elapsed(),
                    rate * (config.iterations - run.iteration),
                ))  # fmt: skip
            if config.checkpoint_every and run.iteration % config.checkpoint_every == 0:
                run.save(elapsed())
    except Cancelled:
        run.save(elapsed())
        raise
    run.save(elapsed())
    return run.result(elapsed())
