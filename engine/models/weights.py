"""Model weights: safetensors files plus a JSON model card.

A model on disk is ``NAME.safetensors`` with ``NAME.json`` beside it. The card says which
registered architecture and config to build, the output colour space, how it was trained and
what it measured. Loading is strict (every key, every shape) and never unpickles anything: a
``.pth``/``.pt``/``.ckpt`` can run arbitrary code when loaded, so those are refused outright.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from engine.errors import ModelError
from engine.files import atomic_write_bytes
from engine.models.card import ModelCard
from engine.models.registry import create_model, list_models
from engine.resources import bundled_models_dir

PICKLE_SUFFIXES = {".pth", ".pt", ".ckpt", ".pkl", ".pickle", ".bin", ".tar"}


@dataclass
class ModelEntry:
    """A model the app can offer: a registered variant, with weights or not yet."""

    name: str
    architecture: str
    weights_path: Path | None
    card: ModelCard | None

    @property
    def has_weights(self) -> bool:
        return self.weights_path is not None and self.card is not None


def card_path_for(weights_path: Path) -> Path:
    return weights_path.with_suffix(".json")


def read_card(weights_path: Path) -> ModelCard:
    path = card_path_for(weights_path)
    if not path.is_file():
        raise ModelError(f"{weights_path}: model card {path.name} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelError(f"{path}: unreadable model card ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: model card is not a JSON object")
    try:
        return ModelCard.from_json(data, str(path))
    except TypeError as exc:
        raise ModelError(f"{path}: invalid model card ({exc})") from None


def save_model(
    model: nn.Module, card: ModelCard, weights_path: Path, dtype: torch.dtype = torch.float16
) -> None:
    """Write ``model`` as safetensors (``dtype``) plus its card, each atomically."""
    from safetensors.torch import save

    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    meta = {"architecture": card.architecture, "name": card.name}
    atomic_write_bytes(weights_path, save(state, metadata=meta))
    write_card(weights_path, card)


def write_card(weights_path: Path, card: ModelCard) -> None:
    """Write (or replace) the JSON card beside ``weights_path``, atomically."""
    atomic_write_bytes(card_path_for(weights_path), card.to_bytes())


def load_model(weights_path: str | os.PathLike[str]) -> tuple[nn.Module, ModelCard]:
    """Build the card's architecture and load the weights with strict key and shape matching.

    Returns:
        The model in eval mode, float32, on the CPU (the runner moves it), and its card.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(weights_path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelError(
            f"{path}: refusing to load a pickle-based checkpoint ({path.suffix}); "
            "convert it to .safetensors with a model card"
        )
    if path.suffix.lower() != ".safetensors":
        raise ModelError(f"{path}: weights must be a .safetensors file")
    if not path.is_file():
        raise ModelError(f"{path}: no such weights file")
    card = read_card(path)
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable weights ({exc.__class__.__name__})") from None
    model = create_model(card.architecture, **card.config)
    state = {k: v.float() for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "mismatch"
        raise ModelError(f"{path}: weights do not match {card.architecture}: {first}") from None
    return model.eval(), card


def model_entries(extra_dirs: list[Path] | None = None) -> list[ModelEntry]:
    """Every registered variant (with its bundled weights if shipped), then user models."""
    entries: list[ModelEntry] = []
    bundled = bundled_models_dir()
    for variant in list_models():
        path = bundled / f"{variant}.safetensors"
        card = None
        if path.is_file():
            try:
                card = read_card(path)
            except ModelError:
                card = None
        entries.append(ModelEntry(variant, variant, path if card else None, card))
    for folder in extra_dirs or []:
        for path in sorted(folder.glob("*.safetensors")):
            try:
                card = read_card(path)
            except ModelError:
                continue
            entries.append(ModelEntry(path.stem, card.architecture, path, card))
    return entries


def resolve_model(name_or_path: str, extra_dirs: list[Path] | None = None) -> Path:
    """Map a ``--model`` value (variant name, user model name or file path) to a weights file.

    Raises:
        ModelError: unknown name, or a known variant whose weights are not shipped yet.
    """
    candidate = Path(name_or_path)
    if candidate.suffix.lower() in PICKLE_SUFFIXES | {".safetensors"}:
        return candidate
    entries = {e.name: e for e in model_entries(extra_dirs)}
    entry = entries.get(name_or_path)
    if entry is None:
        known = ", ".join(["none", *entries])
        raise ModelError(f"unknown model {name_or_path!r} (known: {known})")
    if not entry.has_weights:
        raise ModelError(
            f"model {name_or_path!r} has no trained weights yet; "
            "use --model none or train one with 'darkroom-cli train'"
        )
    assert entry.weights_path is not None
    return entry.weights_path
