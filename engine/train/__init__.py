"""Training: clean photos unprocessed into RAW, synthetic and real pairs, the trainer.

* :class:`TrainingPair`: a dark exposure (a :class:`~engine.io.RawFrame`) and its clean
  linear target on the same grid; :class:`SyntheticPairSource` makes them from clean sRGB
  photos (:func:`unprocess` + the noise model), :class:`RealPairSource` from short/long RAW
  files (:class:`PairFiles`, listed by :func:`load_pairs`);
* :func:`train` with a :class:`TrainConfig`: L1, Adam, StepLR, checkpoints, resume; how a
  variant trains (plain, adversarial, frozen first net) is its registered strategy.
"""

from __future__ import annotations

from engine.train.batches import (
    LOG_L1_FLOOR,
    LOSS_SPACES,
    LOSS_WEIGHTINGS,
    Batch,
    PairSource,
    make_batch,
    training_loss,
    weighted_objective,
)
from engine.train.checkpoint import CheckpointError, load_checkpoint
from engine.train.real_pairs import (
    PairFiles,
    RealPairSource,
    exif_ratio,
    is_pair_source,
    load_pair,
    load_pairs,
    pairs_from_csv,
    pairs_from_sid_folder,
)
from engine.train.strategies import (
    TrainingStrategy,
    register_strategy,
    strategy_class,
    strategy_for,
)
from engine.train.synthesis import (
    RATIO_RANGE,
    SyntheticPairSource,
    TrainingPair,
    crop_pair,
    crop_sides,
    flip_pair,
    held_out_pairs,
    is_held_out,
    list_photos,
    load_clean_photo,
    random_crop_and_flip,
    synthesise_pair,
    to_rggb,
    training_crop_size,
)
from engine.train.trainer import TrainConfig, TrainProgress, TrainResult, train, warm_start
from engine.train.unprocess import (
    CAMERAS,
    CameraColour,
    UnprocessParams,
    mosaic,
    sample_unprocess_params,
    to_raw_frame,
    unprocess,
)

__all__ = [
    "CAMERAS",
    "LOG_L1_FLOOR",
    "LOSS_SPACES",
    "LOSS_WEIGHTINGS",
    "RATIO_RANGE",
    "Batch",
    "CameraColour",
    "CheckpointError",
    "PairFiles",
    "PairSource",
    "RealPairSource",
    "SyntheticPairSource",
    "TrainConfig",
    "TrainProgress",
    "TrainResult",
    "TrainingPair",
    "TrainingStrategy",
    "UnprocessParams",
    "crop_pair",
    "crop_sides",
    "exif_ratio",
    "flip_pair",
    "held_out_pairs",
    "is_held_out",
    "is_pair_source",
    "list_photos",
    "load_checkpoint",
    "load_clean_photo",
    "load_pair",
    "load_pairs",
    "make_batch",
    "mosaic",
    "pairs_from_csv",
    "pairs_from_sid_folder",
    "random_crop_and_flip",
    "register_strategy",
    "sample_unprocess_params",
    "strategy_class",
    "strategy_for",
    "synthesise_pair",
    "to_raw_frame",
    "to_rggb",
    "train",
    "training_crop_size",
    "training_loss",
    "unprocess",
    "warm_start",
    "weighted_objective",
]
