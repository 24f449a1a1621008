"""The window's Qt-free session: state, change signals, and telling the user things."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from darkroom_app.session import LoadedPhoto, Session, open_photo
from engine.jobs import CancelToken
from engine.render import MAX_RATIO

QT_MODULES = ("PySide6", "shiboken6", "superqt")
SIGNALS = ("photo_changed", "ratio_changed", "model_changed", "device_changed",
           "models_changed", "problem", "status")  # fmt: skip


def record(session: Session) -> dict[str, list[Any]]:
    """Every emission of every session signal, by signal name (one tuple of arguments each)."""
    seen: dict[str, list[Any]] = {name: [] for name in SIGNALS}
    for name in SIGNALS:
        getattr(session, name).connect(lambda *args, n=name: seen[n].append(args))
    return seen


@pytest.fixture
def session(tmp_path: Path) -> Session:
    return Session(tmp_path / "models", device="cpu")


@pytest.fixture
def photo(make_dng: Callable[..., Path]) -> LoadedPhoto:
    return open_photo(str(make_dng("dark.dng", ratio=20.0)), CancelToken())


def test_session_module_loads_no_qt() -> None:
    code = (
        "import sys, darkroom_app.session;"
        f"bad=[m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_setters_emit_once_per_change(session: Session, photo: LoadedPhoto) -> None:
    seen = record(session)
    session.set_ratio(50)
    session.set_ratio(50.0)
    session.set_ratio(5000)  # clamped to what the engine accepts
    session.set_model("baseline")
    session.set_model("baseline")
    session.set_model("")  # no name means the classical pipeline
    session.set_device("cpu")  # already the device
    session.set_photo(photo)
    session.set_photo(photo)
    assert seen["ratio_changed"] == [(50.0,), (MAX_RATIO,)]
    assert seen["model_changed"] == [("baseline",), ("none",)]
    assert seen["device_changed"] == []
    assert seen["photo_changed"] == [(photo,)]
    assert session.ratio == MAX_RATIO and session.model == "none"
    assert session.device_pref == "cpu" and session.device_is_cpu
    assert (session.frame, session.path) == (photo.frame, photo.path)
    assert session.auto_ratio == photo.auto_ratio and photo.auto_ratio > 1
    session.set_photo(None)
    assert seen["photo_changed"][-1] == (None,) and session.path is None
    assert seen["models_changed"] == seen["problem"] == seen["status"] == []


def test_device_falls_back_to_auto_and_emits_the_effective_preference(
    session: Session, monkeypatch
) -> None:
    from darkroom_app import session as session_module
    from engine.errors import DarkroomError

    real_select = session_module.select_device

    def no_gpu(pref: str) -> Any:
        if pref in ("cuda", "mps"):
            raise DarkroomError(f"{pref} is not available")
        return real_select("cpu")

    monkeypatch.setattr(session_module, "select_device", no_gpu)
    seen = record(session)
    session.set_device("cuda")  # unavailable here: auto (a change from "cpu")
    session.set_device("mps")  # auto again: no change
    assert seen["device_changed"] == [("auto",)]
    assert session.device_pref == "auto" and session.device_is_cpu


def test_a_listener_that_reverts_the_value_leaves_no_stale_value(session: Session) -> None:
    """The window sets the model back when its selector cannot show a name; listeners after
    it must hear only the value that stands."""
    heard: list[str] = []
    session.model_changed.connect(lambda name: session.set_model("none") if name == "gone" else 0)
    session.model_changed.connect(heard.append)
    session.set_model("gone")
    assert session.model == "none" and heard == ["none"]


def test_models_edited_clears_the_cache_and_emits(session: Session, tmp_path: Path) -> None:
    seen = record(session)
    session.cache.get("none", "cpu")
    assert len(session.cache) == 1 and session.model_dirs == ()
    (tmp_path / "models").mkdir()  # a first fine-tune creates the library folder
    session.models_edited({"old": "new"})
    assert len(session.cache) == 0
    assert session.model_dirs == (tmp_path / "models",)
    session.models_edited()
    assert seen["models_changed"] == [({"old": "new"},), ({},)]


def test_another_models_folder_is_a_models_change(session: Session, tmp_path: Path) -> None:
    seen = record(session)
    session.set_user_models_dir(tmp_path / "models")  # the same folder
    assert seen["models_changed"] == []
    (tmp_path / "elsewhere").mkdir()
    session.cache.get("none", "cpu")
    session.set_user_models_dir(tmp_path / "elsewhere")
    assert seen["models_changed"] == [({},)] and len(session.cache) == 0
    assert session.model_dirs == (tmp_path / "elsewhere",)


def test_tell_and_say_reach_whoever_listens(session: Session) -> None:
    seen = record(session)
    session.tell("Export failed", "the disk is full")
    session.say("Exported photo.jpg")
    session.say("Exporting…", 0)
    assert seen["problem"] == [("Export failed", "the disk is full")]
    assert seen["status"] == [("Exported photo.jpg", 4000), ("Exporting…", 0)]
