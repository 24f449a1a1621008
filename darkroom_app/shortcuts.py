"""Keyboard shortcuts that work whichever widget has focus, and Help ▸ Keyboard Shortcuts.

A text field claims some key combinations for itself before the window's actions see them
(Qt's ``ShortcutOverride``): with the ratio box focused, Ctrl+E (move to end of line in some
styles) never reached File ▸ Export. :class:`WindowShortcutsFirst` answers that claim for every
shortcut of the window's own actions, so they fire wherever the focus is; typing, arrows and
the field's other shortcuts are untouched. Text editing stays the field's
(:data:`TEXT_EDITING_KEYS`): Ctrl+Z in the ratio box undoes the typing, not the last setting
(once nothing typed is left to undo, it undoes the setting), and on Windows and Linux
Ctrl+Left/Right move by word there instead of opening another photo.

The list the dialog shows is built from the actions themselves (plus the keys the viewer
handles directly), so it cannot drift from what the keys do.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

#: Keys the viewer handles itself (not actions), as the dialog lists them.
VIEWER_KEYS = (
    ("\\ or B (hold)", "Show the before image"),
    ("Mouse wheel", "Zoom at the pointer"),
    ("Drag", "Pan when zoomed in; move the split line"),
)


#: Keys a focused text field keeps even where a window action has them (Undo and Redo only
#: while the field has typing to undo or redo: after the box's arrows or Enter, Ctrl+Z is
#: the window's again).
TEXT_EDITING_KEYS = (
    QKeySequence.StandardKey.Cut,
    QKeySequence.StandardKey.Copy,
    QKeySequence.StandardKey.Paste,
    QKeySequence.StandardKey.SelectAll,
    QKeySequence.StandardKey.MoveToNextWord,
    QKeySequence.StandardKey.MoveToPreviousWord,
    QKeySequence.StandardKey.SelectNextWord,
    QKeySequence.StandardKey.SelectPreviousWord,
    QKeySequence.StandardKey.DeleteStartOfWord,
    QKeySequence.StandardKey.DeleteEndOfWord,
)


def _field_keeps(field: QObject, event: QKeyEvent) -> bool:
    """Whether a text field should keep this key (see :data:`TEXT_EDITING_KEYS`)."""
    if any(event.matches(key) for key in TEXT_EDITING_KEYS):
        return True
    edit = field.lineEdit() if isinstance(field, QAbstractSpinBox) else field
    if not isinstance(edit, QLineEdit):
        return False
    if event.matches(QKeySequence.StandardKey.Undo):
        return edit.isUndoAvailable()
    return event.matches(QKeySequence.StandardKey.Redo) and edit.isRedoAvailable()


def _sequence(event: QKeyEvent) -> QKeySequence:
    return QKeySequence(event.keyCombination())


class WindowShortcutsFirst(QObject):
    """Event filter: let the window's action shortcuts win over a focused text field."""

    def __init__(self, actions: Iterable[QAction], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.actions = list(actions)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            if _field_keeps(watched, event):
                return False  # the field's own: it claims the key and edits its text
            pressed = _sequence(event)
            if any(a.isEnabled() and pressed in a.shortcuts() for a in self.actions):
                event.ignore()  # not the field's: the window's shortcut fires
                return True
        return False


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    """``(keys, what)`` for every action with a shortcut, then the viewer's own keys."""
    rows = []
    for action in actions:
        keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText)
                         for s in action.shortcuts())  # fmt: skip
        if keys:
            rows.append((keys, action.text().replace("&", "").rstrip("…")))
    return rows + list(VIEWER_KEYS)


def show_shortcuts(parent: QWidget, actions: Iterable[QAction]) -> QDialog:
    """Help ▸ Keyboard Shortcuts: a table of :func:`shortcut_rows` (non-modal)."""
    dialog = QDialog(parent)
    dialog.setObjectName("shortcutsDialog")
    dialog.setWindowTitle("Keyboard Shortcuts")
    rows = "".join(f"<tr><td><b>{keys}</b></td><td>&nbsp;&nbsp;{what}</td></tr>"
                   for keys, what in shortcut_rows(actions))  # fmt: skip
    label = QLabel(f"<table>{rows}</table>", dialog)
    label.setObjectName("shortcutsTable")
    label.setTextFormat(Qt.TextFormat.RichText)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(label)
    layout.addWidget(buttons)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()
    return dialog
