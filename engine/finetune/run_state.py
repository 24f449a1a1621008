"""An interrupted fine-tune's state: a versioned ``run.json`` beside its checkpoint.

A fine-tune of model ``NAME`` keeps ``finetune.ckpt`` (the trainer's checkpoint) and
``run.json`` (:class:`RunState`: what it was asked to do, how far it got, what it measured) in
the library's ``.work/NAME/`` folder until the model is saved. :func:`find_interrupted_run` and
:func:`list_interrupted_runs` are how a front end learns of such runs (the window offers to
resume them); nothing outside this module reads ``run.json``.

Format versions: 1 (no ``version`` key; no ``strategy``) is migrated on reading; a newer
version than this code knows is refused with a one-line message.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from engine.errors import DarkroomError
from engine.files import atomic_write_json
from engine.finetune.pair_checks import CheckedPair
from engine.finetune.request import FinetuneRequest, pair_files_of, pairs_sensor, resolve_base
from engine.models import WORK_FOLDER, library_dir, work_dir
from engine.train import PairFiles, strategy_class

RUN_STATE_VERSION = 2
CHECKPOINT_NAME = "finetune.ckpt"
RUN_NAME = "run.json"
#: The best-scoring weights so far, kept beside the checkpoint (early stopping saves these).
BEST_NAME = "best.safetensors"
#: Settings that must match for an interrupted run to be resumed.
RESUME_KEYS = ("base", "pairs", "model_config", "batch_size", "seed", "validation_pairs",
               "noise_level")  # fmt: skip


@dataclass
class RunState:
    """What a fine-tune run was asked and has done so far.

    Attributes:
        base: the base model's weights file (resolved path).
        pairs: ``(short, long)`` resolved paths, in the order the run uses them.
        variant: the architecture the trainer builds; strategy: how it trains.
        model_config: the architecture's config.
        batch_size, seed, lr, step_size, gamma, epoch_iterations, patch, validation_pairs:
            the settings the run started with (a resumed run keeps them).
        done: steps trained and validated; stopped_at: the step a cancel stopped at.
        history: ``(step, validation PSNR)`` pairs, the base model's at step 0.
        psnr_before, psnr_gain: validation PSNR of the base model and of plain gain, dB.
        train_seconds: training time over all sessions.
        noise_level: where the run was asked to take the noise level from
            (:attr:`~engine.finetune.FinetuneSettings.noise_level`).
        noise_fit_sets_level: whether the new model takes its noise level from the fitted
            profile (``None``: not decided yet); noise_level_note: how that was decided.
        version: :data:`RUN_STATE_VERSION`.
    """

    base: str
    pairs: list[tuple[str, str]]
    variant: str
    strategy: str
    model_config: dict[str, Any]
    batch_size: int
    seed: int
    lr: float
    step_size: int
    gamma: float
    epoch_iterations: int
    patch: int
    validation_pairs: int
    done: int = 0
    stopped_at: int = 0
    history: list[tuple[int, float]] = field(default_factory=list)
    psnr_before: float | None = None
    psnr_gain: float | None = None
    # [short, long, base model dB, gain dB, correlation] of each suspicious validation pair.
    suspects: list[list[Any]] = field(default_factory=list)
    train_seconds: float = 0.0
    noise_level: str = "auto"
    noise_fit_sets_level: bool | None = None
    noise_level_note: str = ""
    version: int = RUN_STATE_VERSION

    @property
    def step(self) -> int:
        """Steps trained so far."""
        return max(self.done, self.stopped_at)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["pairs"] = [list(p) for p in self.pairs]
        data["history"] = [[int(i), _json_float(p)] for i, p in self.history]
        for key in ("psnr_before", "psnr_gain"):
            if data[key] is not None:
                data[key] = _json_float(data[key])
        return data

    @classmethod
    def from_json(cls, data: Any, source: str) -> RunState:
        """Read a ``run.json`` object, migrating older versions.

        Raises:
            DarkroomError: not a run state, a version newer than this code, or bad values.
        """
        if not isinstance(data, dict):
            raise DarkroomError(f"{source}: not a fine-tune run state; start over (restart)")
        version = data.get("version", 1)
        if not isinstance(version, int) or version > RUN_STATE_VERSION:
            raise DarkroomError(
                f"{source}: written by a newer Darkroom (run state version {version!r}); "
                "update Darkroom or start over (restart)"
            )
        if version == 1:
            data = _migrate_v1(data)
        if "noise_fit_sets_level" not in data and data.get("psnr_before") is not None:
            # Scored before the choice existed: its history is on the fitted profile's level.
            data = {**data, "noise_fit_sets_level": True}
        known = {f.name for f in fields(cls)}
        try:
            state = cls(**{k: v for k, v in data.items() if k in known})
            state.pairs = [(str(s), str(lg)) for s, lg in state.pairs]
            state.history = [(int(i), float(p)) for i, p in state.history]
            state.psnr_before = None if state.psnr_before is None else float(state.psnr_before)
            state.psnr_gain = None if state.psnr_gain is None else float(state.psnr_gain)
            for name in ("batch_size", "seed", "step_size", "epoch_iterations", "patch",
                         "validation_pairs", "done", "stopped_at"):  # fmt: skip
                setattr(state, name, int(getattr(state, name)))
            for name in ("lr", "gamma", "train_seconds"):
                setattr(state, name, float(getattr(state, name)))
            if not isinstance(state.noise_fit_sets_level, bool | None):
                raise TypeError("noise_fit_sets_level must be true, false or null")
        except (TypeError, ValueError) as exc:
            raise DarkroomError(f"{source}: invalid run state ({exc}); start over") from None
        state.version = RUN_STATE_VERSION
        return state

    def resume_conflict(self, wanted: RunState) -> str | None:
        """The first setting of :data:`RESUME_KEYS` in which ``wanted`` differs, else None."""
        for key in RESUME_KEYS:
            if getattr(self, key) != getattr(wanted, key):
                return key
        return None

    def write(self, path: Path) -> None:
        """Write as ``run.json``, atomically."""
        atomic_write_json(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> RunState:
        """Read a ``run.json``.

        Raises:
            DarkroomError: unreadable or invalid.
        """
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise DarkroomError(f"{path}: unreadable; start over (restart)") from None
        return cls.from_json(data, str(path))


def _migrate_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had no version and no strategy; its variant was already the trained one."""
    variant = str(data.get("variant", "baseline"))
    return {**data, "strategy": strategy_class(variant).finetune_strategy, "version": 2}


def _json_float(value: float) -> float | str:
    return float(value) if math.isfinite(value) else str(value)


@dataclass(frozen=True)
class InterruptedRun:
    """A fine-tune that stopped before saving its model, and can be resumed.

    Attributes:
        name: the model it will become.
        step: training steps done so far.
        base: the base model's weights file.
        pairs: the run's pairs, in its order.
    """

    name: str
    step: int
    base: str
    pairs: list[PairFiles]

    def matches(self, pairs: Sequence[CheckedPair | PairFiles]) -> bool:
        """Whether ``pairs`` are the run's, in its order (what resuming requires)."""
        mine = [(Path(p.short).resolve(), Path(p.long).resolve()) for p in pairs]
        return mine == [(Path(p.short).resolve(), Path(p.long).resolve()) for p in self.pairs]


def find_interrupted_run(name: str, library: str | Path | None = None) -> InterruptedRun | None:
    """The interrupted run of model ``name``, or ``None`` (no run, an invalid name, or a state
    that resuming would refuse anyway)."""
    try:
        folder = work_dir(name, library)
    except DarkroomError:
        return None
    run_file = folder / RUN_NAME
    if not (folder / CHECKPOINT_NAME).is_file() or not run_file.is_file():
        return None
    try:
        state = RunState.read(run_file)
    except DarkroomError:
        return None
    pairs = [PairFiles(Path(s), Path(lg)) for s, lg in state.pairs]
    return InterruptedRun(folder.name, state.step, state.base, pairs)


def list_interrupted_runs(library: str | Path | None = None) -> list[InterruptedRun]:
    """Every resumable run in the library, by name."""
    root = library_dir(library) / WORK_FOLDER
    if not root.is_dir():
        return []
    found = (find_interrupted_run(p.name, library) for p in sorted(root.iterdir()) if p.is_dir())
    return [run for run in found if run is not None]


def discard_interrupted_run(name: str, library: str | Path | None = None) -> None:
    """Delete an interrupted run of ``name`` (its checkpoint and state), so the next fine-tune
    of that name starts afresh; nothing happens when there is none or the name is invalid."""
    import shutil

    try:
        folder = work_dir(name, library)
    except DarkroomError:
        return
    shutil.rmtree(folder, ignore_errors=True)


def resume_or_reset(fresh: RunState, work: Path, resume: bool) -> tuple[RunState, str | None]:
    """The state a run goes on with: the interrupted one in ``work`` when resuming is asked
    and possible, else ``fresh`` (the folder cleared); with a note when it resumed.

    Raises:
        DarkroomError: the interrupted run used other settings (:data:`RESUME_KEYS`), or its
            state is unreadable.
    """
    import shutil

    ckpt, run_file = work / CHECKPOINT_NAME, work / RUN_NAME
    if not resume or not ckpt.is_file() or not run_file.is_file():
        # Restarting, or leftovers of a run that never started.
        shutil.rmtree(work, ignore_errors=True)
        return fresh, None
    saved = RunState.read(run_file)
    conflict = saved.resume_conflict(fresh)
    if conflict is not None:
        raise DarkroomError(
            f"an interrupted fine-tune of this name used another "
            f"{conflict.replace('_', ' ')}; use the same settings to resume, or start over "
            "(restart)"
        )
    return saved, (
        f"resumed from step {saved.step} (learning-rate settings of the interrupted run kept)"
    )


def installed_by_interrupted_run(request: FinetuneRequest) -> bool:
    """Whether the library model named ``request.name`` is the one an interrupted run of the
    same base and pairs saved before it could clear its work folder (killed in between): its
    state is still there and the model's card names the same base. Such a run may finish.
    """
    from engine.models import read_card

    name = request.name.strip()
    run = find_interrupted_run(name, request.library_dir)
    if run is None or not run.matches(pair_files_of(request.pairs)):
        return False
    try:
        card = read_card(request.library_dir / f"{name}.safetensors")
        # The base the run trained: for X-Trans pairs, the default's X-Trans version.
        base = resolve_base(request.base, pairs_sensor(request.pairs), request.library_dir)
        base_card = read_card(base)
    except DarkroomError:
        return False
    return Path(run.base) == Path(base).resolve() and card.base_model == base_card.name


def disk_error(what: str, exc: OSError) -> DarkroomError:
    """A failed write as one line: the library's earlier models are never touched by one."""
    reason = exc.strerror or exc.__class__.__name__
    return DarkroomError(f"{what}: {reason}; earlier models are untouched")
