"""Where a fine-tuned model takes its noise level from: the fitted profile, or the frame.

A noise-aware network is told each photo's noise level (:mod:`engine.noise`). A fine-tune fits
the camera's noise profile, and a model saved with it would take every frame's level from that
profile's ISO calibration: the fitted noise's whole variance, heavy tails included. Found as
for any model instead, the level comes from a shipped profile of the camera or, for a camera
none knows (the usual reason to fine-tune), is measured on the frame itself, whose estimator
reads the bulk of the noise and cancels row offsets. Which of the two a network does better
with depends on the camera and the network: on issue 19's invented camera (twice the read
noise of the published profiles, heavier tails, strong row noise) the fitted profile's level
cost the shipped default 0.35 dB on held-out pairs against the frame's own.

So ``auto`` (the default, :attr:`~engine.finetune.FinetuneSettings.noise_level`) scores the
base model both ways on the training pairs, before any training step, and keeps the better;
ties keep the fitted profile. The held-out pairs are left out: their score is the run's
baseline. Real training crops, validation and the saved card
(:attr:`~engine.models.ModelCard.noise_fit_sets_level`) then use that source; synthetic crops
carry the level drawn for them (fitted) or the level measured on the crop itself (found as for
any model, as the app would measure an unknown camera's frame).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from engine.finetune.data import Validation
from engine.models import NO_FINISHING, Finishing
from engine.noise import NoiseProfile
from engine.train import TrainingPair


@dataclass(frozen=True)
class LevelChoice:
    """The base model's mean validation PSNR (dB) over ``pairs`` pairs, told the level by the
    fitted profile (``fitted_db``) and found as for any model (``found_db``)."""

    fitted_db: float
    found_db: float
    pairs: int

    @property
    def uses_fit(self) -> bool:
        """Whether the fitted profile's level scored at least as well as the other."""
        return self.fitted_db >= self.found_db

    def describe(self) -> str:
        """One line for the run's notes and the card."""
        fitted = f"the fitted profile's {self.fitted_db:.2f} dB"
        found = f"the level found as for any model {self.found_db:.2f} dB"
        kept = "the fitted profile's" if self.uses_fit else "the level found as for any model"
        return (f"noise level: the base model scored {fitted} and {found} on the "
                f"{self.pairs} training pair(s) before training; the new model takes "
                f"{kept}")  # fmt: skip


def level_profiles(fit: NoiseProfile | None, uses_fit: bool) -> list[NoiseProfile]:
    """The profiles the pairs' noise levels are looked up in before the shipped ones."""
    return [fit] if fit is not None and uses_fit else []


def compare_level_sources(
    model: nn.Module,
    pairs: Sequence[TrainingPair],
    fit: NoiseProfile,
    side: int,
    device: torch.device,
    finishing: Finishing = NO_FINISHING,
) -> LevelChoice:
    """Mean PSNR (dB, developed sRGB) of ``model`` on centre crops of ``pairs`` (``side``
    sensor pixels at most), each crop's noise level taken from ``fit``, then as the app
    finds it for a model without one (a shipped profile of the camera, else measured on the
    frame). ``finishing``: the steps after the network the base model's card asks for, taken
    with the same level."""
    fitted = Validation.build(pairs, side, "fitted profile", [fit],
                              finishing=finishing).score(model, device)  # fmt: skip
    found = Validation.build(pairs, side, "as for any model", [],
                             finishing=finishing).score(model, device)  # fmt: skip
    return LevelChoice(fitted, found, len(pairs))


def decide_level(
    asked: Literal["auto", "fitted", "frame"] | str,
    base: nn.Module | None,
    fit: NoiseProfile | None,
    pairs: Sequence[TrainingPair],
    side: int,
    device: torch.device,
    report: Callable[[str], None] = lambda _text: None,
    finishing: Finishing = NO_FINISHING,
) -> tuple[bool, str]:
    """``(the new model takes its level from the fitted profile, a note saying why)``.

    Args:
        asked: :attr:`~engine.finetune.FinetuneSettings.noise_level` (``auto``: by
            :func:`compare_level_sources` on ``pairs``, centre crops of side ``side``).
        base: the base model; one without a noise input has nothing to choose.
        fit: the fitted profile (``None``: nothing to choose).
        report: told what is being scored, when something is.
        finishing: the base model's card's (:func:`compare_level_sources`).
    """
    if fit is None or base is None or not getattr(base, "noise_input", False):
        return True, ""
    if asked != "auto":
        where = "the fitted profile" if asked == "fitted" else "as for any model"
        return asked == "fitted", f"noise level: {where}, as asked"
    report("scoring the fitted noise profile against the level found as for any model")
    choice = compare_level_sources(base, pairs, fit, side, device, finishing)
    return choice.uses_fit, choice.describe()
