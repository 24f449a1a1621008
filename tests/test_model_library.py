"""The user's model library: list, rename, delete, export, import; atomic on failure."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from engine.errors import ModelError
from engine.models import (
    ENV_VAR,
    ModelCard,
    check_name,
    create_model,
    default_library_dir,
    delete_model,
    export_model,
    get_model,
    import_model,
    list_library,
    load_model,
    rename_model,
    save_to_library,
    work_dir,
)

TINY = {"base_features": 4, "levels": 2}


def _add(library: Path, name: str) -> Path:
    model = create_model("baseline", **TINY)
    card = ModelCard(name=name, architecture="baseline", config=model.config, iterations=7)
    return save_to_library(model, card, library)


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) -> its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_library_folder_from_argument_env_or_user_data(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert default_library_dir() == tmp_path / "env"
    _add(tmp_path / "env", "from env")
    assert [m.name for m in list_library()] == ["from env"]
    assert list_library(tmp_path / "other") == []  # the argument wins; missing = empty
    monkeypatch.delenv(ENV_VAR)
    assert default_library_dir().parts[-1] == "models"
    assert work_dir("night", tmp_path) == tmp_path / ".work" / "night"


def test_names_are_checked() -> None:
    assert check_name(" Night A7S ") == "Night A7S"
    assert check_name("Nacht Köln") == "Nacht Köln"
    for bad in ("", "../x", "a/b", ".hidden", "baseline", "none", "x" * 81, "bad\nname", "a:b"):
        with pytest.raises(ModelError):
            check_name(bad)


def test_save_list_and_refuse_existing(tmp_path: Path) -> None:
    path = _add(tmp_path, "night")
    (entry,) = list_library(tmp_path)
    assert entry.name == "night" and entry.weights_path == path and entry.card is not None
    assert entry.card.iterations == 7 and entry.size_bytes == path.stat().st_size
    with pytest.raises(ModelError, match="already exists"):
        _add(tmp_path, "night")
    path.with_suffix(".json").write_text("{ not json")
    (broken,) = list_library(tmp_path)
    assert broken.card is None and "unreadable model card" in (broken.problem or "")


def test_rename_moves_both_files_and_the_card_name(tmp_path: Path) -> None:
    _add(tmp_path, "night")
    _add(tmp_path, "taken")
    (tmp_path / ".work" / "night").mkdir(parents=True)
    renamed = rename_model("night", "street", tmp_path)
    assert renamed.name == "street" and renamed.card is not None
    assert renamed.card.name == "street"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        "street.json", "street.safetensors", "taken.json", "taken.safetensors",
    ]  # fmt: skip
    assert not (tmp_path / ".work" / "night").exists()
    load_model(renamed.weights_path)
    with pytest.raises(ModelError, match="already exists"):
        rename_model("street", "taken", tmp_path)
    with pytest.raises(ModelError, match="no model named"):
        rename_model("night", "other", tmp_path)


def test_failed_rename_keeps_the_old_model(tmp_path: Path, monkeypatch) -> None:
    _add(tmp_path, "night")
    before = _files(tmp_path)
    real_replace = os.replace

    def replace_weights_only(src, dst):  # the card's move fails, as on a full disk
        if str(dst).endswith(".json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_weights_only)
    with pytest.raises(ModelError, match="No space left"):
        rename_model("night", "street", tmp_path)
    monkeypatch.undo()
    assert _files(tmp_path) == before


def test_delete_removes_both_files_and_the_checkpoint(tmp_path: Path) -> None:
    _add(tmp_path, "night")
    _add(tmp_path, "keep")
    (tmp_path / ".work" / "night").mkdir(parents=True)
    (tmp_path / ".work" / "night" / "finetune.ckpt").write_bytes(b"x")
    delete_model("night", tmp_path)
    assert [m.name for m in list_library(tmp_path)] == ["keep"]
    assert not (tmp_path / "night.json").exists() and not (tmp_path / ".work" / "night").exists()
    with pytest.raises(ModelError, match="no model named"):
        delete_model("night", tmp_path)


def test_export_then_import_round_trip(tmp_path: Path) -> None:
    lib, other = tmp_path / "lib", tmp_path / "other"
    _add(lib, "night")
    exported = export_model("night", tmp_path / "usb", lib)
    assert sorted(p.name for p in exported.parent.iterdir()) == ["night.json", "night.safetensors"]
    assert exported.read_bytes() == (lib / "night.safetensors").read_bytes()
    with pytest.raises(ModelError, match="already exists"):
        export_model("night", tmp_path / "usb", lib)
    imported = import_model(exported, other, name="friends night")
    assert imported.name == "friends night" and imported.card is not None
    assert imported.card.name == "friends night"
    _, card = load_model(imported.weights_path)
    assert card.iterations == 7
    with pytest.raises(ModelError, match="already exists"):
        import_model(exported, other, name="friends night")


def test_import_refuses_pickles_bad_weights_and_missing_cards(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    _add(lib, "keep")
    before = _files(lib)
    pickle = tmp_path / "model.pth"
    pickle.write_bytes(b"\x80\x04cos\nsystem\n(S'echo owned'\ntR.")  # would run if unpickled
    with pytest.raises(ModelError, match="refusing a pickle"):
        import_model(pickle, lib)
    (tmp_path / "model.onnx").write_bytes(b"x")
    with pytest.raises(ModelError, match=r"\.safetensors"):
        import_model(tmp_path / "model.onnx", lib)
    src = _add(tmp_path / "src", "good")
    corrupt = tmp_path / "src" / "corrupt.safetensors"
    corrupt.write_bytes(src.read_bytes()[:200])
    corrupt.with_suffix(".json").write_text(src.with_suffix(".json").read_text())
    with pytest.raises(ModelError, match="unreadable weights"):
        import_model(corrupt, lib)
    mismatched = json.loads(src.with_suffix(".json").read_text())
    mismatched["config"]["base_features"] = 8
    src.with_suffix(".json").write_text(json.dumps(mismatched))
    with pytest.raises(ModelError, match="do not match"):
        import_model(src, lib)
    src.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match=r"card .* is missing"):
        import_model(src, lib)
    assert _files(lib) == before


def test_disk_full_during_import_leaves_the_library_as_it_was(tmp_path: Path, monkeypatch) -> None:
    lib = tmp_path / "lib"
    _add(lib, "keep")
    src = _add(tmp_path / "src", "new")
    before = _files(lib)
    import engine.files as files

    real_publish = files._publish

    def card_fails(tmp: Path, final: Path, overwrite: bool) -> None:  # a full disk
        if final.name.endswith("new.json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_publish(tmp, final, overwrite)

    monkeypatch.setattr(files, "_publish", card_fails)
    with pytest.raises(ModelError, match=r"could not import new\.safetensors.*No space left"):
        import_model(src, lib)
    monkeypatch.undo()
    assert _files(lib) == before  # no new weights, no .part files


@pytest.mark.parametrize("name", ["../../outside", "..", "sub/model", "a\x00b", "x" * 200, ""])
def test_names_never_escape_the_library(tmp_path: Path, name: str) -> None:
    lib = tmp_path / "lib"
    _add(lib, "keep")
    victim = tmp_path / "outside.safetensors"
    victim.write_bytes(b"not yours")
    for act in (
        lambda: get_model(name, lib),
        lambda: delete_model(name, lib),
        lambda: rename_model("keep", name, lib),
        lambda: export_model(name, tmp_path / "export", lib),
    ):
        with pytest.raises(ModelError):
            act()
    assert victim.read_bytes() == b"not yours"
    assert [m.name for m in list_library(lib)] == ["keep"]
