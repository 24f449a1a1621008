"""Fine-tuning through the noise input: profile only, the fitted profile in use, early stops."""

# The fixtures are test_finetune's, imported by name (pytest finds them so).
# ruff: noqa: F811
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engine.io import read_raw
from engine.models import ModelCard, create_model, read_tensors, save_model
from engine.render import Enhancer
from tests.test_finetune import _base, _run, shot  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_FAST = {"widths": [4, 6, 8], "encoder_convs": [1, 1, 1], "decoder_convs": [1, 1]}


def _fast_base(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    model = create_model("fast", **TINY_FAST)
    path = tmp_path / "fast-base.safetensors"
    save_model(model, ModelCard(name="fast-base", architecture="fast", config=model.config),
               path, dtype=torch.float32)  # fmt: skip
    return path


def test_zero_iterations_saves_the_base_with_the_cameras_profile(tmp_path: Path, shot) -> None:
    """The fitted profile rides on the card, the weights are the base's, and the app then
    takes that camera's noise level from the profile (its ISO calibration), not a guess."""
    _, pairs = shot
    lib, base = tmp_path / "lib", _fast_base(tmp_path)
    result = _run(base, pairs, "profile only", lib, iterations=0)
    assert result.iterations == 0 and result.losses == []
    assert any("noise profile only" in note for note in result.notes)
    card = json.loads((lib / "profile only.json").read_text())
    assert card["noise_fit"]["camera"] == "Sony ILCE-7S"
    saved, original = read_tensors(result.weights_path), read_tensors(base)
    assert saved.keys() == original.keys()
    assert all(torch.allclose(saved[k].float(), original[k], atol=1e-3) for k in saved)
    frame = read_raw(pairs[0].short)
    level = Enhancer(str(result.weights_path), device="cpu").noise_level(frame)
    assert level.source == "Sony ILCE-7S profile at ISO 800"


def test_a_run_whose_validation_falls_stops_and_keeps_its_best(tmp_path: Path, shot) -> None:
    """A far too high learning rate wrecks the model: the run stops after `patience`
    validations without a better score and saves the best weights it had (here the base)."""
    _, pairs = shot
    lib, base = tmp_path / "lib", _base(tmp_path)
    result = _run(base, pairs, "wrecked", lib, iterations=40, validate_every=4, lr=5.0,
                  patience=2, synthetic=False)  # fmt: skip
    steps = [step for step, _ in result.history]
    assert steps[-1] < 40  # stopped early
    best_step, best = max(result.history, key=lambda h: (h[1], -h[0]))
    assert result.iterations == best_step and result.psnr_after == best
    assert any("stopped early" in note for note in result.notes)
    if best_step == 0:
        saved, original = read_tensors(result.weights_path), read_tensors(base)
        assert all(torch.allclose(saved[k].float(), original[k], atol=1e-3) for k in saved)
    assert not (lib / ".work" / "wrecked").exists()
