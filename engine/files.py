"""The one atomic writer: every file Darkroom writes appears whole or not at all.

Pixels, weights, cards, checkpoints, run states and reports are written to a temporary file
``.<name>.<random>.part`` in the destination folder, flushed and fsynced, given the usual
permissions, and renamed over the final name only when complete (``os.replace`` is atomic
within one file system). On any exception the temporary file is removed and the exception
re-raised, so an interrupted write (error, full disk, cancel) never leaves a half-written file
under the real name.

* :func:`atomic_file`: a binary file object for writers that stream (encoders, ``torch.save``);
* :func:`atomic_write_bytes`, :func:`atomic_write_text`, :func:`atomic_write_json`: whole
  contents at once;
* :func:`stage_bytes` and :func:`install_staged`: several files that must appear together (a
  model's weights and its card): stage each, then install all or none.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

#: Suffix of every temporary file the writers here create.
TEMP_SUFFIX = ".part"


def _umask() -> int:
    # os.umask can only be read by setting it, which races with other threads; Linux exposes
    # it read-only in /proc.
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def _new_temp(target: Path) -> Path:
    """An empty ``.<name>.<random>.part`` beside ``target`` (mode 0600 until finished)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    os.close(fd)  # reopened by name: tifffile wants a file object with a real .name
    return Path(tmp)


def _finish(tmp: Path) -> None:
    # mkstemp creates files 0600; outputs should get the usual permissions.
    with contextlib.suppress(OSError):
        os.chmod(tmp, 0o666 & ~_umask())


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``path`` for writing; on success fsync and rename it to
    ``path`` (replacing any existing file), on any exception delete it and re-raise.

    The folder must exist (callers decide whether creating it is right).
    """
    target = Path(path)
    tmp = _new_temp(target)
    try:
        with open(tmp, "r+b") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _finish(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, creating missing parent folders."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(target) as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically, creating missing parent folders."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON (plus a newline) to ``path`` atomically."""
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def stage_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to a finished, fsynced temporary file beside ``target`` and return it.

    Nothing appears under ``target`` until :func:`install_staged`; the temporary file is
    removed again if writing fails.
    """
    tmp = _new_temp(Path(target))
    try:
        with open(tmp, "r+b") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _finish(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def install_staged(staged: Sequence[tuple[Path, Path]], overwrite: bool = False) -> None:
    """Move staged ``(temporary, final)`` files into place: all of them or none.

    Files are moved in order; if one fails, those already moved are removed again (or, when
    they replaced an existing file, its earlier content is restored from a backup), and every
    temporary file left is deleted, so the folder holds either all new files or what it held
    before.

    Raises:
        FileExistsError: a final name exists and ``overwrite`` is false.
        OSError: a move failed (after undoing).
    """
    backups: list[tuple[Path, Path | None]] = []
    try:
        for tmp, final in staged:
            backup = None
            if final.exists():
                if not overwrite:
                    raise FileExistsError(f"{final.name} already exists")
                backup = final.with_name(f".{final.name}.bak")
                os.replace(final, backup)
            backups.append((final, backup))
            os.replace(tmp, final)
    except BaseException:
        for final, backup in reversed(backups):
            if backup is not None:
                os.replace(backup, final)
            else:
                final.unlink(missing_ok=True)
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for _, backup in backups:
        if backup is not None:
            backup.unlink(missing_ok=True)
