"""Fine-tuning on the photographer's own camera: pairing, checks, noise fit, the run.

The words for a pair, from disk to pixels: :class:`~engine.train.PairFiles` (two RAW paths),
:class:`CheckedPair` (the files plus a verdict: valid, or invalid with a one-line reason), and
the loaded :class:`~engine.train.TrainingPair`.

* :func:`collect_pairs` (a folder, a SID-style folder or a CSV) and :func:`pair_files` (two
  picked files) -> a :class:`PairingReport` of checked pairs;
* :func:`finetune`: trains a model on the valid pairs (plus crops synthesised from their long
  exposures with a :func:`fit_noise_profile` of the camera), reports
  :class:`FinetuneProgress`, pauses with a :class:`PauseToken`, resumes after a cancel or a
  crash, and saves into the model library.
"""

from __future__ import annotations

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
from engine.finetune.run import (
    CHECKPOINT_NAME,
    DEFAULT_ITERATIONS,
    DEFAULT_LR,
    DEFAULT_PATCH,
    RUN_NAME,
    FinetuneResult,
    card_noise_profile,
    finetune,
)

__all__ = [
    "CHECKPOINT_NAME",
    "DEFAULT_ITERATIONS",
    "DEFAULT_LR",
    "DEFAULT_PATCH",
    "MAX_GAP_S",
    "RUN_NAME",
    "CheckedPair",
    "FileIssue",
    "FinetuneProgress",
    "FinetuneResult",
    "NoiseFit",
    "NoiseMeasurement",
    "PairingReport",
    "PauseToken",
    "card_noise_profile",
    "check_pair",
    "collect_pairs",
    "darken_frame",
    "file_number",
    "finetune",
    "fit_noise_profile",
    "load_dark_frames",
    "measure_dark_frame",
    "measure_pair",
    "pair_files",
    "scan_folder",
    "synthesise_extra_pairs",
]
