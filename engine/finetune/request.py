"""What a fine-tune is asked to do, and the rules a request must pass before it starts.

:class:`FinetuneSettings` (schedule, crops, validation, synthetic pairs) and
:class:`FinetuneRequest` (base model, pairs, name, library, device) are checked here, once, for
every front end: :func:`check_start` is what the window asks before enabling a run, and
:func:`~engine.finetune.finetune` calls the same rules, so ``darkroom-cli finetune`` obeys them
too. The rules:

* at least one pair, every :class:`~engine.finetune.CheckedPair` valid;
* **one camera**: each camera has its own noise, so a mixed set fine-tunes for none of them
  (:class:`MixedCamerasError`); pairs given as plain files are checked once loaded;
* **one kind of sensor**, Bayer or Fujifilm X-Trans (:class:`MixedSensorsError`), which picks
  the model that is trained: :func:`resolve_base` gives X-Trans pairs the X-Trans version of
  the default model (``fast`` -> ``fast-xtrans``, :func:`engine.models.cfa_sibling`), and a
  base that takes only the other kind is refused in one line (:class:`BaseSensorError`);
* a base model, and a valid library name not yet taken (unless overwriting).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import DarkroomError, ModelError, UnsupportedSensorError
from engine.finetune.data import SYNTHETIC_FRACTION
from engine.finetune.pair_checks import CheckedPair
from engine.io import RawFrame, read_raw
from engine.models import (
    DEFAULT_MODEL,
    ModelCard,
    cfa_sibling,
    check_name,
    library_dir,
    model_for_sensor,
    read_card,
    resolve_model,
)
from engine.resources import (  # the defaults are there so that the CLI parser needs no torch
    DEFAULT_ITERATIONS,
    DEFAULT_LR,
    DEFAULT_PATCH,
    DEFAULT_PATIENCE,
    NOISE_LEVEL_CHOICES,
    SENSOR_NAMES,
)
from engine.train import PairFiles

#: Validation scores centre crops of at most this side (sensor pixels), to bound its cost.
VALIDATION_CROP = 1024
#: Validations per run when ``validate_every`` is 0 (besides the one before training).
VALIDATIONS = 5


class FinetuneStartError(DarkroomError):
    """A fine-tune cannot start; the subclass says why (front ends title their dialogs by it)."""


class NoPairsError(FinetuneStartError):
    """No valid pair to train on."""


class MixedCamerasError(FinetuneStartError):
    """The pairs come from more than one camera."""


class MixedSensorsError(FinetuneStartError):
    """The pairs mix Bayer and X-Trans sensors."""


class BaseSensorError(FinetuneStartError, UnsupportedSensorError):
    """The base model takes the other kind of sensor than the pairs' and has no version for
    theirs (or that version cannot be loaded)."""


class NoBaseModelError(FinetuneStartError):
    """No base model was chosen."""


class NameTakenError(FinetuneStartError, ModelError):
    """The library already has a model of the new model's name."""


@dataclass(frozen=True)
class FinetuneSettings:
    """How a fine-tune trains and validates (every field checked when made).

    Attributes:
        iterations: training steps of the whole run (also when resuming); 0 trains nothing
            and saves the base model with the camera's fitted noise profile (noise-aware base
            models take the camera's noise level from it).
        lr, step_size, gamma: Adam learning rate and StepLR schedule.
        epoch_iterations: steps per StepLR epoch (0: ``max(1, iterations // 50)``).
        patch: training crop side, sensor pixels.
        batch_size: crops per step.
        validation_pairs: pairs held out for validation (``None``: 1 with >= 3 pairs, else 0,
            scoring the training pairs).
        validate_every: steps between validations (0: ``iterations / VALIDATIONS``).
        validation_crop: side of the centre crops scored, sensor pixels.
        synthetic: add crops synthesised from the long exposures with a fitted noise profile.
        synthetic_fraction: share of synthetic crops when ``synthetic``.
        patience: validations in a row without a better score after which the run stops
            early (0: never); the best-scoring weights are what is saved.
        noise_level: where the new model's noise level comes from, one of
            :data:`~engine.resources.NOISE_LEVEL_CHOICES` (``auto``: the base model scored
            both ways on every pair before training, :mod:`engine.finetune.level_choice`).
        seed: seeds crops, noise and initial state.

    Raises:
        DarkroomError: a value out of range (one line).
    """

    iterations: int = DEFAULT_ITERATIONS
    lr: float = DEFAULT_LR
    step_size: int = 10
    gamma: float = 0.8
    epoch_iterations: int = 0
    patch: int = DEFAULT_PATCH
    batch_size: int = 1
    validation_pairs: int | None = None
    validate_every: int = 0
    validation_crop: int = VALIDATION_CROP
    synthetic: bool = True
    synthetic_fraction: float = SYNTHETIC_FRACTION
    patience: int = DEFAULT_PATIENCE
    noise_level: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.iterations < 0:
            raise DarkroomError("iterations must be 0 (noise profile only) or more")
        if self.iterations == 0 and not self.synthetic:
            raise DarkroomError("0 iterations saves a fitted noise profile: it needs synthetic on")
        if self.noise_level not in NOISE_LEVEL_CHOICES:
            raise DarkroomError(f"noise level must be one of {', '.join(NOISE_LEVEL_CHOICES)}, "
                                f"not {self.noise_level!r}")  # fmt: skip
        if self.patience < 0:
            raise DarkroomError("patience must be 0 (never stop early) or more")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise DarkroomError(f"learning rate must be a positive number, not {self.lr}")
        if self.step_size < 1 or not (0 < self.gamma <= 1):
            raise DarkroomError("step size must be >= 1 and gamma in (0, 1]")
        if self.patch < 16 or self.batch_size < 1:
            raise DarkroomError("patch must be at least 16 pixels and batch size at least 1")
        if self.validate_every < 0 or self.validation_crop < 16:
            raise DarkroomError("validate-every must be >= 0 and the validation crop >= 16 pixels")
        if not 0.0 <= self.synthetic_fraction < 1.0:
            raise DarkroomError("the synthetic fraction must be in [0, 1)")

    def held_out(self, pairs: int) -> int:
        """Pairs held out for validation out of ``pairs``.

        Raises:
            DarkroomError: no training pair would be left.
        """
        n_val = self.validation_pairs
        if n_val is None:
            n_val = 1 if pairs >= 3 else 0
        if not 0 <= n_val < pairs:
            raise DarkroomError(f"{n_val} validation pair(s) leave no training pair out of {pairs}")
        return n_val

    @property
    def epoch_length(self) -> int:
        """Steps per StepLR epoch."""
        return self.epoch_iterations or max(1, self.iterations // 50)

    @property
    def validation_interval(self) -> int:
        """Steps between validations."""
        return self.validate_every or max(1, math.ceil(self.iterations / VALIDATIONS))


@dataclass(frozen=True)
class FinetuneRequest:
    """One fine-tune: which model to start from, on which pairs, saved under which name.

    Attributes:
        base: variant name, library model name or ``.safetensors`` path to start from.
        pairs: valid :class:`~engine.finetune.CheckedPair` (from a scan) or
            :class:`~engine.train.PairFiles`.
        name: the new model's name (see :func:`engine.models.check_name`).
        settings: how to train and validate.
        dark_frames: a folder of lens-cap shots, or files or frames (optional).
        library: model library folder (``None``: :func:`engine.models.library_dir`).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
        resume: continue an interrupted run of ``name`` (same base and pairs); ``False``
            discards its checkpoint and starts over.
        overwrite: replace an existing library model called ``name``.
    """

    base: str
    pairs: Sequence[CheckedPair | PairFiles]
    name: str
    settings: FinetuneSettings = field(default_factory=FinetuneSettings)
    dark_frames: str | os.PathLike[str] | Sequence[str | os.PathLike[str] | RawFrame] | None = None
    library: str | os.PathLike[str] | None = None
    device: str = "auto"
    resume: bool = True
    overwrite: bool = False

    @property
    def library_dir(self) -> Path:
        return library_dir(self.library)


def check_start(request: FinetuneRequest) -> str:
    """Check what can be checked before loading anything; returns the valid model name.

    Raises:
        FinetuneStartError: no valid pairs, several cameras or kinds of sensor, no base
            model, or the name is taken (unless ``overwrite``).
        ModelError: an invalid model name.
    """
    pairs = list(request.pairs)
    if not pairs or any(isinstance(p, CheckedPair) and not p.valid for p in pairs):
        bad = [p for p in pairs if isinstance(p, CheckedPair) and not p.valid]
        reason = f"{bad[0].short.name} + {bad[0].long.name}: {bad[0].reason}" if bad else ""
        raise NoPairsError(reason or "no pairs to fine-tune on")
    check_one_camera((f"{p.short.name} + {p.long.name}", p.camera) for p in pairs
                     if isinstance(p, CheckedPair))  # fmt: skip
    sensor = check_one_sensor((f"{p.short.name} + {p.long.name}", p.sensor) for p in pairs
                              if isinstance(p, CheckedPair) and p.sensor)  # fmt: skip
    if not request.base:
        raise NoBaseModelError("choose a trained model to start from")
    if sensor is not None:  # a base that cannot take these pairs, before anything loads
        try:
            weights: Path | None = resolve_base(request.base, sensor, request.library)
        except ModelError:
            weights = None  # an unknown base: the run says so when it loads it
        if weights is not None:
            check_base_sensor(read_card(weights), sensor)
    name = check_name(request.name)
    root = request.library_dir
    if (root / f"{name}.safetensors").exists() and not request.overwrite:
        raise NameTakenError(f"a model named {name!r} already exists in {root}")
    return name


def check_one_camera(labelled_cameras: Iterable[tuple[str, str]]) -> None:
    """Refuse pairs from more than one camera.

    Args:
        labelled_cameras: ``(pair label, camera)`` for every pair.

    Raises:
        MixedCamerasError: naming the cameras and a pair of the minority one.
    """
    by_camera: dict[str, list[str]] = {}
    for label, camera in labelled_cameras:
        by_camera.setdefault(camera, []).append(label)
    if len(by_camera) > 1:
        names = sorted(by_camera, key=lambda c: (-len(by_camera[c]), c))
        raise MixedCamerasError(
            f"the pairs come from {len(names)} cameras ({', '.join(names)}); a fine-tune learns "
            f"one camera's noise: remove the pairs of the others (e.g. {by_camera[names[-1]][0]})"
        )


def check_one_sensor(labelled_sensors: Iterable[tuple[str, str]]) -> str | None:
    """Refuse pairs from both kinds of sensor (a Bayer and an X-Trans model are two models).

    Args:
        labelled_sensors: ``(pair label, sensor)`` for every pair whose sensor is known.

    Returns:
        The one sensor, ``"bayer"`` or ``"x-trans"`` (``None``: no pair given).

    Raises:
        MixedSensorsError: naming a pair of each kind.
    """
    by_sensor: dict[str, str] = {}
    for label, sensor in labelled_sensors:
        by_sensor.setdefault(sensor, label)
    if len(by_sensor) > 1:
        (a, first), (b, second) = sorted(by_sensor.items())
        raise MixedSensorsError(
            f"the pairs mix {SENSOR_NAMES.get(a, a)} ({first}) and {SENSOR_NAMES.get(b, b)} "
            f"({second}) sensors; a fine-tune trains a model for one kind: remove the others"
        )
    return next(iter(by_sensor), None)


def pairs_sensor(pairs: Sequence[CheckedPair | PairFiles]) -> str:
    """The kind of sensor the pairs come from, ``"bayer"`` or ``"x-trans"``: as the pair checks
    found it (:attr:`CheckedPair.sensor`), else read from the first pair's short exposure
    (plain files are checked pair by pair once loaded).

    Raises:
        MixedSensorsError: checked pairs of both kinds.
        DarkroomError: no pairs, or the first file cannot be read.
    """
    known = check_one_sensor((f"{p.short.name} + {p.long.name}", p.sensor) for p in pairs
                             if isinstance(p, CheckedPair) and p.sensor)  # fmt: skip
    if known is not None:
        return known
    if not pairs:
        raise NoPairsError("no pairs to fine-tune on")
    return read_raw(pairs[0].short).sensor


def resolve_base(base: str, sensor: str, library: str | os.PathLike[str] | None = None) -> Path:
    """The weights a fine-tune of ``base`` on ``sensor`` pairs starts from: ``base`` itself, or
    its version for that kind of sensor (:func:`engine.models.cfa_sibling`: X-Trans pairs
    fine-tune ``fast-xtrans`` when ``fast`` is asked for); the library is searched too.

    Raises:
        BaseSensorError: ``base`` has a version for ``sensor`` that cannot be loaded.
        ModelError: an unknown base, or one without weights.
    """
    chosen = model_for_sensor(base, sensor)
    if chosen == base:
        return resolve_model(base, [library_dir(library)])
    try:
        return resolve_model(chosen, [library_dir(library)])
    except ModelError as exc:
        kind = SENSOR_NAMES.get(sensor, sensor)
        raise BaseSensorError(
            f"{kind} pairs fine-tune {chosen}, the {kind} version of {base}, which cannot be "
            f"used: {exc}"
        ) from None


def check_base_sensor(card: ModelCard, sensor: str) -> None:
    """Refuse, in one line, a base model (its card) that does not take ``sensor`` photos.

    Raises:
        BaseSensorError: naming what the model takes and what to fine-tune instead.
    """
    if sensor in card.sensors:
        return
    theirs = SENSOR_NAMES.get(sensor, sensor)
    takes = " and ".join(SENSOR_NAMES.get(s, s) for s in card.sensors)
    version = cfa_sibling(DEFAULT_MODEL, sensor)
    instead = f"{DEFAULT_MODEL} (its {theirs} version, {version})" if version else DEFAULT_MODEL
    raise BaseSensorError(
        f"{card.name} takes {takes} photos only and these pairs are {theirs}; fine-tune "
        f"{instead} or another {theirs} model"
    )


def pair_files_of(pairs: Sequence[CheckedPair | PairFiles]) -> list[PairFiles]:
    """The pairs as files to load (a checked pair keeps the ratio it measured)."""
    files = []
    for item in pairs:
        if isinstance(item, CheckedPair):
            files.append(item.to_files())
        elif isinstance(item, PairFiles):
            files.append(item)
        else:
            raise TypeError(f"expected CheckedPair or PairFiles, got {type(item).__name__}")
    return files
