"""How a batch's crops share the training objective (``--loss-weighting``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias

from engine.errors import DarkroomError
from engine.train import LOG_L1_FLOOR, TrainConfig, train, weighted_objective
from tests.test_training import TINY, _Photos


def _two_crops(errors: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of two crops whose output is off the target by ``errors`` everywhere."""
    wanted = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.5
    offset = torch.tensor(errors).view(2, 1, 1, 1)
    return (wanted + offset).requires_grad_(True), wanted


def test_mean_weighting_is_the_batch_l1() -> None:
    shown, wanted = _two_crops((0.01, 0.2))
    value = weighted_objective(shown, wanted, "mean")
    assert value.item() == pytest.approx(F.l1_loss(shown, wanted).item())


def test_log_weighting_gives_each_crop_the_same_relative_weight() -> None:
    clean, noisy = 0.004, 0.2
    shown, wanted = _two_crops((clean, noisy))
    value = weighted_objective(shown, wanted, "log")
    expected = (np.log(clean + LOG_L1_FLOOR) + np.log(noisy + LOG_L1_FLOOR)) / 2
    assert value.item() == pytest.approx(expected, rel=1e-5)
    value.backward()
    per_crop = shown.grad.abs().flatten(1).sum(dim=1)
    # Each crop's gradient is its L1's divided by its L1 (plus the floor): the clean crop's is
    # larger by the ratio of the two errors, where plain L1 gives both the same.
    ratio = (noisy + LOG_L1_FLOOR) / (clean + LOG_L1_FLOOR)
    assert (per_crop[0] / per_crop[1]).item() == pytest.approx(ratio, rel=1e-4)

    shown.grad = None
    weighted_objective(shown, wanted, "mean").backward()
    per_crop = shown.grad.abs().flatten(1).sum(dim=1)
    assert (per_crop[0] / per_crop[1]).item() == pytest.approx(1.0)


def test_unknown_weighting_is_refused() -> None:
    shown, wanted = _two_crops((0.1, 0.1))
    with pytest.raises(DarkroomError, match="loss weighting"):
        weighted_objective(shown, wanted, "median")
    config = TrainConfig(variant="baseline", model_config=TINY, iterations=1, device="cpu",
                         loss_weighting="median")  # fmt: skip
    with pytest.raises(DarkroomError, match="loss weighting"):
        train(config, _Photos())


def test_log_weighted_training_lowers_the_l1() -> None:
    config = TrainConfig(variant="baseline", model_config=TINY, iterations=60, batch_size=2,
                         lr=3e-3, device="cpu", seed=0, loss_weighting="log")  # fmt: skip
    result = train(config, _Photos())
    # The log reports the plain L1 whatever the objective, so runs stay comparable.
    first, last = np.mean(result.losses[:10]), np.mean(result.losses[-10:])
    assert last < 0.8 * first, (first, last)


def test_cli_records_the_weighting_on_the_card(
    photo_folder: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from engine.cli import main

    out = tmp_path / "tiny.safetensors"
    code = main(["train", "--variant", "baseline", "--data", str(photo_folder), "--iterations",
                 "2", "--out", str(out), "--config", json.dumps(TINY), "--crop", "64",
                 "--device", "cpu", "--loss-weighting", "log"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    notes = json.loads(out.with_suffix(".json").read_text())["notes"]
    assert "log L1" in notes, notes
