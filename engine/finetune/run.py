"""Fine-tune a model to the photographer's own camera from a few tripod pairs.

:func:`finetune` starts from a trained model (a variant name, a library model or a
``.safetensors`` path), trains it on the user's short/long pairs with the ordinary trainer
(:func:`engine.train.train`: L1 loss, Adam, StepLR, random crops with CFA-correct flips, the
variant's fine-tuning strategy) and saves the result into the model library with a model card.

* **Rules** (:mod:`~engine.finetune.request`): valid pairs from one camera, a base model, a
  free name; the window asks the same :func:`~engine.finetune.request.check_start`. Pairs
  from a Fujifilm X-Trans camera fine-tune an X-Trans model: the default's X-Trans version
  when the default is the base (:func:`~engine.finetune.request.resolve_base`); a base that
  takes only Bayer photos is refused in one line.
* **Data** (:mod:`~engine.finetune.data`). Real pairs are loaded like
  :class:`~engine.train.RealPairSource` does. With ``synthetic``, about
  :data:`~engine.finetune.data.SYNTHETIC_FRACTION` of the training crops are instead made from
  the user's own long exposures, darkened with a noise profile fitted to the camera from the
  same pairs and optional dark frames (:mod:`~engine.finetune.noise_fit`, after "Lighting Every
  Darkness in Two Pairs", ICCV 2023). A few pairs are too little to learn noise from alone; the
  fitted model turns each long exposure into endless fresh noisy versions.
* **Noise level** (:mod:`~engine.finetune.level_choice`). Before training, a noise-aware base
  is scored on every pair told the level by the fitted profile and by each frame's own level;
  the better one is what training crops, validation and the saved model's card use.
* **Learning rate.** 5e-5, half the from-scratch 1e-4: the weights are already good, and a
  small set of pairs is easy to overfit. StepLR decays by ``gamma`` every ``step_size`` epochs
  of ``epoch_iterations`` steps (default ``iterations // 50``, i.e. five decays over the run).
* **Validation.** With 3 or more pairs, one is held out; otherwise the training pairs
  themselves are scored (and the result says so). The score is PSNR on the developed sRGB
  (:func:`engine.render.develop`, as the evaluation table uses), over centre crops of at most
  ``validation_crop`` pixels, before training and every ``validate_every`` iterations. Training
  runs in chunks between validations; each chunk resumes the trainer's own checkpoint, so the
  run is identical to one uninterrupted training.
* **Interruptions** (:mod:`~engine.finetune.run_state`). The checkpoint and a versioned
  ``run.json`` live in the library's ``.work/NAME/`` folder. Cancelling (a
  :class:`~engine.jobs.CancelToken`) writes a checkpoint and raises
  :class:`~engine.errors.Cancelled`; calling :func:`finetune` again with the same base and
  pairs resumes. A :class:`~engine.finetune.PauseToken` holds the loop between two steps.
* **Failures.** A write that fails (a full disk while checkpointing or saving) ends the run
  with a one-line :class:`~engine.errors.DarkroomError`; checkpoints and models are written
  atomically, so the library keeps its earlier models untouched and gains no partial one.
* **torchrun** (:mod:`engine.distributed`). Every rank loads the pairs and trains its share of
  each global batch; the main rank alone reads or clears the work folder, validates (the score
  is broadcast, so every rank stops at the same step), checkpoints and saves, and every rank
  returns what it saved.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.device import hardware_description, select_device
from engine.distributed import current
from engine.errors import DarkroomError
from engine.finetune.data import (
    FinetuneData,
    FinetunePairSource,
    LoadedPair,
    SuspectPair,
    Validation,
    load_dark_list,
    load_finetune_pair,
)
from engine.finetune.level_choice import decide_level, level_profiles
from engine.finetune.noise_fit import NoiseFit, fit_noise_profile
from engine.finetune.progress import FinetuneProgress, PauseToken, ProgressState
from engine.finetune.request import (
    FinetuneRequest,
    NameTakenError,
    check_base_sensor,
    check_one_camera,
    check_one_sensor,
    check_start,
    pair_files_of,
    pairs_sensor,
    resolve_base,
)
from engine.finetune.result import FinetuneResult, json_safe
from engine.finetune.run_state import (
    CHECKPOINT_NAME,
    RUN_NAME,
    RunState,
    installed_by_interrupted_run,
    resume_or_reset,
)
from engine.finetune.training_loop import TrainingLoop
from engine.jobs import CancelToken
from engine.models import (
    EnhanceNet,
    ModelCard,
    cfa_sibling,
    load_model,
    save_to_library,
)
from engine.models import work_dir as model_work_dir
from engine.resources import SENSOR_NAMES
from engine.train import (
    PairFiles,
    TrainResult,
    strategy_class,
)


def finetune(
    request: FinetuneRequest,
    progress: Callable[[FinetuneProgress], None] | None = None,
    cancel: CancelToken | None = None,
    pause: PauseToken | None = None,
) -> FinetuneResult:
    """Fine-tune ``request.base`` on the user's pairs and save it as ``request.name``.

    Args:
        request: base model, pairs, name and settings (see :class:`FinetuneRequest`).
        progress: called with :class:`FinetuneProgress` between steps and at phase changes.
        cancel: stops between two steps, after writing a checkpoint.
        pause: holds the loop between two steps while paused.

    Returns:
        The saved model and its before/after scores.

    Raises:
        FinetuneStartError: no valid pairs, several cameras, no base, a taken name.
        DarkroomError: bad settings, an unknown base, a checkpoint of other settings, or a
            failed write (disk full...).
        Cancelled: ``cancel`` was set (a checkpoint was written; call again to resume).
    """
    run = _FinetuneRun(request, ProgressState(
        progress, cancel, pause, request.settings.iterations, time.perf_counter()
    ))  # fmt: skip
    run.load_data()
    run.open_state()
    run.choose_noise_level()
    run.score_base()
    result = run.train() if request.settings.iterations else run.profile_only()
    # Under torchrun the main rank saves and every rank returns what it saved.
    return run.group.broadcast(run.save(result) if run.group.is_main else None)


class _FinetuneRun(TrainingLoop):
    """One :func:`finetune` call, step by step (each step a method, in call order)."""

    def __init__(self, request: FinetuneRequest, state: ProgressState) -> None:
        self.request, self.settings, self.progress = request, request.settings, state
        self.cancel = state.cancel
        self.group = current()  # torchrun's ranks: the main one writes and validates
        self.replace_own = False  # a model this very run installed before being killed
        try:
            self.name = check_start(request)
        except NameTakenError:
            if not installed_by_interrupted_run(request):
                raise
            self.name, self.replace_own = request.name.strip(), True
        self.files = pair_files_of(request.pairs)
        self.n_val = self.settings.held_out(len(self.files))
        self.device = select_device(request.device)
        self.root = request.library_dir
        # The pairs' kind of sensor picks the network: X-Trans pairs fine-tune an X-Trans model
        # (the default's X-Trans version when the default is asked for).
        self.sensor = pairs_sensor(request.pairs)
        self.base_path = resolve_base(request.base, self.sensor, self.root)
        self.base_model: EnhanceNet | None
        self.base_model, self.base_card = load_model(self.base_path)
        check_base_sensor(self.base_card, self.sensor)
        self.strategy = strategy_class(self.base_card.architecture)
        self.notes: list[str] = [self.strategy.finetune_note] if self.strategy.finetune_note else []
        if (version := cfa_sibling(request.base, self.sensor)) is not None:
            kind = SENSOR_NAMES.get(self.sensor, self.sensor)
            self.notes.append(f"{kind} pairs: fine-tuned {version}, the {kind} version of "
                              f"{request.base}")  # fmt: skip
        self.darks = load_dark_list(request.dark_frames)
        self.work = model_work_dir(self.name, self.root)
        self.ckpt, self.run_file = self.work / CHECKPOINT_NAME, self.work / RUN_NAME

    def load_data(self) -> None:
        """Load every pair (one camera) and fit the camera's noise."""
        self.progress.report("loading", "loading pairs")
        s, n_val, loaded = self.settings, self.n_val, []
        for i, files in enumerate(self.files):
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            # Only training pairs need their long frame (noise fit and synthetic crops).
            keep_long = s.synthetic and i < len(self.files) - n_val
            loaded.append(load_finetune_pair(files, keep_long=keep_long))
        check_one_camera((_label(f), u.pair.dark.exif.camera)
                         for f, u in zip(self.files, loaded, strict=True))  # fmt: skip
        # Plain files were judged by the first one's sensor: every pair must be of its kind.
        check_one_sensor((_label(f), u.pair.dark.sensor)
                         for f, u in zip(self.files, loaded, strict=True))  # fmt: skip
        self.loaded = loaded
        self.fit = self._fit_noise(loaded[: len(loaded) - n_val]) if s.synthetic else None
        if s.iterations == 0 and self.fit is None:
            raise DarkroomError("0 iterations saves a fitted noise profile, and none could be "
                                "fitted (see above); train some iterations instead")  # fmt: skip

    def _build_data(self, uses_fit: bool) -> FinetuneData:
        """Validation crops and the crop source, their noise levels from the fitted profile
        when ``uses_fit``."""
        s, n_val, loaded, fit = self.settings, self.n_val, self.loaded, self.fit
        train_set, val_set = loaded[: len(loaded) - n_val], loaded[len(loaded) - n_val :]
        if n_val:
            label = f"{n_val} held-out pair{'s' if n_val > 1 else ''}"
        else:
            label = f"the {len(train_set)} training pair(s) (too few pairs to hold one out)"
        scored = val_set if n_val else train_set
        scored_files = self.files[len(self.files) - n_val :] if n_val else self.files
        profile = fit.profile if fit is not None else None
        sources = [(str(f.short), str(f.long)) for f in scored_files]
        validation = Validation.build([u.pair for u in scored], s.validation_crop, label,
                                      level_profiles(profile, uses_fit), sources,
                                      self.base_card.finishing)  # fmt: skip
        source = FinetunePairSource(train_set, s.patch, profile, s.synthetic_fraction,
                                    fitted_levels=uses_fit)  # fmt: skip
        return FinetuneData(
            train_set, validation, label, fit, source, loaded[0].pair.dark.exif.camera
        )

    def _fit_noise(self, train_set: list[LoadedPair]) -> NoiseFit | None:
        self.progress.report("fitting noise", "fitting the camera's noise model")
        triples = [(u.pair.dark, u.long, u.pair.ratio) for u in train_set if u.long is not None]
        try:
            fit = fit_noise_profile(triples, self.darks)
        except DarkroomError as exc:
            # Real pairs alone still fine-tune; say why the synthetic ones are missing.
            self.notes.append(f"no synthetic pairs: {exc}")
            return None
        self.notes += fit.notes
        self.notes.append(f"noise model: {fit.summary()}")
        return fit

    def open_state(self) -> None:
        """A fresh :class:`RunState`, or the interrupted one when it may be resumed."""
        s = self.settings
        fresh = RunState(
            base=str(Path(self.base_path).resolve()),
            pairs=[(str(Path(f.short).resolve()), str(Path(f.long).resolve()))
                   for f in self.files],
            variant=self.base_card.architecture, strategy=self.strategy.finetune_strategy,
            model_config=dict(self.base_card.config), batch_size=s.batch_size, seed=s.seed,
            lr=s.lr, step_size=s.step_size, gamma=s.gamma, epoch_iterations=s.epoch_length,
            patch=s.patch, validation_pairs=self.n_val, noise_level=s.noise_level,
        )  # fmt: skip
        decided = None
        if self.group.is_main:  # it alone clears or reads the work folder
            decided = resume_or_reset(fresh, self.work, self.request.resume)
        self.run, resumed = self.group.broadcast(decided)
        if resumed:
            self.notes.append(resumed)

    def choose_noise_level(self) -> None:
        """Decide (once per run) where the new model takes its noise level from, and build
        the validation crops and the crop source with it."""
        run = self.run
        if run.noise_fit_sets_level is None:
            decided = self._on_main(self._decide_noise_level)
            run.noise_fit_sets_level, run.noise_level_note = decided
            self._write_state()
        if run.noise_level_note:
            self.notes.append(run.noise_level_note)
        self.data = self._build_data(run.noise_fit_sets_level)
        if not self.n_val:
            self.notes.append(f"validated on {self.data.label}")

    def _decide_noise_level(self) -> tuple[bool, str]:
        """:func:`~engine.finetune.level_choice.decide_level` on the training pairs: the
        held-out ones stay unseen until the validation, whose score this choice would bias."""
        s, fit = self.settings, self.fit
        train_pairs = [u.pair for u in self.loaded[: len(self.loaded) - self.n_val]]
        return decide_level(
            s.noise_level, self.base_model, fit.profile if fit else None, train_pairs,
            s.validation_crop, self.device, lambda text: self.progress.report("validating", text),
            self.base_card.finishing,
        )  # fmt: skip

    def score_base(self) -> None:
        """Validate the base model (once per run) and set the progress figures."""
        run, data, base = self.run, self.data, self.base_model
        if run.psnr_before is None and base is not None:
            self.progress.report("validating", f"scoring {self.base_card.name} on {data.label}")
            model_scores, gain_scores = self._on_main(
                lambda: (data.validation.scores(base, self.device), data.validation.gain_scores())
            )
            run.psnr_before = float(np.mean(model_scores))
            run.psnr_gain = float(np.mean(gain_scores))
            suspects = data.validation.suspects(model_scores, gain_scores)
            run.suspects = [[p.short, p.long, p.psnr_model, p.psnr_gain, p.correlation]
                            for p in suspects]  # fmt: skip
            run.history = [(0, run.psnr_before)]
            self._write_state()
        if self.settings.iterations:
            self.base_model = None  # the trainer builds its own copy
        assert run.psnr_before is not None
        self.progress.suspects = tuple(SuspectPair(str(a), str(b), *map(float, rest))
                                       for a, b, *rest in run.suspects)  # fmt: skip
        self.notes += [p.describe() for p in self.progress.suspects]
        self.progress.psnr_before = run.psnr_before
        self.progress.psnr_now = run.history[-1][1]
        self.progress.iteration = run.step

    def profile_only(self) -> TrainResult:
        """No training: the base model itself, to be saved with the fitted profile."""
        assert self.base_model is not None and self.data.fit is not None
        if not getattr(self.base_model, "noise_input", False):
            self.notes.append(f"{self.base_card.name} does not take a noise level: the fitted "
                              "profile changes nothing it renders")  # fmt: skip
        self.notes.append("noise profile only: no training steps")
        return TrainResult(model=self.base_model, iterations=0, losses=[], elapsed_s=0.0,
                           hardware=hardware_description(self.device))  # fmt: skip

    def save(self, result: TrainResult) -> FinetuneResult:
        """Save the model into the library and clear the run's work folder."""
        run, data = self.run, self.data
        assert run.psnr_before is not None and run.psnr_gain is not None
        psnr_before, psnr_after = run.psnr_before, self._best()[1]  # the weights kept
        card = self._card(result)
        self.progress.report("saving", f"saving {self.name}")
        overwrite = self.request.overwrite or self.replace_own
        weights_path = save_to_library(result.model, card, self.root, overwrite=overwrite)
        shutil.rmtree(self.work, ignore_errors=True)  # the checkpoint is of no use once saved
        self.progress.report("done", f"saved {weights_path}")
        return FinetuneResult(
            name=self.name, weights_path=weights_path, card=card, psnr_before=psnr_before,
            psnr_after=psnr_after, psnr_gain=run.psnr_gain, validation=data.label,
            iterations=result.iterations, elapsed_s=run.train_seconds,
            train_pairs=len(data.train_set), validation_pairs=self.n_val, noise_fit=data.fit,
            history=list(run.history), losses=result.losses, notes=self.notes,
            suspects=list(self.progress.suspects),
        )  # fmt: skip

    def _card(self, result: TrainResult) -> ModelCard:
        run, data, base, s = self.run, self.data, self.base_card, self.settings
        desc = f"fine-tuned on {len(data.train_set)} real pair(s) from a {data.camera}"
        if data.fit is not None:
            desc += (f", {s.synthetic_fraction * 100:.0f} % of crops synthesised from their "
                     "long exposures")  # fmt: skip
        metrics = {
            "psnr": self._best()[1], "psnr_before": run.psnr_before,
            "psnr_gain": run.psnr_gain, "pairs": self.n_val or len(data.train_set),
            "metric": "PSNR on the developed sRGB output, centre crops", "data": data.label,
            "history": [[i, p] for i, p in run.history],
        }  # fmt: skip
        text = [
            f"fine-tuned from {base.name}: Adam lr {run.lr:g}, StepLR({run.step_size}, "
            f"{run.gamma:g}) per {run.epoch_iterations} steps, L1, crop {run.patch}, batch "
            f"{run.batch_size}, seed {run.seed}, {result.warm_started} tensors warm-started",
            *self.notes,
        ]
        return ModelCard(
            name=self.name, architecture=base.architecture, config=dict(base.config),
            output_space=base.output_space, training_data=desc,
            noise_profile=f"fitted to {data.camera} from these pairs" if data.fit
            else base.noise_profile,
            noise_fit=data.fit.profile.to_dict() if data.fit else base.noise_fit,
            noise_fit_sets_level=bool(run.noise_fit_sets_level) if data.fit
            else base.noise_fit_sets_level,
            restores_detail=base.restores_detail, smooths_chroma=base.smooths_chroma,
            iterations=result.iterations, hardware=result.hardware,
            training_time_s=round(run.train_seconds, 1), metrics=json_safe(metrics),
            licence=base.licence, notes="; ".join(text), base_model=base.name,
        )  # fmt: skip


def _label(files: PairFiles) -> str:
    return f"{Path(files.short).name} + {Path(files.long).name}"
