"""Fine-tuning through the noise input: profile only, the fitted profile in use, early stops."""

# The fixtures are test_finetune's, imported by name (pytest finds them so).
# ruff: noqa: F811
from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import DarkroomError
from engine.finetune import NoiseFit, fit_noise_profile
from engine.finetune.data import FinetunePairSource, load_finetune_pair
from engine.finetune.level_choice import decide_level
from engine.finetune.run_state import RunState
from engine.io import read_raw
from engine.models import ModelCard, create_model, read_tensors, save_model
from engine.noise import PROFILES, noise_level_for
from engine.render import Enhancer
from engine.train import PairFiles
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


def test_asked_for_the_frames_own_level_the_card_keeps_the_profile_unused(
    tmp_path: Path, shot
) -> None:
    """``noise_level="frame"``: the fitted profile is still recorded, but the app measures
    each photo's level as for a model never fine-tuned (these tiny frames are too small to
    measure: the fallback level)."""
    _, pairs = shot
    lib, base = tmp_path / "lib", _fast_base(tmp_path)
    result = _run(base, pairs, "frame level", lib, iterations=0, noise_level="frame")
    assert any(note == "noise level: as for any model, as asked" for note in result.notes)
    card = json.loads((lib / "frame level.json").read_text())
    assert card["noise_fit"]["camera"] == "Sony ILCE-7S"
    assert card["noise_fit_sets_level"] is False
    frame = read_raw(pairs[0].short)
    level = Enhancer(str(result.weights_path), device="cpu").noise_level(frame)
    assert level == noise_level_for(frame) and "Sony ILCE-7S" not in level.source


def _choice_note(notes: list[str]) -> str:
    return next(n for n in notes if n.startswith("noise level: the base model scored"))


def _scores(note: str) -> tuple[float, float]:
    """The fitted profile's and the frame's dB from a :class:`LevelChoice` note."""
    found = re.findall(r"(-?\d+\.\d+) dB", note)
    assert len(found) == 2, note
    return float(found[0]), float(found[1])


def test_auto_keeps_the_level_the_base_model_scores_higher_with(
    tmp_path: Path, shot, monkeypatch
) -> None:
    """A fit that overstates the read noise 30 times tells the shipped default to smooth far
    too hard: scored on the pairs, the frame's own level wins, and the saved model uses it.
    With the honest fit, whichever scored higher is kept."""
    from engine.finetune import run as finetune_run
    from engine.models import resolve_model

    _, pairs = shot
    lib, base = tmp_path / "lib", resolve_model("fast")
    real_fit = finetune_run.fit_noise_profile

    def overstated(*args: object, **kwargs: object) -> NoiseFit:
        fit = real_fit(*args, **kwargs)
        profile = replace(fit.profile, read_intercept=fit.profile.read_intercept + math.log(30))
        return replace(fit, profile=profile)

    honest = _run(base, pairs, "honest", lib, iterations=0, validation_crop=256)
    fitted_db, frame_db = _scores(_choice_note(honest.notes))
    card = json.loads((lib / "honest.json").read_text())
    assert card["noise_fit_sets_level"] is (fitted_db >= frame_db)

    monkeypatch.setattr(finetune_run, "fit_noise_profile", overstated)
    result = _run(base, pairs, "overstated", lib, iterations=0, validation_crop=256)
    note = _choice_note(result.notes)
    fitted_db, frame_db = _scores(note)
    assert frame_db > fitted_db + 0.5, note
    assert note.endswith("the new model takes the level found as for any model")
    assert json.loads((lib / "overstated.json").read_text())["noise_fit_sets_level"] is False
    frame = read_raw(pairs[0].short)
    level = Enhancer(str(result.weights_path), device="cpu").noise_level(frame)
    assert level == noise_level_for(frame) and "Sony ILCE-7S" not in level.source


def test_found_levels_put_synthetic_crops_on_the_scale_the_app_measures(
    tmp_path: Path, shot
) -> None:
    """Without the fitted profile's level, a synthetic crop's drawn level is scaled by what the
    real short frames measure against the profile: a profile overstating the read noise 30
    times has its floor scaled back by about 900, its drawn levels unchanged otherwise."""
    _, pairs = shot
    loaded = [load_finetune_pair(PairFiles(p.short, p.long), keep_long=True) for p in pairs]
    honest = fit_noise_profile([(u.pair.dark, u.long, u.pair.ratio) for u in loaded]).profile
    profile = replace(honest, read_intercept=honest.read_intercept + math.log(30))
    sources = [
        FinetunePairSource(loaded, 64, profile, 0.99, fitted_levels=f) for f in (True, False)
    ]
    assert sources[0].found_scale == (1.0, 1.0)  # unused with the fitted profile's levels
    gain_scale, floor_scale = sources[1].found_scale
    assert 0.5 < gain_scale < 2.0 and floor_scale < 1 / 100
    drawn, found = (s.sample(np.random.default_rng(1)) for s in sources)
    assert "synthetic" in drawn.name and "synthetic" in found.name
    assert found.noise.gain == pytest.approx(drawn.noise.gain * gain_scale)
    assert found.noise.floor == pytest.approx(drawn.noise.floor * floor_scale)
    np.testing.assert_array_equal(found.dark.mosaic, drawn.dark.mosaic)


def test_run_states_from_before_the_choice_keep_the_fitted_profile() -> None:
    """A run scored before the choice existed resumes on the level its history was scored
    with; one not yet scored decides; a hand-edited value is one line."""
    state = RunState(base="b", pairs=[("s", "l")], variant="fast", strategy="plain",
                     model_config={}, batch_size=1, seed=0, lr=1e-4, step_size=10, gamma=0.8,
                     epoch_iterations=20, patch=64, validation_pairs=1)  # fmt: skip
    old = {k: v for k, v in state.to_json().items() if k != "noise_fit_sets_level"}
    assert RunState.from_json(old, "run.json").noise_fit_sets_level is None
    scored = RunState.from_json({**old, "psnr_before": 20.0}, "run.json")
    assert scored.noise_fit_sets_level is True
    with pytest.raises(DarkroomError, match="noise_fit_sets_level"):
        RunState.from_json({**old, "noise_fit_sets_level": "no"}, "run.json")


def test_nothing_to_choose_without_a_fit_or_a_noise_input() -> None:
    tiny = create_model("fast", **TINY_FAST)
    baseline = create_model("baseline", base_features=4, levels=2)
    profile = next(iter(PROFILES.values()))
    cpu = torch.device("cpu")
    assert decide_level("auto", tiny, None, [], 64, cpu) == (True, "")
    assert decide_level("auto", baseline, profile, [], 64, cpu) == (True, "")
    assert decide_level("frame", tiny, profile, [], 64, cpu) == (
        False, "noise level: as for any model, as asked")  # fmt: skip
