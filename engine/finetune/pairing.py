"""Automatic pairing of a photographer's own short/long exposures for fine-tuning.

A "pair" is a short (dark, noisy) and a long (clean) exposure of the same scene from a tripod.
:func:`scan_folder` finds them in a folder of RAW files without any naming convention:

1. **Same scene.** Files are linked when their EXIF capture times are at most ``max_gap_s``
   apart (plus the longer exposure time, since cameras stamp the start of an exposure), or, when
   either file has no capture time, when their file numbers are consecutive (``DSC01234`` and
   ``DSC01235``: same prefix and suffix, numbers differing by one). Linked files form scene
   groups (connected components).
2. **Short or long.** Within a group, the exposure is ``t x ISO`` (just ``t`` unless every frame
   has an ISO). Frames within a factor :data:`LONG_TOLERANCE` of the group's longest exposure
   are long ones, the rest short ones; each short pairs with the long that passes the checks
   below (so the one that aligns with it), preferring the same camera and size and then the
   nearest in capture order; several shorts may share one long. When no long passes, the pair
   with the nearest one is reported with its reason.
   ``ratio = (t_long x ISO_long) / (t_short x ISO_short)``, as
   :func:`engine.train.real_pairs.exif_ratio`.
3. **Checks** (:mod:`engine.finetune.pair_checks`). Every candidate is ``valid`` or ``invalid``
   with a one-line reason: different cameras, sizes or CFA layouts, a ratio below 1, a long
   exposure clipped over more than half the frame, frames misaligned by more than 3 sensor
   pixels, or an alignment that cannot be measured (no shared structure: different scenes, or
   a flat frame). The shift is measured by phase correlation (``cv2.phaseCorrelate``) between
   the green channel of the short exposure, amplified by the ratio, and the long one's, both
   downsampled to thumbnails.

Files that pair with nothing are reported with the reason, and unreadable RAW files are listed
as errors; neither stops the scan. :func:`pair_files` checks two files the user picked, and
:func:`collect_pairs` accepts a folder, a SID-style folder (``short/`` + ``long/``) or a CSV
list (see :mod:`engine.train.real_pairs`) and checks every pair the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from engine.errors import DarkroomError
from engine.finetune.pair_checks import (
    INVALID,
    MAX_SHIFT_PX,
    CheckedPair,
    FileIssue,
    PairingReport,
    RawSummary,
    check_pair,
    read_summary,
    summary_ratio,
)
from engine.io import raw_files_in
from engine.jobs import CancelToken, ProgressCallback, no_progress
from engine.resources import MAX_GAP_S  # there so that the CLI parser needs no torch
from engine.train import PairFiles, is_pair_source, load_pairs

#: Frames within this factor of a scene's longest exposure count as long exposures.
LONG_TOLERANCE = 2.0


# --------------------------------------------------------------------------------------------
# Scanning


_NUMBER = re.compile(r"^(.*?)(\d+)(\D*)$")


def file_number(path: Path) -> tuple[str, int, str] | None:
    """``DSC01234.ARW`` -> ``("DSC", 1234, "")``: prefix, last number and suffix of the stem."""
    match = _NUMBER.match(path.stem)
    if match is None:
        return None
    return match.group(1), int(match.group(2)), match.group(3)


def _consecutive(a: Path, b: Path) -> bool:
    na, nb = file_number(a), file_number(b)
    if na is None or nb is None:
        return False
    return na[0] == nb[0] and na[2] == nb[2] and abs(na[1] - nb[1]) == 1


def same_scene(a: RawSummary, b: RawSummary, max_gap_s: float = MAX_GAP_S) -> bool:
    """Whether two frames belong to one scene (see the module docstring)."""
    if a.taken is not None and b.taken is not None:
        gap = abs((a.taken - b.taken).total_seconds())
        # Cameras stamp the start of an exposure; a 30 s shot pushes the next one 30 s later.
        slack = max(a.exposure_time or 0.0, b.exposure_time or 0.0)
        return gap <= max_gap_s + slack
    return _consecutive(a.path, b.path)


def _groups(items: list[RawSummary], max_gap_s: float) -> list[list[int]]:
    """Connected components of :func:`same_scene`, as index lists in ``items`` order."""
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if same_scene(items[i], items[j], max_gap_s):
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(items)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def _pair_group(
    items: list[RawSummary], group: list[int], max_shift_px: float
) -> tuple[list[CheckedPair], list[FileIssue]]:
    """Split one scene group into shorts and longs and pair them."""
    timed = [i for i in group if items[i].exposure_time]
    unpaired = [
        FileIssue(items[i].path, "no exposure time in the EXIF (list it in a CSV with its ratio)")
        for i in group
        if not items[i].exposure_time
    ]
    use_iso = all(items[i].iso for i in timed)

    def exposure(i: int) -> float:
        item = items[i]
        assert item.exposure_time is not None
        return item.exposure_time * (item.iso if use_iso and item.iso else 1.0)

    if len(timed) < 2:
        alone = "no other frame of the same scene (by capture time or file number)"
        unpaired += [FileIssue(items[i].path, alone) for i in timed]
        return [], unpaired
    longest = max(exposure(i) for i in timed)
    longs = [i for i in timed if exposure(i) * LONG_TOLERANCE >= longest]
    shorts = [i for i in timed if i not in longs]
    if not shorts:
        reason = "no shorter exposure of the same scene (same exposure as its neighbours)"
        return [], unpaired + [FileIssue(items[i].path, reason) for i in longs]

    pairs, used = [], set()
    for s in shorts:
        short = items[s]

        def preference(i: int, short: RawSummary = short, s: int = s) -> tuple[int, int, int]:
            other = items[i]
            size_differs = (other.width, other.height) != (short.width, short.height)
            return (other.camera != short.camera, size_differs, abs(i - s))

        ranked = sorted(longs, key=preference)
        options = [check_pair(short, items[i], summary_ratio(short, items[i]), max_shift_px)
                   for i in ranked]  # fmt: skip
        # A long that passes (above all: aligns) beats a nearer one that does not; among
        # those, the preferred one, then the best aligned. None passes: the nearest's reason.
        chosen = min(range(len(options)), key=lambda k: (
            not options[k].valid, preference(ranked[k]), options[k].shift_px or 0.0))  # fmt: skip
        pairs.append(options[chosen])
        used.add(ranked[chosen])
    unpaired += [FileIssue(items[i].path, "long exposure without a short one of the same scene")
                 for i in longs if i not in used]  # fmt: skip
    return pairs, unpaired


def scan_folder(
    folder: str | Path,
    max_gap_s: float = MAX_GAP_S,
    max_shift_px: float = MAX_SHIFT_PX,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> PairingReport:
    """Find and check every short/long pair among the RAW files of ``folder`` (not recursive).

    Args:
        folder: a folder of RAW files (other files are ignored).
        max_gap_s: largest capture-time gap within a scene, seconds.
        max_shift_px: largest acceptable misalignment, sensor pixels.
        progress: ``progress(done, total, message)`` after each file is read.
        cancel: checked between files.

    Returns:
        The report; pairs are in capture order. Invalid pairs, unpaired and unreadable files
        are in it, not raised.

    Raises:
        DarkroomError: no such folder, no RAW files in it, or no pair at all (the message names
            the first file's reason).
        Cancelled: ``cancel`` was set.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DarkroomError(f"{root}: no such folder")
    files = raw_files_in(root)
    if not files:
        raise DarkroomError(f"{root}: no RAW files")
    report = PairingReport(source=root)
    items: list[RawSummary] = []
    for n, path in enumerate(files):
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(n, len(files), f"reading {path.name}")
        try:
            items.append(read_summary(path))
        except DarkroomError as exc:
            report.errors.append(FileIssue(path, _strip_path(str(exc), path)))
    progress(len(files), len(files), "pairing")
    if all(item.taken is not None for item in items):
        items.sort(key=lambda item: (item.taken, item.path.name))
    for group in _groups(items, max_gap_s):
        pairs, unpaired = _pair_group(items, group, max_shift_px)
        report.pairs += pairs
        report.unpaired += unpaired
    if not report.pairs:
        first = report.problems()
        detail = f" ({first[0]})" if first else ""
        raise DarkroomError(f"{root}: no short/long pairs among {len(files)} RAW file(s){detail}")
    return report


def _strip_path(message: str, path: Path) -> str:
    """Reader messages start with the full path; the report shows the name already."""
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


class _Cache:
    """Summaries by path, so a long exposure shared by several shorts is read once."""

    def __init__(self) -> None:
        self._items: dict[Path, RawSummary | DarkroomError] = {}

    def get(self, path: Path) -> RawSummary:
        key = Path(path)
        if key not in self._items:
            try:
                self._items[key] = read_summary(key)
            except DarkroomError as exc:
                self._items[key] = exc
        item = self._items[key]
        if isinstance(item, DarkroomError):
            raise item
        return item


def pair_files(
    short: str | Path,
    long: str | Path,
    ratio: float | None = None,
    max_shift_px: float = MAX_SHIFT_PX,
    *,
    _cache: _Cache | None = None,
) -> CheckedPair:
    """Check two files the user picked as a short and a long exposure.

    Never raises for bad files: an unreadable file gives an invalid candidate whose reason is
    the reader's message.

    Args:
        short, long: the two RAW files.
        ratio: exposure ratio long / short; ``None`` means from the EXIF.
        max_shift_px: largest acceptable misalignment, sensor pixels.
    """
    cache = _cache or _Cache()
    short_path, long_path = Path(short), Path(long)
    summaries = []
    for path in (short_path, long_path):
        try:
            summaries.append(cache.get(path))
        except DarkroomError as exc:
            return CheckedPair(short_path, long_path, ratio, "unknown camera", INVALID,
                                 reason=f"{path.name}: {_strip_path(str(exc), path)}")  # fmt: skip
    s, lg = summaries
    used = ratio if ratio is not None else summary_ratio(s, lg)
    return check_pair(s, lg, used, max_shift_px)


def check_listed_pairs(
    specs: Sequence[PairFiles],
    source: Path | None = None,
    max_shift_px: float = MAX_SHIFT_PX,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> PairingReport:
    """Check listed pairs (from a CSV or SID folder) with :func:`pair_files`."""
    cache = _Cache()
    report = PairingReport(source=source)
    for n, spec in enumerate(specs):
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(n, len(specs), f"checking {Path(spec.short).name}")
        report.pairs.append(
            pair_files(spec.short, spec.long, spec.ratio, max_shift_px, _cache=cache)
        )
    progress(len(specs), len(specs), "checked")
    return report


def collect_pairs(
    source: str | Path,
    max_gap_s: float = MAX_GAP_S,
    max_shift_px: float = MAX_SHIFT_PX,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> PairingReport:
    """Pairs from any source a user may give, all checked alike.

    ``source`` is a CSV list (``short,long[,ratio]``), a SID-style folder with ``short/`` and
    ``long/``, or a plain folder of RAW files (:func:`scan_folder`).

    Raises:
        DarkroomError: missing source, a bad list, an empty folder or a folder without pairs.
    """
    path = Path(source).expanduser()
    if is_pair_source(path):
        return check_listed_pairs(load_pairs(path), path, max_shift_px, progress, cancel)
    if path.is_dir():
        return scan_folder(path, max_gap_s, max_shift_px, progress, cancel)
    if not path.exists():
        raise DarkroomError(f"{path}: no such file or folder")
    raise DarkroomError(f"{path}: not a folder of RAW files or a .csv pair list")
