"""Where an export may go, and how a failed write is said: the rules every writer and the
render paths share (the render checks before it starts, the writers check again).

:func:`check_destination` refuses the input itself, a folder, a file Darkroom did not write,
and an existing export without ``overwrite``; :func:`make_folder` creates the output folder or
says in one line why not; :func:`writing` turns any failure inside a write into one
:class:`~engine.errors.ExportError` line; :func:`failure_reason` is how any failure ends such
a line (the settings beside a photo say theirs with it too).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import Cancelled, DarkroomError, ExportError
from engine.io.naming import written_by_darkroom

if TYPE_CHECKING:
    from engine.io.export import ExportOptions


def check_destination(
    path: str | os.PathLike[str],
    options: ExportOptions,
    source_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Refuse a destination that is the input, a folder, an existing file that Darkroom did
    not write (:func:`~engine.io.naming.written_by_darkroom`: a camera's own JPEG is never
    replaced), or an existing Darkroom export without ``options.overwrite``; callers may check
    before a long render, writers check again.

    Raises:
        ExportError: with a one-line reason.
    """
    dest = Path(path)
    try:
        if source_path is not None and same_file(Path(source_path), dest):
            raise ExportError(f"{dest}: output would overwrite the input")
        if dest.is_dir():
            raise ExportError(f"{dest}: is a folder")
        if dest.exists() or dest.is_symlink():
            if not written_by_darkroom(dest) or dest.is_symlink():
                raise ExportError(f"{dest}: exists and is not a Darkroom export; it is never "
                                  "replaced (choose another name or folder)")  # fmt: skip
            if not options.overwrite:
                raise ExportError(f"{dest}: file exists (use --overwrite to replace it)")
    except OSError as exc:  # a name or path too long for the system, say
        raise ExportError(f"{dest}: cannot write there ({failure_reason(exc)})") from None
    return dest


def make_folder(dest: Path) -> None:
    """Create ``dest``'s folder (and its parents).

    Raises:
        ExportError: a file stands where a folder should, or the folder cannot be made.
    """
    parent = dest.parent
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise ExportError(f"{existing}: is a file, not a folder; cannot write {dest.name} there")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(
            f"{parent}: cannot create output folder ({failure_reason(exc)})"
        ) from None
    if not parent.is_dir():
        raise ExportError(f"{parent}: not a folder")


@contextmanager
def writing(dest: Path, fmt: str) -> Iterator[None]:
    """Turn any failure of a write into a one-line :class:`ExportError`."""
    try:
        yield
    except (DarkroomError, Cancelled):
        raise
    except FileExistsError:  # appeared while we wrote (another run): theirs stays
        raise ExportError(f"{dest}: file exists (use --overwrite)") from None
    except PermissionError:
        raise ExportError(f"{dest.parent}: folder is not writable (permission denied)") from None
    except OSError as exc:
        raise ExportError(f"{dest}: could not write ({failure_reason(exc)})") from exc
    except Exception as exc:  # any encoder failure becomes one line
        raise ExportError(f"{dest}: could not write {fmt.upper()} ({failure_reason(exc)})") from exc


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name the same file (also through hard links and case-insensitive
    file systems); ``False`` when either cannot be looked at."""
    try:
        if a.resolve() == b.resolve():
            return True
        # Hard links and case-insensitive file systems: different names, same file.
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def failure_reason(exc: BaseException) -> str:
    """An exception as the end of a one-line message: the system's words for an OS error, else
    its type and first line."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
