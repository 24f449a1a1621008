"""``darkroom`` entry point: ``darkroom [FILE]`` opens the window (and FILE if given)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from PySide6.QtCore import QSettings
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from engine.resources import resources_dir

from .main_window import MainWindow
from .settings import APPLICATION, ORGANISATION, AppSettings


def ensure_application(argv: Sequence[str] | None = None) -> QApplication:
    """The process's QApplication, created (with Darkroom's names and icon) if needed.

    Args:
        argv: command line for Qt (its own options such as ``-platform``); ``None`` = none.
    """
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv else ["darkroom"])
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    icon = resources_dir() / "icons" / "darkroom.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    return app


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Darkroom's arguments, and the rest (left for Qt: ``-platform offscreen``, ``-style``)."""
    parser = argparse.ArgumentParser(
        prog="darkroom",
        description="Rescue underexposed and night RAW photos. Opens the Darkroom window.",
        epilog="Without FILE: the photo of the last session, or the bundled sample on first run.",
    )
    parser.add_argument("file", nargs="?", help="a RAW photo to open")
    parser.add_argument(
        "--check", action="store_true",
        help="say what this machine lacks to run Darkroom (Qt libraries, torch, device), "
        "without opening the window",
    )  # fmt: skip
    return parser.parse_known_args(list(argv))


def create_window(
    argv: Sequence[str] | None = None, settings: QSettings | AppSettings | None = None
) -> MainWindow:
    """Build the main window without entering the event loop.

    Args:
        argv: command line including the program name (``["darkroom", FILE]``); ``None`` = no
            arguments (not ``sys.argv``, so embedding and tests stay predictable).
        settings: where to read and store preferences; ``None`` = the user's QSettings.

    The photo (``FILE``, else the last session's, else the bundled sample on first run) starts
    loading in the background; the window is not shown.
    """
    ensure_application()
    args, _ = parse_args(list(argv)[1:] if argv else [])
    if not isinstance(settings, AppSettings):
        settings = AppSettings(settings)
    window = MainWindow(settings)
    window.start(args.file)
    return window


def run() -> None:
    """Console entry point (``darkroom``)."""
    if {"-h", "--help"} & set(sys.argv[1:]):
        parse_args(sys.argv[1:])  # prints usage and exits, no display needed
    app = ensure_application(sys.argv)
    # QApplication has taken out the options it understands (-platform NAME, -style NAME...).
    args, _ = parse_args(app.arguments()[1:])
    window = create_window(["darkroom", args.file] if args.file else ["darkroom"])
    window.show()
    sys.exit(app.exec())
