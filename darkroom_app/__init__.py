"""Darkroom's PySide6 window. Only this package imports Qt; the engine never does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .main_window import MainWindow

__all__ = ["create_window"]


def create_window(argv: Any = None, settings: Any = None) -> MainWindow:
    """Build the main window without entering the event loop (see :func:`.main.create_window`)."""
    from .main import create_window as create  # lazy: importing the package stays Qt-free

    return create(argv, settings)
