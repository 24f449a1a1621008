"""The user's model library: fine-tuned and imported models in a per-user data folder.

A model is ``NAME.safetensors`` plus its card ``NAME.json`` (see :mod:`engine.models.weights`). The
folder is, first match wins: the ``library`` argument of every function here, the
``DARKROOM_MODELS_DIR`` environment variable, or ``platformdirs.user_data_path("Darkroom",
"Darkroom") / "models"`` (the folder the app's Preferences default to, so the app's model menu
lists these models). Interrupted fine-tunes keep their checkpoints in ``.work/NAME/`` inside it.

Every write is atomic per file (a temporary file in the destination folder, fsynced, then
``os.replace``), and multi-file operations undo what they did on failure, so a full disk or a
bad import never leaves a half model behind or touches the models already there. Imports are
validated by :func:`engine.models.weights.load_model` (strict keys and shapes, no unpickling).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from engine.errors import ModelError
from engine.files import install_staged, rename_noreplace, stage_bytes
from engine.models.card import ModelCard
from engine.models.registry import list_models
from engine.models.weights import (
    PICKLE_SUFFIXES,
    card_path_for,
    load_model,
    read_card,
)
from engine.resources import library_dir

#: Sub-folder for fine-tuning checkpoints (hidden, so model scans never see it).
WORK_FOLDER = ".work"
# Letters and digits of any script (\w), so "Nacht Köln" is fine; no path characters.
_NAME = re.compile(r"^[^\W_][\w .+-]{0,79}$")
_RESERVED = {"none", "auto", "all"}


def work_dir(name: str, library: str | os.PathLike[str] | None = None) -> Path:
    """Where a fine-tune of model ``name`` keeps its checkpoint (not created here)."""
    return library_dir(library) / WORK_FOLDER / check_name(name)


def check_name(name: str) -> str:
    """Validate a model name (it becomes a file name and a ``--model`` value).

    Raises:
        ModelError: empty, too long, path-like, hidden, or the name of a built-in variant.
    """
    name = str(name).strip()
    if not _NAME.fullmatch(name) or name.endswith((".", " ")):
        raise ModelError(
            f"invalid model name {name!r}: use 1-80 letters, digits, spaces, '.', '_', '+' or "
            "'-', starting with a letter or digit"
        )
    from engine.resources import bundled_models_dir

    bundled = (bundled_models_dir() / f"{name}.safetensors").is_file()
    if name.lower() in _RESERVED or name in list_models() or bundled:
        raise ModelError(f"model name {name!r} is reserved (a built-in model or option)")
    return name


@dataclass(frozen=True)
class LibraryModel:
    """One model in the library.

    Attributes:
        name: the file stem (what ``--model`` takes).
        weights_path: the ``.safetensors`` file.
        card: its card, or ``None`` when the card is missing or invalid.
        size_bytes: size of the weights file.
        problem: why the card could not be read (one line), else ``None``.
    """

    name: str
    weights_path: Path
    card: ModelCard | None
    size_bytes: int
    problem: str | None = None

    @property
    def card_path(self) -> Path:
        return card_path_for(self.weights_path)


def _weights_path(name: str, library: Path) -> Path:
    """The weights file of a model name that :func:`check_name` has passed (the only way a
    user's name becomes a path: no separators, no ``..``, no control characters)."""
    return library / f"{name}.safetensors"


def _entry(path: Path) -> LibraryModel:
    try:
        card, problem = read_card(path), None
    except ModelError as exc:
        card, problem = None, str(exc)
    size = path.stat().st_size if path.is_file() else 0
    return LibraryModel(path.stem, path, card, size, problem)


def list_library(library: str | os.PathLike[str] | None = None) -> list[LibraryModel]:
    """Every model in the library, by name; a missing folder is an empty library."""
    root = library_dir(library)
    if not root.is_dir():
        return []
    _remove_orphan_cards(root)
    paths = sorted(root.glob("*.safetensors"), key=lambda p: p.stem.lower())
    return [_entry(p) for p in paths if not p.name.startswith(".")]


#: A card without weights older than this is an install that never finished, seconds.
_ORPHAN_AGE_S = 600


def _remove_orphan_cards(root: Path) -> None:
    """Delete cards whose weights never arrived (an install killed between its two files:
    the card goes first, so a listing never shows half a model). Young ones are left alone,
    in case another process is between the two steps right now."""
    now = time.time()
    for card in root.glob("*.json"):
        if card.name.startswith(".") or card.with_suffix(".safetensors").exists():
            continue
        with contextlib.suppress(OSError):
            if now - card.stat().st_mtime > _ORPHAN_AGE_S:
                card.unlink()


def get_model(name: str, library: str | os.PathLike[str] | None = None) -> LibraryModel:
    """A library model by name.

    Raises:
        ModelError: no model of that name.
    """
    path = _weights_path(check_name(name), library_dir(library))
    if not path.is_file():
        raise ModelError(f"no model named {name!r} in {library_dir(library)}")
    return _entry(path)


# --------------------------------------------------------------------------------------------
# Errors


def _describe_os_error(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


@contextmanager
def _library_write(what: str) -> Iterator[None]:
    """Turn file-system failures of a library operation into one-line :class:`ModelError`."""
    try:
        yield
    except OSError as exc:
        raise ModelError(f"{what}: {_describe_os_error(exc)}") from None


# --------------------------------------------------------------------------------------------
# Operations


def save_to_library(
    model: nn.Module,
    card: ModelCard,
    library: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    dtype: torch.dtype = torch.float16,
) -> Path:
    """Add a trained model as ``card.name`` (weights as float16 safetensors plus the card).

    Returns:
        The weights path.

    Raises:
        ModelError: bad or existing name (unless ``overwrite``), or the write failed (disk
            full...); the library is then exactly as before.
    """
    from safetensors.torch import save

    name = check_name(card.name)
    root = library_dir(library)
    final = _weights_path(name, root)
    if final.exists() and not overwrite:
        raise ModelError(f"a model named {name!r} already exists in {root}")
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    card = replace(card, name=name)
    with _library_write(f"could not save model {name!r} to {root}"):
        root.mkdir(parents=True, exist_ok=True)
        weights = save(state, metadata={"architecture": card.architecture, "name": name})
        _install_with_card(root, final, stage_bytes(final, weights), card, overwrite)
    return final


def _install_with_card(
    root: Path, final: Path, tmp_weights: Path, card: ModelCard, overwrite: bool
) -> None:
    """Write the card beside already-written temporary weights, then install both: the card
    first, the weights last, so the model is listed only once both are there."""
    try:
        tmp_card = stage_bytes(card_path_for(final), card.to_bytes())
    except BaseException:
        tmp_weights.unlink(missing_ok=True)
        raise
    install_staged([(tmp_card, card_path_for(final)), (tmp_weights, final)], overwrite=overwrite)


def rename_model(old: str, new: str, library: str | os.PathLike[str] | None = None) -> LibraryModel:
    """Rename a model: both files and the name in its card.

    Raises:
        ModelError: no such model, an invalid or existing new name, or a failed write (the
            model then keeps its old name and files).
    """
    root = library_dir(library)
    entry = get_model(old, root)
    new = check_name(new)
    if new == entry.name:
        return entry
    target = _weights_path(new, root)
    # Case-only renames on case-insensitive disks are the same file; anything else existing
    # is another model.
    if target.exists() and not _same_file(target, entry.weights_path):
        raise ModelError(f"a model named {new!r} already exists")
    if entry.card is None:
        raise ModelError(f"{entry.weights_path.name}: cannot rename: {entry.problem}")
    card = replace(entry.card, name=new)
    case_only = _same_file(target, entry.weights_path)
    with _library_write(f"could not rename {old!r} to {new!r}"):
        # The new card first (listed only once its weights arrive), then the weights in one
        # step that never replaces another model, then the old card.
        tmp_c = stage_bytes(card_path_for(target), card.to_bytes())
        try:
            os.replace(tmp_c, card_path_for(target))
        except BaseException:
            tmp_c.unlink(missing_ok=True)
            raise
        try:
            if case_only:
                os.replace(entry.weights_path, target)
            else:
                rename_noreplace(entry.weights_path, target)
        except BaseException:
            if not _same_file(card_path_for(target), entry.card_path):
                card_path_for(target).unlink(missing_ok=True)
            else:  # case-only: the card's old content back
                entry.card_path.write_bytes(entry.card.to_bytes())
            raise
        if not _same_file(card_path_for(target), entry.card_path):
            entry.card_path.unlink(missing_ok=True)
        old_work = root / WORK_FOLDER / entry.name
        if old_work.is_dir():
            shutil.rmtree(old_work, ignore_errors=True)  # a stale checkpoint of the old name
    return _entry(target)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def delete_model(name: str, library: str | os.PathLike[str] | None = None) -> None:
    """Delete a model's weights, card and any fine-tuning checkpoint.

    Raises:
        ModelError: no such model, or the files could not be removed.
    """
    root = library_dir(library)
    entry = get_model(name, root)
    with _library_write(f"could not delete model {name!r}"):
        # Weights first: a card left alone is ignored by every model scan.
        entry.weights_path.unlink()
        entry.card_path.unlink(missing_ok=True)
        work = root / WORK_FOLDER / entry.name
        if work.is_dir():
            shutil.rmtree(work, ignore_errors=True)


def export_model(
    name: str,
    destination: str | os.PathLike[str],
    library: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Copy a model (weights and card) into the folder ``destination`` (created if missing).

    Returns:
        The exported weights path.

    Raises:
        ModelError: no such model or card, files already there (unless ``overwrite``), or a
            failed write (nothing partial is left in ``destination``).
    """
    entry = get_model(name, library)
    if entry.card is None:
        raise ModelError(f"{entry.weights_path.name}: cannot export: {entry.problem}")
    dest = Path(destination).expanduser()
    if dest.suffix.lower() == ".safetensors":
        raise ModelError(f"{dest}: give a folder to export into, not a file name")
    final = dest / entry.weights_path.name
    for path in (final, card_path_for(final)):
        if path.exists() and not overwrite:
            raise ModelError(f"{path}: already exists")
    with _library_write(f"could not export {name!r} to {dest}"):
        dest.mkdir(parents=True, exist_ok=True)
        tmp_w = stage_bytes(final, entry.weights_path.read_bytes())
        try:
            tmp_c = stage_bytes(card_path_for(final), entry.card_path.read_bytes())
        except BaseException:
            tmp_w.unlink(missing_ok=True)
            raise
        install_staged([(tmp_c, card_path_for(final)), (tmp_w, final)], overwrite=overwrite)
    return final


def import_model(
    weights: str | os.PathLike[str],
    library: str | os.PathLike[str] | None = None,
    name: str | None = None,
    overwrite: bool = False,
) -> LibraryModel:
    """Copy a ``.safetensors`` model with its ``.json`` card beside it into the library.

    The model is validated first by building its card's architecture and loading the weights
    strictly; pickle-based files (``.pth``, ``.pt``, ``.ckpt``...) are refused without being
    opened.

    Args:
        weights: the ``.safetensors`` file.
        name: name in the library (default: the file's stem); written into the copied card.
        overwrite: replace a library model of that name.

    Raises:
        ModelError: not a ``.safetensors`` file, no card, invalid weights, a bad or existing
            name, or a failed write (the library is then as before).
    """
    source = Path(weights).expanduser()
    suffix = source.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise ModelError(
            f"{source.name}: refusing a pickle-based checkpoint ({source.suffix}), which can "
            "run code when loaded; import a .safetensors file with its .json card"
        )
    if suffix != ".safetensors":
        raise ModelError(f"{source.name}: import a .safetensors file (with its .json card)")
    if not source.is_file():
        raise ModelError(f"{source}: no such file")
    if not card_path_for(source).is_file():
        raise ModelError(f"{source.name}: its model card {card_path_for(source).name} is missing")
    _, card = load_model(source)  # strict validation; raises ModelError with the reason
    new = check_name(name if name is not None else source.stem)
    root = library_dir(library)
    final = _weights_path(new, root)
    if final.exists() and not overwrite:
        raise ModelError(f"a model named {new!r} already exists in {root}")
    card = replace(card, name=new)
    with _library_write(f"could not import {source.name} into {root}"):
        root.mkdir(parents=True, exist_ok=True)
        _install_with_card(root, final, stage_bytes(final, source.read_bytes()), card, overwrite)
    return _entry(final)
