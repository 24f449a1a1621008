"""``darkroom --check``: what this machine lacks to run Darkroom, in plain words.

Runs before (and without) a ``QApplication``: the point is to explain why the window cannot
start, so nothing here may need the window to start. PySide6 is found, not imported; Qt's
platform plugin is checked with ``ldd`` (Linux), because Qt itself only says "could not load
the Qt platform plugin xcb" and, misleadingly, names ``libxcb-cursor0``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

#: Debian/Ubuntu package of each library Qt's xcb platform plugin needs beyond a base system.
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}
CPU_TORCH = "pip install torch --index-url https://download.pytorch.org/whl/cpu"


def missing_libraries(ldd_output: str) -> list[str]:
    """The library names ``ldd`` reports as ``not found``, each once, in order."""
    found = re.findall(r"^\s*(\S+)\s*=>\s*not found", ldd_output, flags=re.MULTILINE)
    return list(dict.fromkeys(found))


def _ldd(path: Path) -> str:
    try:
        return subprocess.run(["ldd", str(path)], capture_output=True, text=True,
                              timeout=30, check=False).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""


def check_qt(ldd: Callable[[Path], str] = _ldd) -> list[tuple[bool, str]]:
    """PySide6 present, its version, and (Linux) the xcb plugin's missing libraries."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return [(False, 'PySide6 (Qt for Python) is not installed: pip install "darkroom"')]
    version = importlib.metadata.version("PySide6-Essentials")
    lines = [(True, f"PySide6 {version}")]
    if not sys.platform.startswith("linux"):
        return lines
    root = Path(next(iter(spec.submodule_search_locations))) / "Qt"
    plugin = root / "plugins" / "platforms" / "libqxcb.so"
    missing = missing_libraries(ldd(plugin) + ldd(root / "lib" / "libQt6XcbQpa.so.6"))
    if missing:
        packages = " ".join(DEBIAN_PACKAGES.get(m, m) for m in missing)
        lines.append((False, f"Qt's X11 plugin cannot load {', '.join(missing)}; on Debian/"
                             f"Ubuntu: sudo apt install {packages}"))  # fmt: skip
    else:
        lines.append((True, "Qt's X11 platform plugin has every library it needs"))
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        lines.append((False, "no display (DISPLAY and WAYLAND_DISPLAY are unset): run it on a "
                             "desktop, or under xvfb-run; the CLI needs none"))  # fmt: skip
    return lines


def check_engine() -> list[tuple[bool, str]]:
    """torch's build and the device Darkroom will use, and the bundled default model."""
    try:
        import torch
    except ImportError:
        return [(False, f"torch is not installed: {CPU_TORCH} (CPU build) or see pytorch.org")]
    from engine.device import hardware_description, select_device
    from engine.errors import DarkroomError
    from engine.models import load_model, resolve_model
    from engine.resources import DEFAULT_MODEL

    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU"
    lines = [(True, f"torch {torch.__version__} ({build} build)")]
    if torch.version.cuda and not torch.cuda.is_available():
        lines.append(
            (
                False,
                "this torch is a CUDA build but no NVIDIA GPU is usable here "
                f"(several GB for nothing); the CPU build is smaller: {CPU_TORCH}",
            )
        )
    device = select_device("auto")
    lines.append((True, f"renders on {hardware_description(device)}"))
    try:
        load_model(resolve_model(DEFAULT_MODEL))
        lines.append((True, f"default model '{DEFAULT_MODEL}' loads"))
    except DarkroomError as exc:
        lines.append((False, f"default model '{DEFAULT_MODEL}': {exc}"))
    return lines


def run_check() -> int:
    """Print one line per check (``ok`` or ``missing``); 0 when nothing is missing."""
    lines = check_qt() + check_engine()
    for ok, text in lines:
        print(f"{'ok     ' if ok else 'MISSING'}  {text}")
    bad = sum(not ok for ok, _ in lines)
    print("Darkroom can run here." if not bad else f"{bad} problem(s) above.")
    return 0 if not bad else 1
