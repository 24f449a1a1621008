"""Automatic pairing of short/long exposures on small real DNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.errors import DarkroomError
from engine.finetune import collect_pairs, file_number, pair_files, scan_folder
from engine.io import ExifInfo, write_cfa_dng
from engine.noise import NoiseParams, add_noise
from tests.conftest import mosaic_from_rgb, smooth_scene

H, W = 64, 96
BLACK, WHITE = 512, 16383
#: Moderate sensor noise (K in DN/e-, DN) so the short exposures look like real ones.
NOISE = NoiseParams(k=1.0, sigma_read=2.0, lam=0.0, sigma_row=0.5)


def textured_scene(height: int = H, width: int = W, seed: int = 0) -> np.ndarray:
    """:func:`smooth_scene` plus sharp-edged patches, so shifts are measurable.

    Returns:
        ``(height, width, 3)`` float32 linear camera RGB in [0, 1].
    """
    rng = np.random.default_rng(seed + 100)
    img = smooth_scene(height, width, seed) * np.float32(0.8)
    for _ in range(height * width // 200):
        y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
        dy, dx = (int(v) for v in rng.integers(3, 12, 2))
        img[y : y + dy, x : x + dx] = rng.uniform(0.05, 0.9, 3)
    return img


def shoot(
    path: Path,
    seconds: float,
    *,
    scene: np.ndarray | None = None,
    iso: float = 800,
    make: str = "Sony",
    model: str = "ILCE-7S",
    when: str | None = "2024:05:01 20:00:00",
    shift: int = 0,
    brightness: float = 1.0,
    full_seconds: float = 1.0,
    seed: int = 0,
) -> Path:
    """Write a real DNG of ``scene`` exposed for ``seconds`` (``full_seconds`` fills the range)
    with shot, read and row noise, the exposure in its EXIF, the view shifted ``shift`` pixels
    to the right and the light scaled by ``brightness``."""
    rgb = textured_scene(seed=0) if scene is None else scene
    if shift:
        rgb = np.roll(rgb, shift, axis=1)
    expected = mosaic_from_rgb(rgb, "RGGB") * (WHITE - BLACK) * (seconds / full_seconds)
    expected = expected * brightness
    noisy = add_noise(expected, NOISE, np.random.default_rng([seed, int(seconds * 1e4)]))
    dn = np.clip(noisy + BLACK, 0, WHITE).astype(np.uint16)
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = ExifInfo(make=make, model=model, iso=iso, exposure_time=seconds, datetime=when)
    write_cfa_dng(path, dn, "RGGB", black_level=BLACK, white_level=WHITE,
                  wb_gains=(2.0, 1.0, 1.6), exif=exif)  # fmt: skip
    return path


def good_set(folder: Path) -> Path:
    """Two scenes: one short + one long, then two shorts sharing one long (x100, x50, x100)."""
    scene_b = textured_scene(seed=1)
    shoot(folder / "DSC00001.dng", 0.01, when="2024:05:01 20:00:00")
    shoot(folder / "DSC00002.dng", 1.0, when="2024:05:01 20:00:05")
    shoot(folder / "DSC00003.dng", 0.02, scene=scene_b, when="2024:05:01 20:10:00")
    shoot(folder / "DSC00004.dng", 0.01, scene=scene_b, when="2024:05:01 20:10:03")
    shoot(folder / "DSC00005.dng", 1.0, scene=scene_b, when="2024:05:01 20:10:08")
    (folder / "notes.txt").write_text("not a RAW file")
    return folder


def test_good_set_pairs_every_short_with_its_long(tmp_path: Path) -> None:
    report = scan_folder(good_set(tmp_path / "shoot"))
    assert not report.problems() and len(report.valid_pairs) == 3
    got = {(p.short.name, p.long.name): p for p in report.pairs}
    assert set(got) == {("DSC00001.dng", "DSC00002.dng"), ("DSC00003.dng", "DSC00005.dng"),
                        ("DSC00004.dng", "DSC00005.dng")}  # fmt: skip
    ratios = {k[0]: p.ratio for k, p in got.items()}
    assert ratios["DSC00001.dng"] == pytest.approx(100, rel=1e-3)
    assert ratios["DSC00003.dng"] == pytest.approx(50, rel=1e-3)
    for pair in report.pairs:
        assert pair.camera == "Sony ILCE-7S"
        assert pair.shift_px is not None and pair.shift_px < 1.5
    report.raise_for_problems()  # a clean set passes
    specs = report.valid_files()
    assert specs[0].ratio == pytest.approx(100, rel=1e-3)
    assert "3 valid pair(s)" in report.summary_lines()[0]


def test_file_numbers_pair_frames_without_capture_times(tmp_path: Path) -> None:
    shoot(tmp_path / "IMG_0041.dng", 0.05, when=None)
    shoot(tmp_path / "IMG_0042.dng", 1.0, when=None)
    shoot(tmp_path / "IMG_0050.dng", 1.0, when=None)  # not consecutive: a scene of its own
    report = scan_folder(tmp_path)
    assert [(p.short.name, p.long.name) for p in report.valid_pairs] == [
        ("IMG_0041.dng", "IMG_0042.dng")
    ]
    assert [u.path.name for u in report.unpaired] == ["IMG_0050.dng"]
    assert file_number(Path("DSC01234.ARW")) == ("DSC", 1234, "")


def test_empty_folder_and_folder_without_pairs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DarkroomError, match="no RAW files"):
        scan_folder(tmp_path / "empty")
    with pytest.raises(DarkroomError, match="no such folder"):
        scan_folder(tmp_path / "missing")
    shoot(tmp_path / "same/DSC00001.dng", 1.0, when="2024:05:01 20:00:00")
    shoot(tmp_path / "same/DSC00002.dng", 1.0, when="2024:05:01 20:00:10")
    with pytest.raises(DarkroomError, match=r"no short/long pairs.*same exposure"):
        scan_folder(tmp_path / "same")


def test_unpaired_file_is_reported(tmp_path: Path) -> None:
    shoot(tmp_path / "DSC00001.dng", 0.01, when="2024:05:01 20:00:00")
    shoot(tmp_path / "DSC00002.dng", 1.0, when="2024:05:01 20:00:05")
    shoot(tmp_path / "DSC00010.dng", 0.01, when="2024:05:01 21:30:00")
    report = scan_folder(tmp_path)
    assert len(report.valid_pairs) == 1
    assert [u.path.name for u in report.unpaired] == ["DSC00010.dng"]
    assert "no other frame of the same scene" in report.unpaired[0].reason
    with pytest.raises(DarkroomError, match=r"DSC00010\.dng: no other frame"):
        report.raise_for_problems()


def test_two_cameras_are_an_invalid_pair(tmp_path: Path) -> None:
    shoot(tmp_path / "DSC00001.dng", 0.01, when="2024:05:01 20:00:00")
    shoot(tmp_path / "NIK_0002.dng", 1.0, make="Nikon", model="D850", when="2024:05:01 20:00:20")
    report = scan_folder(tmp_path)
    (pair,) = report.pairs
    assert not pair.valid and "different cameras (Sony ILCE-7S vs Nikon D850)" in pair.reason


def test_different_sizes_are_an_invalid_pair(tmp_path: Path) -> None:
    shoot(tmp_path / "DSC00001.dng", 0.01)
    shoot(tmp_path / "DSC00002.dng", 1.0, scene=textured_scene(H, W + 32), when=None)
    pair = pair_files(tmp_path / "DSC00001.dng", tmp_path / "DSC00002.dng")
    assert not pair.valid and "different sizes (96x64 vs 128x64)" in pair.reason


def test_ratio_below_one_when_swapped(tmp_path: Path) -> None:
    short = shoot(tmp_path / "short.dng", 0.01)
    long = shoot(tmp_path / "long.dng", 1.0)
    assert pair_files(short, long).valid
    swapped = pair_files(long, short)
    assert not swapped.valid and "below 1" in swapped.reason
    assert swapped.ratio == pytest.approx(0.01, rel=1e-3)


def test_misaligned_frames_are_invalid(tmp_path: Path) -> None:
    shoot(tmp_path / "DSC00001.dng", 0.01, when="2024:05:01 20:00:00", shift=8)
    shoot(tmp_path / "DSC00002.dng", 1.0, when="2024:05:01 20:00:05")
    (pair,) = scan_folder(tmp_path).pairs
    assert not pair.valid and "misaligned" in pair.reason
    assert pair.shift_px == pytest.approx(8, abs=1.5)


def test_scenes_a_minute_apart_pair_each_short_with_its_own_long(tmp_path: Path) -> None:
    """Four tripod pairs, short then long, a minute apart: one scene group by capture time,
    and each short as near to the previous scene's long as to its own."""
    for i in range(4):
        scene = textured_scene(seed=20 + i)
        shoot(tmp_path / f"DSC{2 * i + 1:05d}.dng", 0.01, scene=scene, seed=i,
              when=f"2024:05:01 20:0{i}:00")  # fmt: skip
        shoot(tmp_path / f"DSC{2 * i + 2:05d}.dng", 1.0, scene=scene, seed=i,
              when=f"2024:05:01 20:0{i}:30")  # fmt: skip
    report = scan_folder(tmp_path)
    got = sorted((p.short.name, p.long.name, p.valid) for p in report.pairs)
    assert got == [(f"DSC{2 * i + 1:05d}.dng", f"DSC{2 * i + 2:05d}.dng", True)
                   for i in range(4)]  # fmt: skip
    assert all(p.shift_px is not None and p.shift_px < 1.5 for p in report.pairs)


def test_pair_whose_alignment_cannot_be_measured_is_invalid(tmp_path: Path) -> None:
    # Frames of some size: on tiny ones, noise alone correlates above the threshold.
    scene = textured_scene(512, 768, seed=31)
    short = shoot(tmp_path / "DSC00001.dng", 0.01, scene=scene)
    flat = np.full_like(scene, 0.4)  # a grey card: nothing to align on
    long = shoot(tmp_path / "DSC00002.dng", 1.0, scene=flat, when="2024:05:01 20:00:05")
    pair = pair_files(short, long)
    assert not pair.valid and "alignment cannot be measured" in pair.reason
    assert pair.shift_px is None  # not "0 px off"
    (scanned,) = scan_folder(tmp_path).pairs
    assert not scanned.valid and "alignment cannot be measured" in scanned.reason


def test_clipped_long_exposure_is_invalid(tmp_path: Path) -> None:
    short = shoot(tmp_path / "DSC00001.dng", 0.01)
    long = shoot(tmp_path / "DSC00002.dng", 1.0, brightness=4.0)
    pair = pair_files(short, long)
    assert not pair.valid and "clipped over" in pair.reason
    assert pair.clipped_fraction is not None and pair.clipped_fraction > 0.5


def test_corrupt_file_is_listed_not_fatal(tmp_path: Path) -> None:
    good_set(tmp_path)
    (tmp_path / "DSC00006.dng").write_bytes(b"II*\x00" + bytes(range(256)) * 8)
    (tmp_path / "DSC00007.dng").write_bytes(b"")
    report = scan_folder(tmp_path)
    assert len(report.valid_pairs) == 3
    assert sorted(e.path.name for e in report.errors) == ["DSC00006.dng", "DSC00007.dng"]
    assert all(e.reason and "\n" not in e.reason for e in report.errors)
    with pytest.raises(DarkroomError, match=r"DSC00006\.dng"):
        report.raise_for_problems()
    bad = pair_files(tmp_path / "DSC00006.dng", tmp_path / "DSC00002.dng")
    assert not bad.valid and bad.reason.startswith("DSC00006.dng:")


def test_collect_pairs_checks_csv_lists(tmp_path: Path) -> None:
    good_set(tmp_path / "shoot")
    (tmp_path / "pairs.csv").write_text(
        "short,long\nshoot/DSC00001.dng,shoot/DSC00002.dng\nshoot/DSC00002.dng,shoot/DSC00001.dng\n"
    )
    report = collect_pairs(tmp_path / "pairs.csv")
    assert [p.valid for p in report.pairs] == [True, False]
    assert len(collect_pairs(tmp_path / "shoot").valid_pairs) == 3
    with pytest.raises(DarkroomError, match="no such file or folder"):
        collect_pairs(tmp_path / "nothing")
