"""Real short/long exposure pairs (SID-style data sets or a CSV list) as training/eval pairs.

A real pair is two RAW files of one scene from one camera on a tripod: a short (dark) exposure
and a long (clean) one. Both go through the same code as every other frame in the app:
:func:`~engine.io.raw.read_raw` decodes them, and the target is the long exposure through
:func:`~engine.render.colour.classical_linear` at ratio 1, i.e. linear camera RGB made by the exact
demosaic the classical pipeline uses. The result is a
:class:`~engine.train.synthesis.TrainingPair`, so training and evaluation treat real and
synthetic pairs alike.

Two ways to list pairs:

* a folder laid out like SID (Chen et al. 2018): ``root/short/`` and ``root/long/`` holding RAW
  files named ``<scene>_<index>_<exposure>s.<ext>`` (``00001_00_0.1s.ARW`` pairs with
  ``00001_00_10s.ARW``); any names whose first ``_``-separated field is the scene id work;
* a CSV file with the header ``short,long[,ratio]`` and paths relative to the CSV's folder.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine.errors import DarkroomError
from engine.io import RawFrame, raw_files_in, read_raw
from engine.jobs import ProgressCallback, no_progress
from engine.render import classical_linear
from engine.train.synthesis import (
    TrainingPair,
    random_crop_and_flip,
)


@dataclass(frozen=True)
class PairFiles:
    """Where a real pair lives on disk.

    Attributes:
        short: the dark (short) exposure's RAW file.
        long: the clean (long) exposure's RAW file of the same scene and camera.
        ratio: exposure ratio long / short; ``None`` means "from the EXIF" (:func:`exif_ratio`).
    """

    short: Path
    long: Path
    ratio: float | None = None


# --------------------------------------------------------------------------------------------
# Listing pairs


def scene_id(path: Path) -> str:
    """The scene a RAW file shows: the first ``_``-separated field of its stem."""
    return path.stem.split("_", 1)[0]


def pairs_from_sid_folder(root: str | Path) -> list[PairFiles]:
    """Pair every RAW file in ``root/short/`` with the long exposure of its scene in ``root/long/``.

    Several shorts may share one long exposure (SID has 0.1 s, 0.04 s and 0.033 s shots of each
    scene). When a scene has several long exposures, the one with the same second field
    (``<index>``) as the short is used. Ratios are left to the EXIF (``ratio=None``), which also
    accounts for ISO differences that SID-style file names do not show.

    Raises:
        DarkroomError: missing folder, missing ``short/`` or ``long/``, no RAW files, a short
            exposure without a long one, or an ambiguous long exposure.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DarkroomError(f"{root}: no such folder")
    short_dir, long_dir = root / "short", root / "long"
    for sub in (short_dir, long_dir):
        if not sub.is_dir():
            raise DarkroomError(
                f"{root}: no {sub.name}/ folder (a pair folder needs short/ and long/)"
            )
    shorts, longs = raw_files_in(short_dir), raw_files_in(long_dir)
    for sub, files in ((short_dir, shorts), (long_dir, longs)):
        if not files:
            raise DarkroomError(f"{sub}: no RAW files")
    by_scene: dict[str, list[Path]] = {}
    for path in longs:
        by_scene.setdefault(scene_id(path), []).append(path)

    specs = []
    for short in shorts:
        candidates = by_scene.get(scene_id(short), [])
        if not candidates:
            raise DarkroomError(
                f"{short}: no long exposure of scene {scene_id(short)!r} in {long_dir}"
            )
        if len(candidates) > 1:
            index = short.stem.split("_")[1:2]
            candidates = [c for c in candidates if c.stem.split("_")[1:2] == index] or candidates
        if len(candidates) > 1:
            names = ", ".join(c.name for c in candidates)
            raise DarkroomError(f"{short}: several long exposures of its scene ({names})")
        specs.append(PairFiles(short=short, long=candidates[0]))
    return specs


def _parse_ratio(text: str, where: str) -> float | None:
    if not text:
        return None
    try:
        ratio = float(text)
    except ValueError:
        raise DarkroomError(f"{where}: ratio {text!r} is not a number") from None
    if not (math.isfinite(ratio) and ratio >= 1.0):
        raise DarkroomError(f"{where}: ratio {text!r} must be a number >= 1")
    return ratio


def pairs_from_csv(path: str | Path) -> list[PairFiles]:
    """Read a pair list: header ``short,long`` or ``short,long,ratio``, one pair per row.

    Relative paths are relative to the CSV's folder; an empty ratio cell means "from the EXIF".
    Blank lines are skipped.

    Raises:
        DarkroomError: missing/unreadable file, bad header, a row with the wrong number of
            fields, a missing RAW file or a bad ratio (the message names the row), or no rows.
    """
    csv_path = Path(path).expanduser()
    if not csv_path.is_file():
        raise DarkroomError(f"{csv_path}: no such file")
    base = csv_path.parent
    try:
        # utf-8-sig: spreadsheet programs often start CSV files with a byte-order mark.
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            rows = [(n, row) for n, row in enumerate(csv.reader(fh), start=1)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DarkroomError(f"{csv_path}: unreadable CSV ({exc.__class__.__name__})") from None
    rows = [(n, [cell.strip() for cell in row]) for n, row in rows if any(c.strip() for c in row)]
    if not rows:
        raise DarkroomError(f"{csv_path}: empty file (expected a header short,long[,ratio])")
    header_line, header = rows[0]
    columns = [c.lower() for c in header]
    if columns not in (["short", "long"], ["short", "long", "ratio"]):
        raise DarkroomError(
            f"{csv_path} row {header_line}: header is {','.join(header)!r}, "
            "expected short,long or short,long,ratio"
        )
    specs = []
    for line, row in rows[1:]:
        where = f"{csv_path.name} row {line}"
        if len(row) != len(columns):
            raise DarkroomError(f"{where}: {len(row)} fields, expected {len(columns)}")
        files = []
        for column, cell in zip(("short", "long"), row[:2], strict=True):
            if not cell:
                raise DarkroomError(f"{where}: empty {column} path")
            file = Path(cell).expanduser()
            file = file if file.is_absolute() else base / file
            if not file.is_file():
                raise DarkroomError(f"{where}: {column} file {cell} not found")
            files.append(file)
        ratio = _parse_ratio(row[2], where) if len(row) == 3 else None
        specs.append(PairFiles(short=files[0], long=files[1], ratio=ratio))
    if not specs:
        raise DarkroomError(f"{csv_path}: no pairs listed below the header")
    return specs


def is_pair_source(source: str | Path) -> bool:
    """Whether ``source`` names pairs: a ``.csv`` list or a folder with ``short/`` and ``long/``."""
    path = Path(source).expanduser()
    if path.is_file():
        return path.suffix.lower() == ".csv"
    return (path / "short").is_dir() and (path / "long").is_dir()


def load_pairs(source: str | Path) -> list[PairFiles]:
    """Pairs from a ``.csv`` list or a folder with ``short/`` and ``long/``.

    Raises:
        DarkroomError: ``source`` is neither, or listing it failed.
    """
    path = Path(source).expanduser()
    if path.is_file() and path.suffix.lower() == ".csv":
        return pairs_from_csv(path)
    if path.is_dir():
        if (path / "short").is_dir() and (path / "long").is_dir():
            return pairs_from_sid_folder(path)
        raise DarkroomError(f"{path}: not a pair folder (needs short/ and long/ sub-folders)")
    if not path.exists():
        raise DarkroomError(f"{path}: no such file or folder")
    raise DarkroomError(f"{path}: not a pair list (expected a .csv file or a folder)")


# --------------------------------------------------------------------------------------------
# Loading pairs


def _name(frame: RawFrame) -> str:
    return Path(frame.path).name if frame.path else "frame"


def exif_ratio(short: RawFrame, long: RawFrame) -> float:
    """Exposure ratio from the EXIF: ``(t_long * ISO_long) / (t_short * ISO_short)``.

    ISO counts as gain: a long exposure at half the ISO collects twice the light for the same
    output. When either ISO is unknown both are taken as equal.

    Raises:
        DarkroomError: an exposure time is missing.
    """
    for frame in (short, long):
        if frame.exif.exposure_time is None:
            raise DarkroomError(
                f"{_name(frame)}: no exposure time in the EXIF; "
                "give the ratio in a CSV list (short,long,ratio)"
            )
    assert short.exif.exposure_time is not None and long.exif.exposure_time is not None
    ratio = long.exif.exposure_time / short.exif.exposure_time
    if short.exif.iso and long.exif.iso:
        ratio *= long.exif.iso / short.exif.iso
    return float(ratio)


def load_pair(spec: PairFiles) -> TrainingPair:
    """Decode a real pair into a :class:`~engine.train.synthesis.TrainingPair`.

    Bayer and X-Trans pairs load alike (the target is the classical demosaic of the long
    exposure's own CFA, LibRaw's X-Trans interpolation for a 6x6 one).

    Returns:
        ``TrainingPair`` named after the short file's stem: ``dark`` is the short exposure as read
        (uint16 DN) and cut to the picture (:meth:`~engine.io.RawFrame.visible`: a camera's
        masked-off borders teach nothing), ``target`` the long exposure as ``(H, W, 3)`` float32
        linear camera RGB in [0, 1] (``classical_linear(long, 1.0)``, demosaiced with its
        borders for context, then cut the same way), ``ratio`` the spec's or the EXIF's.

    Raises:
        DarkroomError: unreadable files, different cameras, sizes or CFA layouts, missing
            exposure times (without a given ratio) or a ratio below 1.
    """
    short, long = read_raw(spec.short), read_raw(spec.long)
    what = f"{Path(spec.short).name} / {Path(spec.long).name}"
    if short.exif.camera != long.exif.camera:
        raise DarkroomError(
            f"{what}: different cameras ({short.exif.camera} vs {long.exif.camera})"
        )
    if (short.height, short.width) != (long.height, long.width):
        raise DarkroomError(
            f"{what}: different sizes ({short.width}x{short.height} vs {long.width}x{long.height})"
        )
    if not np.array_equal(short.cfa_pattern, long.cfa_pattern):  # an X-Trans phase too
        raise DarkroomError(f"{what}: different CFA layouts ({short.cfa_name} vs {long.cfa_name})")
    ratio = spec.ratio if spec.ratio is not None else exif_ratio(short, long)
    if not (math.isfinite(ratio) and ratio >= 1.0):
        raise DarkroomError(
            f"{what}: exposure ratio {ratio:.3g} is below 1 (is the short one the long one?)"
        )
    dark = short.visible()
    top, left, _, _ = long.visible_rect
    target = classical_linear(long, 1.0)[top : top + dark.height, left : left + dark.width]
    return TrainingPair(name=Path(spec.short).stem, dark=dark, ratio=float(ratio),
                        target=np.ascontiguousarray(target))  # fmt: skip


class RealPairSource:
    """Random training crops from real pairs, with the same interface as
    :class:`~engine.train.synthesis.SyntheticPairSource`.

    Every pair is loaded on first use (so a bad file fails at the start of training, not hours
    in) and cached. Targets are cached as uint16: :func:`~engine.render.colour.demosaic` produces
    multiples of 1/65535, so this is lossless and halves the memory of float32.

    Args:
        specs: the pairs.
        crop: crop side in sensor pixels (frames smaller than that are used whole).
    """

    def __init__(self, specs: Sequence[PairFiles], crop: int = 512) -> None:
        if not specs:
            raise DarkroomError("no real pairs given")
        self.specs = list(specs)
        self.crop = int(crop)
        self._pairs: list[TrainingPair] | None = None

    def __len__(self) -> int:
        return len(self.specs)

    def load(self, progress: ProgressCallback = no_progress) -> None:
        """Decode and cache every pair now (idempotent)."""
        if self._pairs is not None:
            return
        pairs = []
        for i, spec in enumerate(self.specs):
            progress(i, len(self.specs), f"loading {Path(spec.short).name}")
            pair = load_pair(spec)
            quantised = np.rint(pair.target * np.float32(65535.0)).astype(np.uint16)
            pairs.append(replace(pair, target=quantised))
        progress(len(self.specs), len(self.specs), "pairs loaded")
        self._pairs = pairs

    def sample(self, rng: np.random.Generator) -> TrainingPair:
        """A random pair, randomly cropped and flipped.

        Returns:
            ``TrainingPair`` with a ``crop`` x ``crop`` dark frame (or the whole frame if smaller;
            X-Trans crops cut to multiples of :data:`XTRANS_CROP_STEP`) and a float32 target;
            its ``network_input()`` has ``crop/2`` x ``crop/2`` packed pixels.
        """
        self.load()
        assert self._pairs is not None
        pair = self._pairs[int(rng.integers(len(self._pairs)))]
        # Crop the uint16 cache first, so only the crop is ever converted to float32.
        out = random_crop_and_flip(pair, self.crop, rng)
        target = out.target.astype(np.float32) * np.float32(1.0 / 65535.0)
        return replace(out, target=target)
