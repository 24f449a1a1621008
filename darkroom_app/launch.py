"""The ``darkroom`` command: ``--check``, or the window (:func:`darkroom_app.main.run`).

Nothing here imports Qt before it is known to be able to start: ``darkroom --check`` must work
on a machine where the window cannot, and a missing X11 library is reported in one line with
the package to install instead of Qt's abort ("could not load the Qt platform plugin xcb").
"""

from __future__ import annotations

import os
import sys


def _x11_problem() -> str | None:
    """The one-line reason the X11 platform plugin will fail to load, if it will."""
    if not sys.platform.startswith("linux") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    if os.environ.get("QT_QPA_PLATFORM", "xcb").split(":")[0] != "xcb":
        return None  # offscreen, vnc, wayland...: not the X11 plugin
    from .check import check_qt

    return next((text for ok, text in check_qt() if not ok), None)


def run() -> None:
    """Console entry point (``darkroom``)."""
    args = sys.argv[1:]
    if "--check" in args:
        from .check import run_check

        sys.exit(run_check())
    if not {"-h", "--help"} & set(args):
        problem = _x11_problem()
        if problem is not None:
            print(f"darkroom: error: {problem} (darkroom --check lists everything)",
                  file=sys.stderr)  # fmt: skip
            sys.exit(1)
    from .main import run as open_window

    open_window()
