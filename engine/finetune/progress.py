"""Control and reporting of a running fine-tune: pause switch, progress reports, ETA.

Split from :mod:`engine.finetune.run` so the training loop there reads as the run it is; a GUI
holds a :class:`PauseToken` and receives :class:`FinetuneProgress`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.finetune.data import SuspectPair
from engine.jobs import CancelToken
from engine.train import TrainProgress


class PauseToken:
    """A thread-safe pause switch: a UI pauses and resumes, the training loop waits.

    The loop checks it between two training steps; while paused it sleeps, waking every
    ``poll`` seconds to notice a cancel.
    """

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait(self, cancel: CancelToken | None = None, poll: float = 0.1) -> float:
        """Block while paused (or until ``cancel`` is set); returns the seconds waited."""
        start = time.perf_counter()
        while not self._running.wait(poll):
            if cancel is not None and cancel.cancelled:
                break
        return time.perf_counter() - start


@dataclass(frozen=True)
class FinetuneProgress:
    """One report of a running fine-tune (sent between steps and at each phase change).

    Attributes:
        phase: ``"loading"``, ``"fitting noise"``, ``"validating"``, ``"training"``,
            ``"paused"``, ``"saving"`` or ``"done"``.
        iteration: steps done so far (including earlier, resumed sessions).
        iterations: steps of the whole run.
        loss: running mean L1 over the last 50 steps (``None`` before the first).
        lr: current learning rate (``None`` before the first step).
        psnr_before: validation PSNR of the base model, dB (``None`` until measured).
        psnr_now: latest validation PSNR during training, dB (``None`` until measured).
        elapsed_s: training and validation time of this session, pauses excluded.
        eta_s: estimated seconds left (``None`` until a step was timed).
        message: one line for a status bar.
        suspects: validation pairs the base model scores below plain gain on (likely wrong
            pairings), known once the base model is scored.
    """

    phase: str
    iteration: int
    iterations: int
    loss: float | None = None
    lr: float | None = None
    psnr_before: float | None = None
    psnr_now: float | None = None
    elapsed_s: float = 0.0
    eta_s: float | None = None
    message: str = ""
    suspects: tuple[SuspectPair, ...] = ()


class ProgressState:
    """Progress reporting, pausing and the ETA of one :func:`finetune` call."""

    def __init__(
        self,
        progress: Callable[[FinetuneProgress], None] | None,
        cancel: CancelToken | None,
        pause: PauseToken | None,
        iterations: int,
        started: float,
    ) -> None:
        self.progress, self.cancel, self.pause = progress, cancel, pause
        self.iterations, self.started = iterations, started
        self.phase = "loading"
        self.iteration = 0
        self.loss: float | None = None
        self.lr: float | None = None
        self.psnr_before: float | None = None
        self.psnr_now: float | None = None
        self.suspects: tuple[SuspectPair, ...] = ()
        self.paused_s = 0.0
        self._paused_unclaimed = 0.0
        self._first_step: tuple[int, float] | None = None

    def take_paused(self) -> float:
        """Seconds paused since the last call (to keep pauses out of training time)."""
        out, self._paused_unclaimed = self._paused_unclaimed, 0.0
        return out

    def _elapsed(self) -> float:
        return time.perf_counter() - self.started - self.paused_s

    def _eta(self) -> float | None:
        if self._first_step is None:
            return None
        it0, t0 = self._first_step
        steps = self.iteration - it0
        if steps <= 0:
            return None
        rate = (self._elapsed() - t0) / steps  # validations included, so the ETA allows them
        return max(0.0, rate * (self.iterations - self.iteration))

    def report(self, phase: str, message: str = "") -> None:
        self.phase = phase
        if self.progress is not None:
            self.progress(FinetuneProgress(
                phase, self.iteration, self.iterations, self.loss, self.lr, self.psnr_before,
                self.psnr_now, self._elapsed(), self._eta(), message, self.suspects,
            ))  # fmt: skip

    def on_step(self, p: TrainProgress) -> None:
        """The trainer's per-step callback: record, report, and hold here while paused."""
        if self._first_step is None:
            self._first_step = (p.iteration, self._elapsed())
        self.iteration, self.loss, self.lr = p.iteration, p.loss, p.lr
        self.report("training")
        if self.pause is not None and self.pause.paused:
            self.report("paused", f"paused at step {p.iteration}")
            waited = self.pause.wait(self.cancel)
            self.paused_s += waited
            self._paused_unclaimed += waited
            if self.cancel is None or not self.cancel.cancelled:
                self.report("training", "resumed")
