"""The one atomic writer: every file Darkroom writes appears whole or not at all.

Pixels, weights, cards, checkpoints, run states and reports are written to a temporary file in
the destination folder, flushed and fsynced, given the usual permissions, and only then
published under the final name. On any exception the temporary file is removed and the
exception re-raised, so an interrupted write (error, full disk, cancel) never leaves a
half-written file under the real name.

* **Recognisable temporary files.** They are named
  ``.<name>.<hash>.<host>-<pid>-<random>.darkroom-part``: the name shortened (with a hash of
  the whole name, so a legal 255-byte output name still fits), the machine and process that
  writes it. A process killed with ``kill -9`` cannot delete its own; the first write of a
  later run into the same folder removes those of dead processes on this machine, and any older
  than a day (another machine's, on a shared folder), plus the ``.<name>.<random>.part`` files
  of earlier versions older than an hour (:func:`remove_stale_temps`).
* **No-clobber publishing.** Without ``overwrite``, publishing fails with
  :class:`FileExistsError` if the final name appeared meanwhile, in one step with the rename
  (``renameat2(RENAME_NOREPLACE)`` on Linux, a hard link elsewhere, a plain rename on Windows
  where rename never replaces), so two runs racing for one name end with one success and one
  clear error, never a silent replacement.

* :func:`atomic_file`: a binary file object for writers that stream (encoders, ``torch.save``);
* :func:`atomic_write_bytes`, :func:`atomic_write_text`, :func:`atomic_write_json`: whole
  contents at once;
* :func:`stage_bytes` and :func:`install_staged`: several files that must appear together (a
  model's weights and its card): stage each, then install all or none.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

#: Ending of every temporary file the writers here create.
TEMP_MARK = ".darkroom-part"
#: Longest part of the final name kept in a temporary name (bytes); a hash stands for the rest.
_NAME_BYTES = 120
#: Another machine's temporary file (a shared folder) is stale after this long, seconds.
_FOREIGN_AGE_S = 24 * 3600
#: Temporary files of versions before :data:`TEMP_MARK` are stale after this long, seconds.
_LEGACY_AGE_S = 3600
_TEMP_RE = re.compile(r"\.(?P<host>[A-Za-z0-9]{1,32})-(?P<pid>\d{1,10})-[0-9a-f]{8}"
                      + re.escape(TEMP_MARK) + r"$")  # fmt: skip
_LEGACY_RE = re.compile(r"^\..+\.[a-z0-9_]{8}\.part$")  # tempfile.mkstemp's random part

_cleaned: set[str] = set()
_cleaned_lock = threading.Lock()


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"


def _umask() -> int:
    # os.umask can only be read by setting it, which races with other threads; Linux exposes
    # it read-only in /proc.
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def temp_name(final_name: str) -> str:
    """The temporary name a write of ``final_name`` uses (see the module docstring)."""
    raw = final_name.encode("utf-8", "surrogateescape")
    short = raw[:_NAME_BYTES].decode("utf-8", "ignore")  # whole characters only
    digest = hashlib.sha1(raw).hexdigest()[:8]  # names the file; not a security hash
    return f".{short}.{digest}.{_host()}-{os.getpid()}-{secrets.token_hex(4)}{TEMP_MARK}"


def _new_temp(target: Path) -> Path:
    """An empty temporary file beside ``target`` (mode 0600 until finished)."""
    _clean_once(target.parent)
    tmp = target.parent / temp_name(target.name)
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    os.close(fd)  # reopened by name: tifffile wants a file object with a real .name
    return tmp


def _finish(tmp: Path) -> None:
    # Temporary files are created 0600; outputs should get the usual permissions.
    with contextlib.suppress(OSError):
        os.chmod(tmp, 0o666 & ~_umask())


def _clean_once(folder: Path) -> None:
    key = os.path.abspath(folder)
    with _cleaned_lock:
        if key in _cleaned:
            return
        _cleaned.add(key)
    remove_stale_temps(folder)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: leave its file alone
    return True


def is_stale_temp(name: str, age_s: float) -> bool:
    """Whether ``name`` is a temporary file of Darkroom's that nobody will finish."""
    match = _TEMP_RE.search(name)
    if match is not None and name.startswith("."):
        if match["host"] == _host():
            return not _pid_alive(int(match["pid"])) or age_s > _FOREIGN_AGE_S
        return age_s > _FOREIGN_AGE_S
    return bool(_LEGACY_RE.match(name)) and age_s > _LEGACY_AGE_S


def remove_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the stale temporary files Darkroom left in ``folder``; returns what went.

    Never raises: a folder that cannot be listed, or a file that is already gone, is skipped.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        with contextlib.suppress(OSError):
            if is_stale_temp(entry.name, now - entry.stat(follow_symlinks=False).st_mtime):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


# -- publishing ---------------------------------------------------------------------------

_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def _renameat2() -> Any:
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return None
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.renameat2
    return None


_RENAMEAT2 = _renameat2()


def rename_noreplace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Rename ``src`` to ``dst`` unless ``dst`` exists, in one step.

    Raises:
        FileExistsError: ``dst`` exists (``src`` is left as it was).
        OSError: the rename failed otherwise.
    """
    src_b, dst_b = os.fsencode(src), os.fsencode(dst)
    if os.name == "nt":  # Windows: rename never replaces an existing file
        os.rename(src, dst)
        return
    if _RENAMEAT2 is not None:
        if _RENAMEAT2(_AT_FDCWD, src_b, _AT_FDCWD, dst_b, _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code == errno.EEXIST:
            raise FileExistsError(code, os.strerror(code), os.fsdecode(dst))
        if code not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(code, os.strerror(code), os.fsdecode(dst))
    try:  # file systems without RENAME_NOREPLACE: a hard link claims the name in one step
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # No hard links either (FAT, some network shares): check, then rename; a race in
        # between is possible only here.
        if os.path.lexists(dst):
            raise FileExistsError(
                errno.EEXIST, os.strerror(errno.EEXIST), os.fsdecode(dst)
            ) from None
        os.rename(src, dst)
        return
    os.unlink(src)


def _publish(tmp: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, target)
    else:
        rename_noreplace(tmp, target)


# -- writers ------------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], overwrite: bool = True) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``path`` for writing; on success fsync it and publish it
    as ``path``, on any exception delete it and re-raise.

    Args:
        overwrite: replace an existing ``path``; ``False`` raises :class:`FileExistsError`
            (after the temporary file is removed) if ``path`` exists when the write is done.

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
        _publish(tmp, target, overwrite)
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
    """Move staged ``(temporary, final)`` files into place, in order: all of them or none.

    If one fails, those already moved are removed again (or, when they replaced an existing
    file, its earlier content is restored from a backup), and every temporary file left is
    deleted, so the folder holds either all new files or what it held before. Put the file
    that makes the set visible last (a model's weights, whose listing needs the card).

    Raises:
        FileExistsError: a final name exists (or appeared meanwhile) and ``overwrite`` is false.
        OSError: a move failed (after undoing).
    """
    backups: list[tuple[Path, Path | None]] = []
    try:
        for tmp, final in staged:
            backup = None
            if overwrite and final.exists():
                backup = final.with_name(temp_name(final.name))
                os.replace(final, backup)
            _publish(tmp, final, overwrite)
            backups.append((final, backup))
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


class JsonTooBigError(ValueError):
    """A JSON file over the size or nesting a reader allows (not what it claims to be)."""


def read_json_file(path: str | os.PathLike[str], max_bytes: int, max_depth: int) -> Any:
    """A small JSON file written by Darkroom (a model card, a photo's settings), read with
    bounds, so a huge or hostile file costs nothing and says why in a few words.

    Raises:
        OSError: the file cannot be read.
        JsonTooBigError: over ``max_bytes`` or nested deeper than ``max_depth``.
        ValueError: not UTF-8 text, or not valid JSON (the reason in one line).
    """
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise JsonTooBigError(f"over {max_bytes >> 10} KB")
    try:
        # utf-8-sig: an editor may have added a byte-order mark, which json refuses.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    if json_nesting(text) > max_depth:
        raise JsonTooBigError(f"nested over {max_depth} deep")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg}, line {exc.lineno}") from None
    except (ValueError, RecursionError) as exc:  # a 5000-digit number
        raise ValueError(type(exc).__name__) from None


def json_nesting(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON text (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest
