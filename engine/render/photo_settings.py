"""A photo's own settings (ratio, model, Amount, the Before view), kept beside it, not in it.

Non-destructive: the RAW file is only ever read. The settings go in a small JSON sidecar,
``NAME.EXT.darkroom.json`` beside the RAW (the whole name, so ``IMG_1.ARW`` and ``IMG_1.DNG``
in one folder keep separate settings), written atomically by :mod:`engine.files`. Where the
photo's folder cannot be written (a locked card, a read-only share) or is inside Darkroom's
installation (the bundled sample), they go to
``DATA_DIR/photo-settings/NAME.EXT.<hash>.json`` instead, the hash being of the RAW's resolved
absolute path, so same-named files of different folders never share one.

One truth: saving beside the photo removes the fallback copy. Both can still exist (the folder
became read-only after a save beside it, or a removal failed); loading then takes the newer
file, since a save always writes the one it could.

The JSON::

    {"format": "darkroom-photo-settings", "version": 1,
     "ratio": 100.0, "model": "fast", "amount": 1.0, "before": "same"}

``ratio`` ``null`` is Auto. Keys this version does not know are ignored, so a newer Darkroom
may add some without breaking this one; a newer ``version`` (an incompatible change) is
refused with a message saying so.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import SettingsError
from engine.files import JsonTooBigError, atomic_write_json, read_json_file
from engine.io import MAX_RATIO, MIN_RATIO, failure_reason, is_inside_install
from engine.render.adjustments import Adjustments

#: The ``"format"`` value of every settings file.
FORMAT = "darkroom-photo-settings"
#: The version this Darkroom writes and the newest it reads.
VERSION = 1
#: What the Before view shows: the same exposure gain as the enhanced image, or gain x1.
BEFORE_MODES = ("same", "x1")
#: Ending of a sidecar, after the RAW's whole name.
SIDECAR_SUFFIX = ".darkroom.json"
#: Sub-folder of the data folder holding the sidecars of photos in read-only folders.
FALLBACK_FOLDER = "photo-settings"

# A settings file is a few hundred bytes; refuse to read a huge file someone named so.
_MAX_BYTES = 64 * 1024
_MAX_DEPTH = 16  # a flat object: anything deeper is not ours
# Longest part of the RAW's name kept in a fallback name (file names stop at 255 bytes).
_NAME_CHARS = 100


@dataclass(frozen=True)
class PhotoSettings:
    """How one photo is rendered and compared, as saved beside it.

    Attributes:
        ratio: exposure ratio in [:data:`~engine.render.MIN_RATIO`,
            :data:`~engine.render.MAX_RATIO`]; ``None`` is Auto (estimated from the photo).
        model: a model name (bundled or the user's); ``"none"`` is the classical pipeline.
        amount: share of the network's result, 0-1.
        before: ``"same"`` (Before at the enhanced image's gain) or ``"x1"`` (as shot).

    Raises:
        SettingsError: a value out of range or of the wrong kind (also from
            :meth:`from_dict`).
    """

    ratio: float | None
    model: str
    amount: float = 1.0
    before: str = "same"

    def __post_init__(self) -> None:
        ratio, amount = _number(self.ratio), _number(self.amount)
        if self.ratio is not None and not (ratio is not None and MIN_RATIO <= ratio <= MAX_RATIO):
            raise SettingsError(
                f"ratio {self.ratio!r} out of range: must be from {MIN_RATIO:g} to "
                f"{MAX_RATIO:g} or Auto"
            )
        if amount is None or not 0.0 <= amount <= 1.0:
            raise SettingsError(f"amount {self.amount!r} out of range: must be from 0 to 1")
        if not isinstance(self.model, str) or not self.model.strip():
            raise SettingsError(f"model {self.model!r} invalid: must be a model name")
        if self.before not in BEFORE_MODES:
            raise SettingsError(
                f"before {self.before!r} invalid: must be one of {', '.join(BEFORE_MODES)}"
            )
        # JSON and callers may give whole numbers; store floats so equal settings compare equal.
        object.__setattr__(self, "ratio", ratio)
        object.__setattr__(self, "amount", amount)

    @property
    def adjustments(self) -> Adjustments:
        """The ratio and Amount as the renderer takes them."""
        return Adjustments(ratio=self.ratio, amount=self.amount)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of a settings file (``format`` and ``version`` included)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "ratio": self.ratio,
            "model": self.model,
            "amount": self.amount,
            "before": self.before,
        }

    @classmethod
    def from_dict(cls, data: Any) -> PhotoSettings:
        """Settings from a parsed settings file; unknown keys are ignored.

        ``ratio`` missing or ``null`` is Auto; ``amount`` and ``before`` missing take their
        defaults; ``model`` is required.

        Raises:
            SettingsError: not a Darkroom settings object, a newer version, or a missing,
                mistyped or out-of-range value (one line).
        """
        if not isinstance(data, dict):
            raise SettingsError("not a Darkroom photo settings file (no JSON object)")
        if data.get("format") != FORMAT:
            raise SettingsError(
                f"not a Darkroom photo settings file (format {data.get('format')!r})"
            )
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise SettingsError(f"invalid settings version {version!r}")
        if version > VERSION:
            raise SettingsError(
                f"settings saved by a newer Darkroom (version {version}; this one reads up to "
                f"{VERSION}): update Darkroom to use them"
            )
        if "model" not in data:
            raise SettingsError('no "model" in the settings')
        return cls(
            ratio=data.get("ratio"),
            model=data["model"],
            amount=data.get("amount", 1.0),
            before=data.get("before", "same"),
        )


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` when it is not a finite number."""
    # bool is an int to Python, but "ratio": true is no ratio.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # a JSON integer of hundreds of digits
        return None
    return number if math.isfinite(number) else None


# -- where ----------------------------------------------------------------------------------


def sidecar_path(raw: str | os.PathLike[str]) -> Path:
    """The sidecar beside a RAW file: ``IMG_1.ARW`` -> ``IMG_1.ARW.darkroom.json``."""
    p = Path(raw)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def fallback_sidecar_path(raw: str | os.PathLike[str], data_dir: str | os.PathLike[str]) -> Path:
    """The sidecar of a RAW file whose folder cannot be written:
    ``data_dir/photo-settings/NAME.EXT.<16 hex digits>.json``.

    The digits are a hash of the RAW's resolved absolute path, so the name is stable for one
    file (however it is reached: relative path, symbolic link) and differs between same-named
    files of different folders; the name is there for people looking in the folder.
    """
    p = Path(raw)
    # realpath never raises (a missing file, a link loop): the name must always be computable.
    digest = hashlib.sha256(os.fsencode(os.path.realpath(p))).hexdigest()[:16]  # not security
    return Path(data_dir) / FALLBACK_FOLDER / f"{p.name[:_NAME_CHARS]}.{digest}.json"


# -- load and save --------------------------------------------------------------------------


def load_photo_settings(
    raw: str | os.PathLike[str], data_dir: str | os.PathLike[str]
) -> PhotoSettings | None:
    """A photo's saved settings: the sidecar beside it, else the fallback in ``data_dir``;
    ``None`` when it has neither. Where both exist the newer wins (see the module docstring).

    Raises:
        SettingsError: the sidecar to use is unreadable, not JSON, invalid or from a newer
            Darkroom; one line naming the file (callers may warn and use the defaults).
    """
    candidates = [(path, _mtime(path)) for path in _paths(raw, data_dir)]
    present = [(path, mtime) for path, mtime in candidates if mtime is not None]
    if not present:
        return None
    # max() keeps the first of equals: beside the photo wins a tie.
    path, _ = max(present, key=lambda item: item[1])
    return _read(path)


def save_photo_settings(
    raw: str | os.PathLike[str], settings: PhotoSettings, data_dir: str | os.PathLike[str]
) -> Path:
    """Save a photo's settings atomically beside it, or in ``data_dir`` where its folder is
    not writable or is inside Darkroom's installation (the bundled sample); returns the file
    written. The RAW itself is never opened.

    Saving beside the photo removes the fallback copy, so one file holds its settings.

    Raises:
        SettingsError: neither place could be written (one line with both reasons).
    """
    beside, fallback = _paths(raw, data_dir)
    data = settings.to_dict()
    if is_inside_install(beside.parent):  # the bundled sample: the installation stays as shipped
        beside_reason = "inside the installation"
    elif os.access(beside.parent, os.W_OK | os.X_OK):
        try:
            atomic_write_json(beside, data)
        except OSError as exc:  # read-only mount, a folder named like the sidecar, full disk
            beside_reason = failure_reason(exc)
        else:
            with contextlib.suppress(OSError):  # a stale copy left is older: load skips it
                fallback.unlink(missing_ok=True)
            return beside
    else:
        beside_reason = "folder not writable"
    try:
        atomic_write_json(fallback, data)
    except OSError as exc:
        raise SettingsError(
            f"{Path(raw).name}: could not save its settings beside it ({beside_reason}) nor "
            f"in {fallback.parent} ({failure_reason(exc)})"
        ) from None
    return fallback


def _paths(raw: str | os.PathLike[str], data_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(beside the photo, fallback)``: the order :func:`load_photo_settings` prefers."""
    return sidecar_path(raw), fallback_sidecar_path(raw, data_dir)


def _mtime(path: Path) -> float | None:
    """When ``path`` was last written; ``None`` when it does not exist (or its folder cannot
    be looked into: then there is nothing to read either)."""
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _read(path: Path) -> PhotoSettings:
    try:
        data = read_json_file(path, _MAX_BYTES, _MAX_DEPTH)
    except OSError as exc:
        raise SettingsError(
            f"{path}: could not read the settings ({failure_reason(exc)})"
        ) from None
    except JsonTooBigError as exc:
        raise SettingsError(f"{path}: damaged settings file ({exc})") from None
    except ValueError as exc:
        what = "not a settings file" if "UTF-8" in str(exc) else "damaged settings file"
        raise SettingsError(f"{path}: {what} ({exc})") from None
    try:
        return PhotoSettings.from_dict(data)
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from None
