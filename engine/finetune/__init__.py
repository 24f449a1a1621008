"""Fine-tuning on the photographer's own camera: pairing, checks, noise fit, the run.

The words for a pair, from disk to pixels: :class:`~engine.train.PairFiles` (two RAW paths),
:class:`CheckedPair` (the files plus a verdict: valid, or invalid with a one-line reason), and
the loaded :class:`~engine.train.TrainingPair`.

* :func:`collect_pairs` (a folder, a SID-style folder or a CSV) and :func:`pair_files` (two
  picked files) -> a :class:`PairingReport` of checked pairs;
* :func:`finetune` with a :class:`FinetuneRequest` (base, pairs, name,
  :class:`FinetuneSettings`): trains a model on the valid pairs (plus crops synthesised from
  their long exposures with a :func:`fit_noise_profile` of the camera), reports
  :class:`FinetuneProgress`, pauses with a :class:`PauseToken`, resumes after a cancel or a
  crash, and saves into the model library; :func:`check_start` holds the rules a request must
  pass (one camera and one kind of sensor among them: X-Trans pairs fine-tune the X-Trans
  version of the default model), for the window and the CLI alike;
* :func:`find_interrupted_run` / :func:`list_interrupted_runs`: runs that stopped before saving
  (their versioned :class:`RunState` is this package's business alone).
"""

from __future__ import annotations

from engine.finetune.data import SuspectPair
from engine.finetune.noise_fit import (
    NoiseFit,
    darken_frame,
    fit_noise_profile,
    load_dark_frames,
    synthesise_extra_pairs,
)
from engine.finetune.noise_measure import NoiseMeasurement, measure_dark_frame, measure_pair
from engine.finetune.pair_checks import CheckedPair, FileIssue, PairingReport, check_pair
from engine.finetune.pairing import MAX_GAP_S, collect_pairs, file_number, pair_files, scan_folder
from engine.finetune.progress import FinetuneProgress, PauseToken
from engine.finetune.request import (
    DEFAULT_ITERATIONS,
    DEFAULT_LR,
    DEFAULT_PATCH,
    DEFAULT_PATIENCE,
    BaseSensorError,
    FinetuneRequest,
    FinetuneSettings,
    FinetuneStartError,
    MixedCamerasError,
    MixedSensorsError,
    NameTakenError,
    NoBaseModelError,
    NoPairsError,
    check_one_camera,
    check_start,
)
from engine.finetune.result import FinetuneResult
from engine.finetune.run import finetune
from engine.finetune.run_state import (
    RUN_STATE_VERSION,
    InterruptedRun,
    RunState,
    discard_interrupted_run,
    find_interrupted_run,
    list_interrupted_runs,
)
from engine.noise import card_noise_profile

__all__ = [
    "DEFAULT_ITERATIONS",
    "DEFAULT_LR",
    "DEFAULT_PATCH",
    "DEFAULT_PATIENCE",
    "MAX_GAP_S",
    "RUN_STATE_VERSION",
    "BaseSensorError",
    "CheckedPair",
    "FileIssue",
    "FinetuneProgress",
    "FinetuneRequest",
    "FinetuneResult",
    "FinetuneSettings",
    "FinetuneStartError",
    "InterruptedRun",
    "MixedCamerasError",
    "MixedSensorsError",
    "NameTakenError",
    "NoBaseModelError",
    "NoPairsError",
    "NoiseFit",
    "NoiseMeasurement",
    "PairingReport",
    "PauseToken",
    "RunState",
    "SuspectPair",
    "card_noise_profile",
    "check_one_camera",
    "check_pair",
    "check_start",
    "collect_pairs",
    "darken_frame",
    "discard_interrupted_run",
    "file_number",
    "find_interrupted_run",
    "finetune",
    "fit_noise_profile",
    "list_interrupted_runs",
    "load_dark_frames",
    "measure_dark_frame",
    "measure_pair",
    "pair_files",
    "scan_folder",
    "synthesise_extra_pairs",
]
