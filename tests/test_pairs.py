"""Real short/long pairs: listing (SID folders, CSV), loading through read_raw, sampling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.errors import DarkroomError
from engine.io import ExifInfo, RawFrame, read_raw
from engine.render import classical_linear
from engine.train import (
    PairFiles,
    RealPairSource,
    exif_ratio,
    load_pair,
    load_pairs,
    pairs_from_csv,
    pairs_from_sid_folder,
    to_rggb,
)

H, W = 32, 48


def _split_scene(height: int, width: int) -> np.ndarray:
    """A scene whose halves differ strongly, so a mirrored or shifted target shows."""
    yy, xx = np.mgrid[0:height, 0:width]
    scene = np.empty((height, width, 3), np.float32)
    scene[:] = (0.1, 0.2, 0.6)
    scene[xx > 1.2 * yy + 4] = (0.8, 0.4, 0.1)
    return scene


@pytest.fixture
def shoot(make_dng: Callable[..., Path], tmp_path: Path) -> Callable[..., Path]:
    """``shoot(relative_name, seconds, ...)`` writes a DNG of the split scene exposed for
    ``seconds`` (10 s is the full exposure) with that exposure time in its EXIF."""

    def factory(
        name: str,
        seconds: float,
        iso: float | None = None,
        model: str = "ILCE-7S",
        height: int = H,
        width: int = W,
        cfa: str = "RGGB",
    ) -> Path:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        exif = ExifInfo(make="Sony", model=model, exposure_time=seconds, iso=iso)
        return make_dng(name=name, height=height, width=width, cfa=cfa, ratio=10.0 / seconds,
                        scene=_split_scene(height, width), exif=exif)  # fmt: skip

    return factory


def _sid_folder(shoot: Callable[..., Path], tmp_path: Path) -> Path:
    shoot("sid/short/00001_00_0.1s.dng", 0.1)
    shoot("sid/short/00001_01_0.04s.dng", 0.04)
    shoot("sid/short/00002_00_0.1s.dng", 0.1)
    shoot("sid/long/00001_00_10s.dng", 10)
    shoot("sid/long/00002_00_10s.dng", 10)
    (tmp_path / "sid/short/notes.txt").write_text("not a RAW file")
    return tmp_path / "sid"


def test_sid_folder_pairs_each_short_with_its_scene(shoot, tmp_path: Path) -> None:
    root = _sid_folder(shoot, tmp_path)
    specs = pairs_from_sid_folder(root)
    got = [(s.short.name, s.long.name, s.ratio) for s in specs]
    assert got == [
        ("00001_00_0.1s.dng", "00001_00_10s.dng", None),
        ("00001_01_0.04s.dng", "00001_00_10s.dng", None),  # shares its scene's long exposure
        ("00002_00_0.1s.dng", "00002_00_10s.dng", None),
    ]
    assert load_pairs(root) == specs
    assert load_pairs(str(root)) == specs


def test_sid_folder_accepts_free_names_by_first_field(shoot, tmp_path: Path) -> None:
    shoot("free/short/kitchen_dark.dng", 0.1)
    shoot("free/long/kitchen.dng", 10)
    (spec,) = pairs_from_sid_folder(tmp_path / "free")
    assert (spec.short.name, spec.long.name) == ("kitchen_dark.dng", "kitchen.dng")


def _one_line_error(call: Callable[[], object], match: str) -> str:
    with pytest.raises(DarkroomError, match=match) as info:
        call()
    assert "\n" not in str(info.value)
    return str(info.value)


def test_sid_folder_errors(shoot, tmp_path: Path) -> None:
    _one_line_error(lambda: pairs_from_sid_folder(tmp_path / "nowhere"), "no such folder")
    shoot("a/short/00001_00_0.1s.dng", 0.1)
    _one_line_error(lambda: pairs_from_sid_folder(tmp_path / "a"), "no long/ folder")
    (tmp_path / "a/long").mkdir()
    _one_line_error(lambda: pairs_from_sid_folder(tmp_path / "a"), "long: no RAW files")
    shoot("a/long/00002_00_10s.dng", 10)
    message = _one_line_error(
        lambda: pairs_from_sid_folder(tmp_path / "a"), "no long exposure of scene '00001'"
    )
    assert "00001_00_0.1s.dng" in message
    _one_line_error(lambda: load_pairs(tmp_path / "a/long"), "not a pair folder")
    _one_line_error(lambda: load_pairs(tmp_path / "missing.csv"), "no such file or folder")


def test_sid_folder_several_longs_prefers_same_index(shoot, tmp_path: Path) -> None:
    shoot("b/short/00003_01_0.1s.dng", 0.1)
    shoot("b/long/00003_00_10s.dng", 10)
    shoot("b/long/00003_01_10s.dng", 10)
    (spec,) = pairs_from_sid_folder(tmp_path / "b")
    assert spec.long.name == "00003_01_10s.dng"
    shoot("b/short/00003_07_0.1s.dng", 0.1)
    _one_line_error(lambda: pairs_from_sid_folder(tmp_path / "b"), "several long exposures")


def test_csv_list(shoot, tmp_path: Path) -> None:
    short, long = shoot("raw/s.dng", 0.1), shoot("raw/l.dng", 10)
    csv = tmp_path / "pairs.csv"
    csv.write_text(f"short,long,ratio\nraw/s.dng,raw/l.dng,\n\n{short},raw/l.dng, 250\n")
    specs = pairs_from_csv(csv)
    assert specs == [PairFiles(short, long, None), PairFiles(short, long, 250.0)]
    assert load_pairs(csv) == specs

    csv.write_text("short,long\nraw/s.dng,raw/l.dng\n")
    assert pairs_from_csv(csv) == [PairFiles(short, long)]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("dark,bright\nraw/s.dng,raw/l.dng\n", "row 1: header"),
        ("short,long\nraw/s.dng,raw/l.dng\nraw/s.dng,raw/gone.dng\n", "row 3: long file"),
        ("short,long\nraw/s.dng\n", "row 2: 1 fields, expected 2"),
        ("short,long,ratio\nraw/s.dng,raw/l.dng,0.5\n", "row 2: ratio '0.5' must be"),
        ("short,long,ratio\nraw/s.dng,raw/l.dng,fast\n", "row 2: ratio 'fast' is not a number"),
        ("short,long\n", "no pairs"),
        ("", "empty file"),
    ],
)
def test_csv_errors_name_the_row(shoot, tmp_path: Path, text: str, match: str) -> None:
    shoot("raw/s.dng", 0.1)
    shoot("raw/l.dng", 10)
    csv = tmp_path / "pairs.csv"
    csv.write_text(text)
    _one_line_error(lambda: pairs_from_csv(csv), match)


def _frame(seconds: float | None, iso: float | None) -> RawFrame:
    return RawFrame(
        mosaic=np.zeros((4, 4), np.uint16),
        cfa_pattern=np.array([[0, 1], [1, 2]]),
        black_level=np.zeros((2, 2), np.float32),
        white_level=1023.0,
        wb_gains=np.ones(3, np.float32),
        cam_to_srgb=np.eye(3, dtype=np.float32),
        exif=ExifInfo(exposure_time=seconds, iso=iso),
        path="/x/frame.dng",
    )


def test_exif_ratio_counts_iso_and_needs_times() -> None:
    assert exif_ratio(_frame(0.1, None), _frame(10, None)) == pytest.approx(100)
    assert exif_ratio(_frame(0.1, 400), _frame(10, 100)) == pytest.approx(25)
    assert exif_ratio(_frame(0.1, 400), _frame(10, None)) == pytest.approx(100)
    _one_line_error(lambda: exif_ratio(_frame(None, 100), _frame(10, 100)), "no exposure time")


def test_load_pair_target_and_ratio(shoot) -> None:
    short, long = shoot("p/s.dng", 0.1, iso=100), shoot("p/l.dng", 10, iso=100)
    pair = load_pair(PairFiles(short, long))
    assert pair.name == "s"
    assert pair.ratio == pytest.approx(100, rel=1e-4)
    assert pair.target.shape == (H, W, 3) and pair.target.dtype == np.float32
    np.testing.assert_array_equal(pair.target, classical_linear(read_raw(long), 1.0))
    assert to_rggb(pair).network_input().shape == (4, H // 2, W // 2)
    # The dark frame brightened by the ratio is the long exposure up to quantisation.
    brightened = classical_linear(pair.dark, pair.ratio)
    assert np.abs(brightened - pair.target).mean() < 0.01
    # A given ratio wins over the EXIF.
    assert load_pair(PairFiles(short, long, 80.0)).ratio == 80.0


def test_load_pair_rejects_mismatches(shoot) -> None:
    short = shoot("m/s.dng", 0.1)
    cases = {
        "different cameras": shoot("m/other_camera.dng", 10, model="ILCE-7M3"),
        "different sizes": shoot("m/bigger.dng", 10, height=H + 4),
        "different CFA": shoot("m/bggr.dng", 10, cfa="BGGR"),
    }
    for match, long in cases.items():
        _one_line_error(lambda long=long: load_pair(PairFiles(short, long)), match)
    _one_line_error(
        lambda: load_pair(PairFiles(shoot("m/l.dng", 10), short)), "ratio 0.01 is below 1"
    )


def test_real_pair_source_samples_consistent_crops(shoot, tmp_path: Path) -> None:
    specs = pairs_from_sid_folder(_sid_folder(shoot, tmp_path))
    source = RealPairSource(specs, crop=16)
    assert len(source) == 3
    rng = np.random.default_rng(0)
    for _ in range(6):
        pair = source.sample(rng)
        assert to_rggb(pair).network_input().shape == (4, 8, 8)
        assert pair.target.shape == (16, 16, 3) and pair.target.dtype == np.float32
        # Crops and flips moved the dark frame and the target together.
        assert np.abs(classical_linear(pair.dark, pair.ratio) - pair.target).mean() < 0.02
    whole = RealPairSource(specs[:1], crop=512).sample(rng)
    assert to_rggb(whole).network_input().shape == (4, H // 2, W // 2)


def test_real_pair_source_fails_early_on_a_bad_pair(shoot, tmp_path: Path) -> None:
    good = PairFiles(shoot("r/s.dng", 0.1), shoot("r/l.dng", 10))
    bad = PairFiles(good.short, tmp_path / "r/missing.dng")
    source = RealPairSource([good, bad], crop=16)
    with pytest.raises(DarkroomError, match="no such file"):
        source.sample(np.random.default_rng(0))
    with pytest.raises(DarkroomError):
        RealPairSource([])
