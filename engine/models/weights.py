"""Model weights: safetensors files plus a JSON model card.

A model on disk is ``NAME.safetensors`` with ``NAME.json`` beside it. The card says which
registered architecture and config to build, the output colour space, how it was trained and
what it measured. Loading is strict (every key, every shape) and never unpickles anything: a
``.pth``/``.pt``/``.ckpt`` can run arbitrary code when loaded, so those are refused outright.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from engine.errors import ModelError
from engine.files import JsonTooBigError, atomic_write_bytes, read_json_file
from engine.models.card import ModelCard
from engine.models.registry import create_model, list_models
from engine.resources import bundled_models_dir, model_for_sensor

PICKLE_SUFFIXES = {".pth", ".pt", ".ckpt", ".pkl", ".pickle", ".bin", ".tar"}
#: A model card larger than this is not a model card, bytes.
MAX_CARD_BYTES = 1 << 20
#: Deepest nesting of lists and objects a card may have.
MAX_CARD_DEPTH = 16
#: Largest network a card may ask for (the biggest shipped variant has 31 M).
MAX_PARAMETERS = 200_000_000


@dataclass
class ModelEntry:
    """A model the app can offer: a registered variant, with weights or not yet, another
    bundled model, a user's model, or a model whose card is damaged (``problem`` says why; it
    is listed, disabled, never loaded). ``bundled``: shipped with the app."""

    name: str
    architecture: str
    weights_path: Path | None
    card: ModelCard | None
    problem: str | None = None
    bundled: bool = False

    @property
    def has_weights(self) -> bool:
        return self.weights_path is not None and self.card is not None


def card_path_for(weights_path: Path) -> Path:
    return weights_path.with_suffix(".json")


def read_card(weights_path: Path) -> ModelCard:
    """The card beside ``weights_path``, migrated and checked (see :class:`ModelCard`).

    Raises:
        ModelError: missing, too large, too deeply nested, not JSON, or invalid (one line).
    """
    path = card_path_for(weights_path)
    if not path.is_file():
        raise ModelError(f"{weights_path}: model card {path.name} is missing")
    try:
        data = read_json_file(path, MAX_CARD_BYTES, MAX_CARD_DEPTH)
    except JsonTooBigError as exc:
        raise ModelError(f"{path}: not a model card ({exc})") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable model card ({exc})") from None
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


def save_tensors(model: nn.Module, path: Path) -> None:
    """Write ``model``'s state as float32 safetensors (no card), atomically: a checkpoint of
    weights only, read back with :func:`read_tensors`."""
    from safetensors.torch import save

    state = {k: v.detach().to("cpu", torch.float32).contiguous()
             for k, v in model.state_dict().items()}  # fmt: skip
    atomic_write_bytes(path, save(state))


def write_card(weights_path: Path, card: ModelCard) -> None:
    """Write (or replace) the JSON card beside ``weights_path``, atomically."""
    atomic_write_bytes(card_path_for(weights_path), card.to_bytes())


def load_model(weights_path: str | os.PathLike[str]) -> tuple[nn.Module, ModelCard]:
    """Build the card's architecture and load the weights with strict key and shape matching.

    Returns:
        The model in eval mode, float32, on the CPU (the runner moves it), and its card.
    """
    path = check_weights_path(weights_path)
    card = read_card(path)
    check_weights_fit(path, card)  # before building: a card may ask for a giant network
    state = read_tensors(path)
    model = create_model(card.architecture, **card.config)
    state = {k: v.float() for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "mismatch"
        raise ModelError(f"{path}: weights do not match {card.architecture}: {first}") from None
    return model.eval(), card


def check_weights_path(weights_path: str | os.PathLike[str]) -> Path:
    """``weights_path`` if it names an existing ``.safetensors`` file.

    Raises:
        ModelError: a pickle-based checkpoint (refused unopened: loading one can run code),
            another kind of file, or no file at all.
    """
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
    return path


def read_tensors(weights_path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file, on the CPU (no card needed: warm starts).

    Raises:
        ModelError: see :func:`check_weights_path`, or a file that is not valid safetensors.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = check_weights_path(weights_path)
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable weights ({exc.__class__.__name__})") from None


def model_entries(extra_dirs: list[Path] | None = None) -> list[ModelEntry]:
    """Every registered variant (with its bundled weights if shipped), the other bundled
    models (versions of a variant, such as ``fast-xtrans``), then user models.

    A model whose card cannot be read is still listed, with ``problem`` set and no weights, so
    the front ends can say why it is disabled; nothing here raises for a bad file.
    """
    entries: list[ModelEntry] = []
    bundled = bundled_models_dir()
    for variant in list_models():
        path = bundled / f"{variant}.safetensors"
        card, problem = _card_or_problem(path) if path.is_file() else (None, None)
        entries.append(ModelEntry(variant, variant, path if card else None, card, problem,
                                  bundled=True))  # fmt: skip
    for folder in [bundled, *(extra_dirs or [])]:
        for path in sorted(folder.glob("*.safetensors")):
            if path.name.startswith(".") or (folder == bundled and path.stem in list_models()):
                continue
            card, problem = _card_or_problem(path)
            architecture = card.architecture if card else "unknown"
            entries.append(ModelEntry(path.stem, architecture, path if card else None, card,
                                      problem, bundled=folder == bundled))  # fmt: skip
    return entries


def _card_or_problem(path: Path) -> tuple[ModelCard | None, str | None]:
    try:
        return read_card(path), None
    except ModelError as exc:
        return None, str(exc)


def check_weights_fit(path: Path, card: ModelCard) -> int:
    """Check that the card's network matches the file's tensors, without allocating either:
    the network is built on the meta device, the file's header read for names and shapes.

    Returns:
        The network's parameter count.

    Raises:
        ModelError: an invalid or oversized config, unreadable weights, or tensors that do
            not match the card's architecture (one line).
    """
    from safetensors import SafetensorError, safe_open

    try:
        with torch.device("meta"):
            model = create_model(card.architecture, **card.config)
    except (RuntimeError, OverflowError, MemoryError) as exc:
        reason = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise ModelError(f"{path}: invalid config for {card.architecture}: {reason}") from None
    params = sum(p.numel() for p in model.parameters())
    if params > MAX_PARAMETERS:
        raise ModelError(f"{path}: card asks for {params:,} parameters; refusing to build it")
    try:
        with safe_open(str(path), framework="pt") as fh:
            shapes = {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable weights ({exc.__class__.__name__})") from None
    wanted = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if shapes != wanted:
        odd = sorted(set(shapes) ^ set(wanted)) or [k for k in wanted if shapes[k] != wanted[k]]
        raise ModelError(
            f"{path}: weights do not match {card.architecture} as the card configures it "
            f"(first difference: {odd[0]})"
        )
    return params


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


def renders_sensor(model: str, sensor: str, extra_dirs: list[Path] | None = None) -> bool:
    """Whether ``model`` (a ``--model`` value; ``"none"`` is the classical render) can enhance
    a ``sensor`` (``"bayer"``, ``"x-trans"``) photo: itself, or through its version for that
    colour filter array (:func:`engine.resources.cfa_sibling`). A model that cannot be read
    renders nothing."""
    if model == "none":
        return True
    try:
        chosen = model_for_sensor(model, sensor)
        return sensor in read_card(resolve_model(chosen, extra_dirs)).sensors
    except ModelError:
        return False
