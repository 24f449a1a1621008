"""Darkroom's PySide6 window. Only this package imports Qt; the engine never does."""
