"""The training part of a fine-tune: chunks between validations, early stop, the best weights.

Split from :mod:`engine.finetune.run` along the seam between getting a fine-tune ready (pairs,
noise fit, noise level, the base model's score) and training it. :class:`TrainingLoop` is
mixed into that module's run, whose attributes it declares below.

Training runs in chunks of ``validate_every`` steps; each chunk resumes the trainer's own
checkpoint, so the run is identical to one uninterrupted training. After each chunk the main
rank validates (the score is broadcast, so every rank stops at the same step), keeps the best
weights so far, and the run stops after ``patience`` validations without a better score.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import torch

from engine.distributed import Distributed
from engine.errors import Cancelled, DarkroomError
from engine.finetune.data import FinetuneData
from engine.finetune.progress import ProgressState
from engine.finetune.request import FinetuneRequest, FinetuneSettings
from engine.finetune.run_state import BEST_NAME, RunState, disk_error
from engine.jobs import CancelToken
from engine.models import EnhanceNet, ModelCard, read_tensors, save_tensors
from engine.train import CheckpointError, TrainConfig, TrainResult, train

T = TypeVar("T")


class TrainingLoop:
    """Train, validate, stop early and keep the best weights, for a fine-tune run."""

    request: FinetuneRequest
    settings: FinetuneSettings
    progress: ProgressState
    cancel: CancelToken | None
    group: Distributed
    device: torch.device
    run: RunState
    data: FinetuneData
    base_path: Path
    base_card: ModelCard
    work: Path
    ckpt: Path
    run_file: Path
    notes: list[str]

    def _write_state(self) -> None:
        """Write the run state (the main rank alone)."""
        if not self.group.is_main:
            return
        try:
            self.run.write(self.run_file)
        except OSError as exc:
            raise disk_error(f"could not write to {self.work}", exc) from None

    def train(self) -> TrainResult:
        """Train in chunks between validations; each chunk resumes the trainer's checkpoint."""
        run, s = self.run, self.settings
        every = s.validation_interval
        config = TrainConfig(
            variant=run.variant, strategy=run.strategy, model_config=dict(run.model_config),
            iterations=s.iterations, batch_size=run.batch_size, lr=run.lr,
            step_size=run.step_size, gamma=run.gamma, epoch_iterations=run.epoch_iterations,
            seed=run.seed, device=self.request.device, checkpoint_path=str(self.ckpt),
            checkpoint_every=min(every, 200), init_weights=str(self.base_path),
            # Fine-tuning was measured (+1.07 dB on an invented camera) with L1 on linear
            # camera RGB; the sRGB-space loss the bundled models train with is not measured here.
            loss_space="linear",
        )  # fmt: skip
        targets = [t for t in range(every, s.iterations, every) if t > run.done] + [s.iterations]
        result: TrainResult | None = None
        for target in targets:
            if self._stalled():
                break
            result = self._train_chunk(replace(config, iterations=target))
            if run.history[-1][0] == result.iterations:
                continue  # already trained and scored (an earlier session failed while saving)
            self.progress.report("validating", f"validating at step {result.iterations}")
            self.progress.psnr_now = self._on_main(
                lambda m=result.model: self.data.validation.score(m, self.device)
            )
            run.done = result.iterations
            if self.progress.psnr_now > max(p for _, p in run.history):
                self._save_best(result.model)
            run.history.append((result.iterations, self.progress.psnr_now))
            self._write_state()
            self.progress.report("validating", f"validation PSNR {self.progress.psnr_now:.2f} dB")
        if result is None:  # stopped early before this session trained anything
            result = self._train_chunk(replace(config, iterations=run.done))
        if result.parallel:
            self.notes.append(result.parallel)
        return self._keep_best(result) if self.group.is_main else result

    def _on_main(self, measure: Callable[[], T]) -> T:
        """``measure()`` on the main rank, its value on every rank: decisions taken on a score
        (best so far, early stop) must not differ between ranks by a rounding."""
        return self.group.broadcast(measure() if self.group.is_main else None)

    def _best(self) -> tuple[int, float]:
        """``(step, PSNR)`` of the best validation so far (step 0: the base model)."""
        return max(self.run.history, key=lambda h: (h[1], -h[0]))

    def _stalled(self) -> bool:
        """The last ``patience`` validations did not beat the best before them."""
        patience, history = self.settings.patience, self.run.history
        if not patience or len(history) <= patience:
            return False
        return self._best()[0] < history[-patience][0]

    def _save_best(self, model: EnhanceNet) -> None:
        if not self.group.is_main:
            return
        try:
            save_tensors(model, self.work / BEST_NAME)
        except OSError as exc:
            raise disk_error(f"could not write to {self.work}", exc) from None

    def _keep_best(self, result: TrainResult) -> TrainResult:
        """``result`` with the best-scoring weights, and a note when they are not the last."""
        step, psnr = self._best()
        last_step, last_psnr = self.run.history[-1]
        if step == last_step:
            return result
        source = self.work / BEST_NAME if step else Path(self.base_path)
        result.model.load_state_dict({k: v.float() for k, v in read_tensors(source).items()})
        stopped = (
            f"stopped early at step {last_step} of {self.settings.iterations}"
            if last_step < self.settings.iterations
            else f"trained {last_step} steps"
        )
        kept = f"step {step}" if step else f"the base model ({self.base_card.name})"
        self.notes.append(f"{stopped}; the last validation scored {last_psnr:.2f} dB, so "
                          f"{kept} is kept ({psnr:.2f} dB)")  # fmt: skip
        return replace(result, iterations=step)

    def _train_chunk(self, config: TrainConfig) -> TrainResult:
        run, progress = self.run, self.progress
        chunk_start = time.perf_counter()
        progress.phase = "training"
        try:
            result = train(config, self.data.source, progress.on_step, self.cancel)
        except Cancelled:
            run.train_seconds += time.perf_counter() - chunk_start - progress.take_paused()
            run.stopped_at = progress.iteration
            try:
                if self.group.is_main:
                    run.write(self.run_file)
            except OSError:
                pass  # only bookkeeping of time spent; the checkpoint is what resumes
            raise
        except OSError as exc:
            raise disk_error(f"could not write the checkpoint {self.ckpt}", exc) from None
        except CheckpointError as exc:
            raise DarkroomError(
                f"{exc}; start over: run again with --restart (in the window: Discard)"
            ) from None
        run.train_seconds += time.perf_counter() - chunk_start - progress.take_paused()
        return result
