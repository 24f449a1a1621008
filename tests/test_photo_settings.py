"""A photo's settings: saved beside it (or in the data folder where it cannot be), never in it."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine.render.photo_settings as ps
from engine.errors import DarkroomError, SettingsError
from engine.render import (
    MAX_RATIO,
    Adjustments,
    PhotoSettings,
    fallback_sidecar_path,
    load_photo_settings,
    save_photo_settings,
    sidecar_path,
)
from engine.resources import user_data_dir

SETTINGS = PhotoSettings(ratio=250.0, model="fast", amount=0.6, before="x1")


@pytest.fixture
def raw_file(tmp_path: Path) -> Path:
    """A stand-in RAW file (its bytes are never parsed here) with an old modification time."""
    folder = tmp_path / "card"
    folder.mkdir()
    raw = folder / "IMG_1.ARW"
    raw.write_bytes(b"not really a RAW, but its bytes must never change" * 10)
    os.utime(raw, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    return raw


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` cannot be written: chmod 0o555, and where that does not stop this user (root),
    every write into it fails as it would (PermissionError)."""
    os.chmod(folder, 0o555)
    try:
        with pytest.MonkeyPatch.context() as mp:
            if os.access(folder, os.W_OK):  # root: the mode does not bind, simulate it
                real = ps.atomic_write_json

                def refuse_in_folder(path: str | os.PathLike[str], data: object) -> None:
                    if Path(path).parent == folder:
                        raise PermissionError(errno.EACCES, "Permission denied", str(path))
                    real(path, data)

                mp.setattr(ps, "atomic_write_json", refuse_in_folder)
            yield
    finally:
        os.chmod(folder, 0o755)


def test_sidecar_is_the_whole_name_plus_darkroom_json(tmp_path: Path) -> None:
    assert sidecar_path(tmp_path / "IMG_1.ARW") == tmp_path / "IMG_1.ARW.darkroom.json"
    assert sidecar_path("a/b.c.dng") == Path("a/b.c.dng.darkroom.json")


def test_fallback_name_is_stable_and_tells_same_named_files_apart(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tmp_path / "day1" / "IMG_1.ARW", tmp_path / "day2" / "IMG_1.ARW"
    path_a = fallback_sidecar_path(a, data_dir)
    assert path_a.parent == data_dir / "photo-settings"
    assert path_a.name.startswith("IMG_1.ARW.") and path_a.suffix == ".json"
    assert path_a != fallback_sidecar_path(b, data_dir)
    monkeypatch.chdir(tmp_path)  # a relative path to the same file names the same fallback
    assert fallback_sidecar_path(Path("day1/IMG_1.ARW"), data_dir) == path_a
    assert fallback_sidecar_path(a, data_dir) == path_a  # stable across calls


def test_long_names_still_make_a_legal_fallback_name(tmp_path: Path, data_dir: Path) -> None:
    name = "x" * 240 + ".ARW"
    assert len(fallback_sidecar_path(tmp_path / name, data_dir).name.encode()) <= 255


def test_settings_round_trip_beside_the_photo(raw_file: Path, data_dir: Path) -> None:
    assert load_photo_settings(raw_file, data_dir) is None  # nothing saved yet
    written = save_photo_settings(raw_file, SETTINGS, data_dir)
    assert written == sidecar_path(raw_file)
    assert load_photo_settings(raw_file, data_dir) == SETTINGS
    data = json.loads(written.read_text(encoding="utf-8"))
    assert data == {"format": "darkroom-photo-settings", "version": 1, "ratio": 250.0,
                    "model": "fast", "amount": 0.6, "before": "x1"}  # fmt: skip
    assert not data_dir.exists()  # the fallback folder is made only when needed
    assert PhotoSettings.from_dict(SETTINGS.to_dict()) == SETTINGS


def test_auto_ratio_round_trips_as_null(raw_file: Path, data_dir: Path) -> None:
    auto = PhotoSettings(ratio=None, model="none")
    save_photo_settings(raw_file, auto, data_dir)
    assert json.loads(sidecar_path(raw_file).read_text())["ratio"] is None
    loaded = load_photo_settings(raw_file, data_dir)
    assert loaded == auto and loaded.ratio is None
    assert (loaded.amount, loaded.before) == (1.0, "same")


def test_whole_numbers_are_floats_and_adjustments_follow() -> None:
    settings = PhotoSettings(ratio=100, model="fast", amount=1)
    assert settings == PhotoSettings(ratio=100.0, model="fast", amount=1.0)
    assert isinstance(settings.ratio, float) and isinstance(settings.amount, float)
    assert settings.adjustments == Adjustments(ratio=100.0, amount=1.0)


def test_saving_never_writes_the_raw(raw_file: Path, data_dir: Path) -> None:
    before, stat = raw_file.read_bytes(), raw_file.stat()
    save_photo_settings(raw_file, SETTINGS, data_dir)
    save_photo_settings(raw_file, PhotoSettings(None, "none"), data_dir)  # replace it too
    after = raw_file.stat()
    assert raw_file.read_bytes() == before
    assert (after.st_mtime_ns, after.st_size, after.st_ino) == (
        stat.st_mtime_ns,
        stat.st_size,
        stat.st_ino,
    )
    assert sorted(p.name for p in raw_file.parent.iterdir()) == [
        "IMG_1.ARW",
        "IMG_1.ARW.darkroom.json",
    ]  # no temporary files left either


def test_read_only_folder_falls_back_to_the_data_folder(raw_file: Path, data_dir: Path) -> None:
    with read_only(raw_file.parent):
        written = save_photo_settings(raw_file, SETTINGS, data_dir)
        assert written == fallback_sidecar_path(raw_file, data_dir)
        assert written.is_file() and not sidecar_path(raw_file).exists()
        assert load_photo_settings(raw_file, data_dir) == SETTINGS
    assert load_photo_settings(raw_file, data_dir) == SETTINGS  # writable again: still found


def test_os_access_saying_no_is_enough_to_fall_back(
    raw_file: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ps.os, "access", lambda path, mode: Path(path) != raw_file.parent)
    written = save_photo_settings(raw_file, SETTINGS, data_dir)
    assert written == fallback_sidecar_path(raw_file, data_dir)
    assert not sidecar_path(raw_file).exists()


def test_saving_beside_removes_a_stale_fallback(raw_file: Path, data_dir: Path) -> None:
    with read_only(raw_file.parent):
        fallback = save_photo_settings(raw_file, SETTINGS, data_dir)
    newer = PhotoSettings(ratio=8.0, model="none")
    assert save_photo_settings(raw_file, newer, data_dir) == sidecar_path(raw_file)
    assert not fallback.exists()
    assert load_photo_settings(raw_file, data_dir) == newer


def test_a_save_to_the_fallback_wins_over_an_older_sidecar(raw_file: Path, data_dir: Path) -> None:
    """The folder became read-only after a save beside the photo: the later change, which
    could only go to the fallback, is what loads (the sidecar cannot be removed)."""
    beside = save_photo_settings(raw_file, SETTINGS, data_dir)
    os.utime(beside, (1_700_000_000, 1_700_000_000))
    newer = PhotoSettings(ratio=3.0, model="fast")
    with read_only(raw_file.parent):
        assert save_photo_settings(raw_file, newer, data_dir) != beside
        assert beside.exists()
        assert load_photo_settings(raw_file, data_dir) == newer


def test_nowhere_to_save_is_one_line(
    raw_file: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(path: str | os.PathLike[str], data: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(ps, "atomic_write_json", full_disk)
    with pytest.raises(SettingsError) as err:
        save_photo_settings(raw_file, SETTINGS, data_dir)
    message = str(err.value)
    assert "\n" not in message and "IMG_1.ARW" in message and "No space left" in message


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"{", "not valid JSON"),
        (b'{"format": "darkroom-photo-settings", "version": 1, "model": "fast",', "JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"[1, 2]", "not a Darkroom photo settings file"),
        (b'{"format": "something-else", "version": 1}', "not a Darkroom photo settings file"),
        (b'{"format": "darkroom-photo-settings"}', "invalid settings version"),
        (b'{"format": "darkroom-photo-settings", "version": 1}', "model"),
        (b"[" * 50_000, "damaged"),
    ],
)
def test_a_damaged_sidecar_is_one_line_naming_it(
    raw_file: Path, data_dir: Path, content: bytes, words: str
) -> None:
    sidecar_path(raw_file).write_bytes(content)
    with pytest.raises(SettingsError) as err:
        load_photo_settings(raw_file, data_dir)
    message = str(err.value)
    assert isinstance(err.value, DarkroomError)
    assert "\n" not in message and words in message
    assert message.startswith(str(sidecar_path(raw_file)))


def test_an_unreadable_sidecar_is_one_line(raw_file: Path, data_dir: Path) -> None:
    sidecar_path(raw_file).mkdir()  # exists, cannot be read as a file (root or not)
    with pytest.raises(SettingsError, match="could not read") as err:
        load_photo_settings(raw_file, data_dir)
    assert "\n" not in str(err.value)


def test_a_corrupt_fallback_is_reported_too(raw_file: Path, data_dir: Path) -> None:
    fallback = fallback_sidecar_path(raw_file, data_dir)
    fallback.parent.mkdir(parents=True)
    fallback.write_text("nonsense")
    with pytest.raises(SettingsError, match="not valid JSON"):
        load_photo_settings(raw_file, data_dir)


def test_a_newer_version_is_refused_clearly(raw_file: Path, data_dir: Path) -> None:
    data = {**SETTINGS.to_dict(), "version": 2, "curves": [1, 2, 3]}
    sidecar_path(raw_file).write_text(json.dumps(data))
    with pytest.raises(SettingsError, match=r"newer Darkroom \(version 2; this one reads up to 1"):
        load_photo_settings(raw_file, data_dir)


def test_unknown_keys_are_ignored(raw_file: Path, data_dir: Path) -> None:
    data = {**SETTINGS.to_dict(), "curves": [1, 2, 3], "note": "from a later version"}
    sidecar_path(raw_file).write_text(json.dumps(data))
    assert load_photo_settings(raw_file, data_dir) == SETTINGS


def test_missing_optional_keys_take_their_defaults() -> None:
    data = {"format": "darkroom-photo-settings", "version": 1, "model": "fast"}
    assert PhotoSettings.from_dict(data) == PhotoSettings(ratio=None, model="fast")


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("ratio", 0.5, "ratio 0.5 out of range"),
        ("ratio", MAX_RATIO + 1, "out of range"),
        ("ratio", "100", "ratio '100' out of range"),
        ("ratio", True, "out of range"),
        ("ratio", float("nan"), "out of range"),
        ("ratio", 10**400, "out of range"),
        ("amount", -0.1, "amount -0.1 out of range"),
        ("amount", 1.5, "amount 1.5 out of range"),
        ("amount", None, "out of range"),
        ("before", "x2", "before 'x2' invalid"),
        ("model", "", "model '' invalid"),
        ("model", "   ", "invalid"),
        ("model", 5, "model 5 invalid"),
    ],
)
def test_values_out_of_range_are_refused(
    raw_file: Path, data_dir: Path, key: str, value: object, words: str
) -> None:
    data = {**SETTINGS.to_dict(), key: value}
    with pytest.raises(SettingsError, match=re.escape(words)) as err:
        PhotoSettings.from_dict(data)
    assert "\n" not in str(err.value)
    # The same refusal from a file on disk (NaN too: Python's json writes and reads it).
    sidecar_path(raw_file).write_text(json.dumps(data))
    with pytest.raises(SettingsError, match=r"IMG_1\.ARW\.darkroom\.json: "):
        load_photo_settings(raw_file, data_dir)


def test_the_constructor_checks_too() -> None:
    with pytest.raises(SettingsError, match="out of range"):
        PhotoSettings(ratio=0.0, model="fast")
    with pytest.raises(SettingsError, match="before"):
        PhotoSettings(ratio=None, model="fast", before="after")


def test_default_data_dir_honours_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DARKROOM_DATA_DIR", str(tmp_path / "here"))
    assert user_data_dir() == tmp_path / "here"
    monkeypatch.delenv("DARKROOM_DATA_DIR")
    import platformdirs

    assert user_data_dir() == platformdirs.user_data_path("Darkroom", "Darkroom")
    assert not str(user_data_dir()).startswith(str(tmp_path))


def test_the_bundled_samples_settings_go_to_the_data_folder(tmp_path: Path) -> None:
    from engine.resources import sample_raw_path

    sample = sample_raw_path()
    written = save_photo_settings(sample, PhotoSettings(12.0, "fast"), tmp_path)
    assert written.parent == tmp_path / "photo-settings"
    assert not sidecar_path(sample).exists()
    assert load_photo_settings(sample, tmp_path).ratio == 12.0
