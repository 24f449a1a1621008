"""The window's message boxes: non-blocking error boxes it can close all at once, and About.

Every box is opened with ``open()``, never ``exec()``: a modal loop would stop previews,
workers reporting back and the tests, which find error boxes by their object name
``"errorDialog"`` and close them.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from engine.io import software

ABOUT_TEXT = (
    "<b>Darkroom</b><br>Rescue underexposed and night RAW photos with learned enhancement, "
    "after <i>Learning to See in the Dark</i> (Chen et al., CVPR 2018)."
)


class ErrorBoxes:
    """Warning boxes over ``parent``, remembered while open so that closing the window can
    close them too (a box left open would outlive its window's event loop)."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent
        self.open_boxes: list[QMessageBox] = []

    def show(self, title: str, text: str) -> QMessageBox:
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self.parent
        )
        box.setObjectName("errorDialog")
        box.finished.connect(
            lambda _: self.open_boxes.remove(box) if box in self.open_boxes else None
        )
        self.open_boxes.append(box)
        box.open()
        return box

    def close_all(self) -> None:
        for box in list(self.open_boxes):
            box.close()


def about_text() -> str:
    """About's text, titled with the name and version exports carry (``"Darkroom 0.1.0"``)."""
    return ABOUT_TEXT.replace("<b>Darkroom</b>", f"<b>{software()}</b>", 1)


def show_about(parent: QWidget) -> QMessageBox:
    """Help ▸ About, with the application's icon and version."""
    box = QMessageBox(QMessageBox.Icon.NoIcon, "About Darkroom", about_text(),
                      QMessageBox.StandardButton.Ok, parent)  # fmt: skip
    box.setObjectName("aboutDialog")
    box.setIconPixmap(parent.windowIcon().pixmap(64, 64))
    box.finished.connect(box.deleteLater)
    box.open()
    return box
