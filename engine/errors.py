"""User-facing error types.

Every error a photographer can cause (bad file, bad option, unwritable folder) is raised as a
:class:`DarkroomError` whose message is one line that says what went wrong. Front ends (CLI, GUI)
show that line and nothing else; anything else escaping is a bug.
"""

from __future__ import annotations


class DarkroomError(Exception):
    """An error caused by input the user can fix; ``str(err)`` is a one-line message."""


class RawReadError(DarkroomError):
    """The file is missing, unreadable, corrupt or not a RAW file."""


class UnsupportedSensorError(DarkroomError):
    """The RAW file is readable but its sensor is not supported (Foveon, monochrome...), or a
    model cannot enhance it (a network takes Bayer or X-Trans photos, and only the default model
    has a version for each)."""


class ModelError(DarkroomError):
    """A model name, weights file or model card is unknown, missing or invalid."""


class ExportError(DarkroomError):
    """An output could not be written (exists, unwritable folder, same as input...)."""


class SettingsError(DarkroomError):
    """A photo's saved settings are unreadable, invalid or from a newer Darkroom, or could not
    be saved anywhere."""


class Cancelled(Exception):  # noqa: N818 - it is a control-flow signal, not an error
    """Raised inside a long job when its :class:`~engine.jobs.CancelToken` was set."""
