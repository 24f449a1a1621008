"""Per-photo settings in the window: sidecars, undo/redo, copy/paste.

Each photo opens with what the user last set for it (read from its sidecar by
:func:`engine.render.load_photo_settings`), or, the first time, with the Auto ratio and the
recommended model. Every change the user makes (ratio, model, Amount, before mode) becomes an
undoable step and is saved beside the RAW shortly after (never inside it; a read-only folder
falls back to the per-user data folder). Steps of one slider drag merge into one undo step.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.errors import DarkroomError
from engine.models import model_for_sensor
from engine.render import CLASSICAL, PhotoSettings, load_photo_settings, save_photo_settings

from .session import LoadedPhoto, Session
from .view_controls import ViewControls

#: A change is saved this long after the last one (a drag writes one file, not fifty).
SAVE_DELAY_MS = 500
#: Changes of the same setting closer together than this are one undo step (a drag).
MERGE_WINDOW_S = 1.0


_FIELD_NAMES = {"amount": "Amount", "before": "Before", "model": "Model", "ratio": "Ratio"}


def _changed_fields(old: PhotoSettings, new: PhotoSettings) -> frozenset[str]:
    return frozenset(
        name for name in ("ratio", "model", "amount", "before")
        if getattr(old, name) != getattr(new, name)
    )  # fmt: skip


class SettingsChange(QUndoCommand):
    """One undoable change of a photo's settings (``old`` -> ``new``)."""

    def __init__(self, keeper: PhotoSettingsKeeper, old: PhotoSettings, new: PhotoSettings) -> None:
        fields = _changed_fields(old, new)
        super().__init__(" and ".join(_FIELD_NAMES[f] for f in sorted(fields)))
        self.keeper, self.old, self.new, self.fields = keeper, old, new, fields
        self.at = time.monotonic()
        self.done = True  # already applied when pushed: the first redo() has nothing to do

    def id(self) -> int:
        return 1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SettingsChange) or other.fields != self.fields:
            return False
        if other.at - self.at > MERGE_WINDOW_S:
            return False
        self.new, self.at = other.new, other.at
        return True

    def redo(self) -> None:
        if self.done:
            self.done = False
            return
        self.keeper.restore(self.new)

    def undo(self) -> None:
        self.keeper.restore(self.old)


class PhotoSettingsKeeper(QObject):
    """Keeps the current photo's settings: applies them on open, records and saves changes.

    Args:
        session: the window's session (ratio, model, Amount).
        view: the view controls (the before mode).
        data_dir: the per-user data folder (sidecars of read-only folders).
        recommended_model: the model a photo opens with the first time.
        model_listed: whether the window can show a model of that name (a photo's saved
            model may have been deleted or renamed since).

    Signals:
        saved(str): a settings file was written (its path).
    """

    saved = Signal(str)

    def __init__(
        self,
        session: Session,
        view: ViewControls,
        data_dir: Path,
        recommended_model: Callable[[], str],
        model_listed: Callable[[str], bool] = lambda _name: True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session, self.view, self.data_dir = session, view, Path(data_dir)
        self.recommended_model = recommended_model
        self.model_listed = model_listed
        self.undo_stack = QUndoStack(self)
        self.path: str | None = None
        self.auto_ratio: float | None = None
        self.recorded: PhotoSettings | None = None  # the photo's settings as last recorded
        self.clipboard: PhotoSettings | None = None
        self._restoring = False
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self._save)

    # -- reading and applying --------------------------------------------------------------

    def current(self) -> PhotoSettings:
        """The settings the window shows now."""
        session = self.session
        before = "x1" if self.view.before_x1 else "same"
        return PhotoSettings(session.ratio, session.model, session.amount, before)

    def first_look(self, auto_ratio: float | None, sensor: str = "bayer") -> PhotoSettings:
        """What a photo opens with the first time: Auto ratio, the recommended model (the
        classical render when the version of it that renders the photo's colour filter array,
        ``sensor`` (:func:`engine.models.model_for_sensor`), is not in the window's list)."""
        model = self.recommended_model()
        if not self.model_listed(model_for_sensor(model, sensor)):
            model = CLASSICAL
        return PhotoSettings(auto_ratio, model, 1.0, "same")

    def photo_opened(self, photo: LoadedPhoto | None) -> None:
        """Apply the new photo's settings (its own, or the first look); a fresh undo history."""
        self.save_now()  # the previous photo's pending change
        self.undo_stack.clear()
        self.path = photo.path if photo is not None else None
        self.auto_ratio = photo.auto_ratio if photo is not None else None
        self.recorded = None
        if photo is None:
            return
        settings = None
        try:
            settings = load_photo_settings(photo.path, self.data_dir)
        except DarkroomError as exc:  # a damaged sidecar must not stop the photo from opening
            self.session.say(f"Ignored the photo's saved settings: {exc}", 10000)
        if settings is None:
            settings = self.first_look(photo.auto_ratio, photo.frame.sensor)
        self.restore(settings, record=False)

    @contextlib.contextmanager
    def unrecorded(self) -> Iterator[None]:
        """Changes made inside are not the user's: no undo step, nothing saved (the window
        falling back to the classical render when a model fails)."""
        restoring, self._restoring = self._restoring, True
        try:
            yield
        finally:
            self._restoring = restoring

    def restore(self, settings: PhotoSettings, record: bool = False) -> None:
        """Show ``settings`` (a ratio of ``None`` is the photo's Auto estimate).

        Args:
            record: make it an undoable change (a paste); undo/redo and opening do not.
        """
        ratio = settings.ratio if settings.ratio is not None else self.auto_ratio
        if not self.model_listed(settings.model):
            recommended = self.recommended_model()
            self.session.say(f"The model {settings.model!r} saved for this photo is not "
                             f"available; showing {recommended} instead", 10000)  # fmt: skip
            settings = replace(settings, model=recommended)
        self._restoring = True
        try:
            self.session.set_model(settings.model)  # the window reverts a name it cannot show
            if ratio is not None:
                self.session.set_ratio(ratio)
            self.session.set_amount(settings.amount)
            self.view.set_before_mode(settings.before)
        finally:
            self._restoring = False
        if record:
            self.changed()
        else:
            previous, self.recorded = self.recorded, self.current()
            if previous is not None and previous != self.recorded:
                self._save_timer.start()

    def settings_of(self, path: str) -> PhotoSettings:
        """A photo's settings: the current photo's as shown, another's from its sidecar, else
        its first look (Auto ratio, estimated when it is rendered)."""
        if path == self.path:
            return self.current()
        try:
            saved = load_photo_settings(path, self.data_dir)
        except DarkroomError as exc:
            self.session.say(f"{Path(path).name}: ignored its saved settings: {exc}", 10000)
            saved = None
        return saved or self.first_look(None)

    # -- recording -------------------------------------------------------------------------

    def changed(self) -> None:
        """A setting changed in the window: one undo step (merged within a drag), saved soon."""
        if self._restoring or self.path is None or self.recorded is None:
            return
        new = self.current()
        if new == self.recorded:
            return
        self.undo_stack.push(SettingsChange(self, self.recorded, new))
        self.recorded = new
        self._save_timer.start()

    def save_now(self) -> None:
        """Write the current photo's settings now if a change is waiting."""
        if self._save_timer.isActive():
            self._save_timer.stop()
            self._save()

    def _save(self) -> None:
        if self.path is not None and self.recorded is not None:
            self._write(self.path, self.recorded)

    def _write(self, path: str, settings: PhotoSettings) -> Path | None:
        try:
            written = save_photo_settings(path, settings, self.data_dir)
        except DarkroomError as exc:
            self.session.say(f"Could not save the photo's settings: {exc}", 10000)
            return None
        self.saved.emit(str(written))
        return written

    # -- copy and paste --------------------------------------------------------------------

    def copy(self) -> PhotoSettings:
        """Remember the current photo's settings for :meth:`paste`."""
        self.clipboard = self.current()
        self.session.say("Settings copied")
        return self.clipboard

    def paste(self, others: Sequence[str] = ()) -> int:
        """Give the copied settings to the current photo (one undo step) and to ``others``
        (other photos' files, saved straight to their sidecars). Returns how many photos."""
        if self.clipboard is None:
            self.session.say("Nothing to paste: copy a photo's settings first")
            return 0
        count = 0
        for path in others:
            if path != self.path and self._write(path, self.clipboard) is not None:
                count += 1
        if self.path is not None:
            self.restore(self.clipboard, record=True)
            count += 1
        self.session.say(f"Settings pasted to {count} photo{'s' if count != 1 else ''}")
        return count
