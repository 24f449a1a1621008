"""``darkroom --check`` and the launcher's X11 pre-check (no window is created)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from darkroom_app import check, launch

LDD_MISSING = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /x/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)
"""


def test_missing_libraries_are_read_from_ldd_once_each() -> None:
    assert check.missing_libraries(LDD_MISSING) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert check.missing_libraries("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")
def test_check_qt_names_the_packages_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    seen: list[Path] = []

    def fake_ldd(path: Path) -> str:
        seen.append(path)
        return LDD_MISSING

    lines = check.check_qt(fake_ldd)
    assert lines[0][0] and lines[0][1].startswith("PySide6 6.")
    ok, text = lines[1]
    assert not ok and text.endswith("sudo apt install libxcb-icccm4 libxcb-keysyms1")
    assert seen[0].name == "libqxcb.so" and seen[0].parent.name == "platforms"
    assert check.check_qt(lambda _p: "")[1] == (
        True, "Qt's X11 platform plugin has every library it needs")  # fmt: skip
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert "no display" in check.check_qt(lambda _p: "")[-1][1]


def test_check_engine_reports_torch_device_and_default_model() -> None:
    lines = check.check_engine()
    assert all(ok for ok, _ in lines), lines
    text = "\n".join(t for _, t in lines)
    assert "torch 2." in text and "build)" in text and "renders on" in text
    assert "default model 'fast' loads" in text


def test_darkroom_check_exits_non_zero_on_a_problem(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(sys, "argv", ["darkroom", "--check"])
    monkeypatch.setattr(check, "check_qt", lambda: [(False, "Qt is broken here")])
    with pytest.raises(SystemExit) as stop:
        launch.run()
    out = capsys.readouterr().out
    assert stop.value.code == 1 and "MISSING  Qt is broken here" in out
    assert "ok       torch" in out and out.rstrip().endswith("1 problem(s) above.")


def test_launcher_says_which_library_is_missing_instead_of_qts_abort(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(sys, "argv", ["darkroom", "photo.dng"])
    found = [(True, "PySide6 6.11"), (False, "Qt's X11 plugin cannot load libxcb-icccm.so.4")]
    monkeypatch.setattr(check, "check_qt", lambda: found)
    with pytest.raises(SystemExit) as stop:
        launch.run()
    err = capsys.readouterr().err
    assert stop.value.code == 1
    assert err.startswith("darkroom: error: Qt's X11 plugin cannot load libxcb-icccm.so.4")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # not the X11 plugin: no pre-check
    assert launch._x11_problem() is None
