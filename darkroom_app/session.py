"""What the user is working on, without the window: photo, exposure, model, device, models.

:class:`Session` is the one place the window's parts read and change that state. The main
window creates it and is the only object that ties its signals to widgets; the exporter, the
fine-tune panel and the model library take the session (never the window), so none of them
needs to know how the window is built, and they can be tested or reused without it.

The module is Qt-free on purpose (a test imports it and checks that no PySide6, shiboken6 or
superqt module got loaded): its signals are :mod:`psygnal` signals, which are plain Python
callbacks. They are emitted synchronously, on the thread that called the setter; the window
calls setters on the GUI thread only, and worker jobs get frozen snapshots (the preview and
export requests) instead of the session itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from psygnal import Signal

from engine.device import device_name, select_device
from engine.errors import DarkroomError
from engine.io import RawFrame, read_raw
from engine.jobs import CancelToken
from engine.render import CLASSICAL, MAX_RATIO, MIN_RATIO, Enhancer, estimate_ratio

# -- the photo --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedPhoto:
    """A decoded RAW file, the path it came from and its estimated exposure ratio."""

    frame: RawFrame
    path: str
    auto_ratio: float


def open_photo(path: str, cancel: CancelToken) -> LoadedPhoto:
    """Decode a RAW file and estimate its exposure ratio (slow: run it in a worker job)."""
    frame = read_raw(path)
    cancel.raise_if_cancelled()
    return LoadedPhoto(frame, str(path), estimate_ratio(frame))


# -- models and device ------------------------------------------------------------------------


class EnhancerCache:
    """Loaded models shared by preview and export jobs (loading weights is not free).

    Thread-safe: jobs in different pools may ask for the same model at once.
    """

    def __init__(self, keep: int = 4) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, tuple[str, ...]], Enhancer] = {}
        self._keep = keep

    def get(self, model: str, device: str, model_dirs: tuple[Path, ...] = ()) -> Enhancer:
        key = (model, "cpu" if model == CLASSICAL else device, tuple(map(str, model_dirs)))
        with self._lock:
            enhancer = self._cache.pop(key, None)
            if enhancer is None:
                enhancer = Enhancer(model, device=key[1], model_dirs=list(model_dirs))
            self._cache[key] = enhancer  # most recently used last
            while len(self._cache) > self._keep:
                del self._cache[next(iter(self._cache))]
            return enhancer

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)


def describe_device(pref: str) -> tuple[str, str, bool]:
    """``(effective preference, human name, is CPU)``; an unavailable one falls back to auto.

    A settings file copied from a machine with a GPU must not stop the app from starting.
    """
    try:
        device = select_device(pref)
    except DarkroomError:
        pref, device = "auto", select_device("auto")
    return pref, device_name(device), device.type == "cpu"


def existing_model_dirs(user_models_dir: Path) -> tuple[Path, ...]:
    """The folders scanned for user models: the user's folder, once it exists."""
    return (user_models_dir,) if user_models_dir.is_dir() else ()


# -- the session ------------------------------------------------------------------------------


class Session:
    """The state the window's parts share, with a signal for each change.

    Setters emit only when the value really changes, so a listener that sets the value back
    (the window does, when its model selector cannot show a name) ends the exchange. Value
    signals use psygnal's ``"latest-only"`` re-emission: a listener that changes the value
    while it is being announced stops the older announcement from reaching later listeners,
    so nobody is left holding a stale value.

    Signals:
        photo_changed(object): the current :class:`LoadedPhoto` (or ``None``).
        ratio_changed(float): the exposure ratio.
        amount_changed(float): the Amount, 0-1 (how much of the model's result).
        model_changed(str): the model name (``"none"`` = classical).
        device_changed(str): the effective device preference (see :func:`describe_device`).
        models_changed(object): the user's models changed (library edited, or another folder);
            the argument maps old -> new names of renamed models (possibly empty). Cached
            enhancers are already dropped: a name may now stand for other weights.
        problem(str, str): something went wrong: dialog title and one-line message.
        status(str, int): a status line and how long to show it in ms (0 = until replaced;
            an empty message clears the line).
    """

    photo_changed = Signal(object, reemission="latest-only")
    ratio_changed = Signal(float, reemission="latest-only")
    amount_changed = Signal(float, reemission="latest-only")
    model_changed = Signal(str, reemission="latest-only")
    device_changed = Signal(str, reemission="latest-only")
    models_changed = Signal(object)
    problem = Signal(str, str)
    status = Signal(str, int)

    def __init__(
        self,
        user_models_dir: Path,
        device: str = "auto",
        model: str = CLASSICAL,
        ratio: float = 100.0,
        amount: float = 1.0,
    ) -> None:
        self.photo: LoadedPhoto | None = None
        self.ratio = _clamp_ratio(ratio)
        self.amount = _clamp_amount(amount)
        self.model = model or CLASSICAL
        self.device_pref, self.device_label, self.device_is_cpu = describe_device(device)
        self.user_models_dir = Path(user_models_dir)
        self.model_dirs = existing_model_dirs(self.user_models_dir)
        self.cache = EnhancerCache()

    # -- the photo -------------------------------------------------------------------------

    @property
    def frame(self) -> RawFrame | None:
        return self.photo.frame if self.photo is not None else None

    @property
    def path(self) -> str | None:
        return self.photo.path if self.photo is not None else None

    @property
    def auto_ratio(self) -> float | None:
        return self.photo.auto_ratio if self.photo is not None else None

    def set_photo(self, photo: LoadedPhoto | None) -> None:
        if photo is not self.photo:
            self.photo = photo
            self.photo_changed.emit(photo)

    # -- adjustments -----------------------------------------------------------------------

    def set_ratio(self, ratio: float) -> None:
        """Set the exposure ratio, clamped to what the engine accepts (x1 to x1000)."""
        ratio = _clamp_ratio(ratio)
        if ratio != self.ratio:
            self.ratio = ratio
            self.ratio_changed.emit(ratio)

    def set_amount(self, amount: float) -> None:
        """Set the Amount (0-1, clamped): 0 is the classical render, 1 the model's."""
        amount = _clamp_amount(amount)
        if amount != self.amount:
            self.amount = amount
            self.amount_changed.emit(amount)

    def set_model(self, name: str) -> None:
        """Choose the model (``"none"`` = classical); the window reverts a name it cannot show."""
        name = name or CLASSICAL
        if name != self.model:
            self.model = name
            self.model_changed.emit(name)

    def set_device(self, pref: str) -> None:
        """Switch the compute device; an unavailable one means auto (:func:`describe_device`)."""
        pref, label, is_cpu = describe_device(pref)
        if pref != self.device_pref:
            self.device_pref, self.device_label, self.device_is_cpu = pref, label, is_cpu
            self.device_changed.emit(pref)

    # -- the user's models -----------------------------------------------------------------

    def set_user_models_dir(self, folder: Path) -> None:
        """Look for user models in another folder (Preferences)."""
        folder = Path(folder)
        if folder != self.user_models_dir:
            self.user_models_dir = folder
            self.models_edited()

    def models_edited(self, renamed: dict[str, str] | None = None) -> None:
        """Say that models were added, renamed or removed (fine-tune, model library).

        Args:
            renamed: old name -> new name of models just renamed, so that a renamed current
                model can be selected again under its new name.
        """
        self.model_dirs = existing_model_dirs(self.user_models_dir)  # a first save creates it
        self.cache.clear()
        self.models_changed.emit(dict(renamed or {}))

    # -- telling the user ------------------------------------------------------------------

    def tell(self, title: str, message: str) -> None:
        """Report a problem to the user (the window shows a non-blocking error dialog)."""
        self.problem.emit(title, message)

    def say(self, message: str, ms: int = 4000) -> None:
        """Show a status line for ``ms`` milliseconds (0 = until replaced, "" = clear)."""
        self.status.emit(message, int(ms))


def _clamp_amount(amount: float) -> float:
    return min(1.0, max(0.0, float(amount)))


def _clamp_ratio(ratio: float) -> float:
    return min(MAX_RATIO, max(MIN_RATIO, float(ratio)))
