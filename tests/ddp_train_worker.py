"""Run by ``torchrun`` from ``tests/test_distributed.py``: a few DDP training steps on tiny
synthetic photos; every rank saves the weights it ended with and the losses it logged.

Usage: ``torchrun --standalone --nproc_per_node N tests/ddp_train_worker.py OUT_DIR VARIANT``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from safetensors.torch import save_file

from engine import distributed
from engine.train import TrainConfig, TrainingPair, synthesise_pair, train
from tests.conftest import smooth_scene

TINY = {"base_features": 4, "levels": 2}


class TinyPhotos:
    """Three fixed 64 x 64 photos; a crop's photo and noise come from the generator it gets."""

    def __init__(self) -> None:
        self.photos = [smooth_scene(64, 64, seed) ** (1 / 2.2) for seed in range(3)]

    def __len__(self) -> int:
        return len(self.photos)

    def sample(self, rng: np.random.Generator) -> TrainingPair:
        photo = self.photos[int(rng.integers(len(self.photos)))]
        return synthesise_pair(photo, rng, ratio=20.0)


def config(variant: str, batch_size: int) -> TrainConfig:
    """The run both the DDP ranks and the one-process comparison make."""
    return TrainConfig(variant=variant, model_config=TINY,
                       iterations=4, batch_size=batch_size, lr=1e-3, device="cpu", seed=5,
                       precision="fp32", per_sample_seeds=True)  # fmt: skip


def main() -> None:
    out, variant = Path(sys.argv[1]), sys.argv[2]
    group = distributed.init_from_env("cpu")
    result = train(config(variant, batch_size=2), TinyPhotos())
    state = {k: v.contiguous() for k, v in result.model.state_dict().items()}
    save_file(state, out / f"rank{group.rank}.safetensors")
    (out / f"rank{group.rank}.json").write_text(json.dumps(
        {"losses": result.losses, "notes": [*result.notes, result.parallel],
         "world": group.world_size}))  # fmt: skip
    distributed.shutdown()


if __name__ == "__main__":
    main()
