"""The one atomic writer: recognisable temporary files, stale ones cleaned, no-clobber
publishing, long names, and a process killed mid-write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import engine.files as files
from engine.files import (
    TEMP_MARK,
    atomic_file,
    atomic_write_bytes,
    is_stale_temp,
    remove_stale_temps,
    rename_noreplace,
    temp_name,
)


def _old(path: Path, age_s: float) -> Path:
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def test_temporary_names_are_recognisable_and_fit_long_names() -> None:
    name = temp_name("IMG_0001.jpg")
    assert name.startswith(".IMG_0001.jpg.") and name.endswith(TEMP_MARK)
    assert f"-{os.getpid()}-" in name
    assert not is_stale_temp(name, age_s=0)  # this very process is alive
    longest = "é" * 127 + ".j"  # 256 bytes of UTF-8 less 2: a legal 254-byte file name
    assert len(temp_name(longest).encode()) < 255


def test_stale_temporary_files_go_others_stay(tmp_path: Path) -> None:
    host = files._host()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    names = {
        "dead": f".a.jpg.1234abcd.{host}-{dead}-0123abcd{TEMP_MARK}",
        "alive": f".b.jpg.1234abcd.{host}-{os.getpid()}-0123abcd{TEMP_MARK}",
        "foreign young": f".c.jpg.1234abcd.otherbox-1-0123abcd{TEMP_MARK}",
        "foreign old": f".d.jpg.1234abcd.otherbox-1-0123abcd{TEMP_MARK}",
        "legacy old": ".e.jpg.k2j4_9xq.part",
        "legacy young": ".f.jpg.k2j4_9xq.part",
        "someone else's": "download.zip.part",
        "a photo": "IMG_0001.jpg",
    }
    for key, name in names.items():
        path = tmp_path / name
        path.write_bytes(b"x")
        if "old" in key:
            _old(path, 2 * 24 * 3600)
    removed = {p.name for p in remove_stale_temps(tmp_path)}
    assert removed == {names["dead"], names["foreign old"], names["legacy old"]}
    kept = {p.name for p in tmp_path.iterdir()}
    assert kept == set(names.values()) - removed


def test_a_write_killed_midway_is_cleaned_by_the_next_write(tmp_path: Path) -> None:
    """kill -9 leaves the temporary file; the next run into that folder removes it."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
        from engine.files import atomic_file
        with atomic_file({str(tmp_path / "big.tif")!r}) as fh:
            fh.write(b"half a file")
            fh.flush()
            print("writing", flush=True)
            time.sleep(60)
    """)
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None and child.stdout.readline().strip() == "writing"
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].endswith(TEMP_MARK)  # no file under the real name
    files._cleaned.discard(os.path.abspath(tmp_path))  # as a new process would be
    atomic_write_bytes(tmp_path / "other.jpg", b"done")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.jpg"]


def test_no_clobber_publishing_loses_the_race_cleanly(tmp_path: Path) -> None:
    target = tmp_path / "out.jpg"
    with pytest.raises(FileExistsError):
        with atomic_file(target, overwrite=False) as fh:
            fh.write(b"mine")
            target.write_bytes(b"theirs, written meanwhile")  # the other run got there first
    assert target.read_bytes() == b"theirs, written meanwhile"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jpg"]  # our temporary file is gone
    with atomic_file(target, overwrite=True) as fh:
        fh.write(b"replaced on purpose")
    assert target.read_bytes() == b"replaced on purpose"


def test_rename_noreplace_without_hard_links_or_renameat2(tmp_path: Path, monkeypatch) -> None:
    """File systems with neither (FAT, some shares) still refuse to replace."""
    monkeypatch.setattr(files, "_RENAMEAT2", None)

    def no_links(src: object, dst: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    with pytest.raises(FileExistsError):
        rename_noreplace(tmp_path / "a", tmp_path / "b")
    rename_noreplace(tmp_path / "a", tmp_path / "c")
    assert (tmp_path / "c").read_bytes() == b"a" and not (tmp_path / "a").exists()
