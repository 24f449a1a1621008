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
   are long ones, the rest short ones; each short pairs with the nearest long in capture order
   (preferring the same camera and size), so several shorts may share one long.
   ``ratio = (t_long x ISO_long) / (t_short x ISO_short)``, as :func:`engine.pairs.exif_ratio`.
3. **Checks.** Every candidate is ``valid`` or ``invalid`` with a one-line reason: different
   cameras, sizes or CFA layouts, a ratio below 1, a long exposure clipped over more than
   :data:`MAX_CLIPPED_FRACTION` of the frame, or frames misaligned by more than
   :data:`MAX_SHIFT_PX` sensor pixels. The shift is measured by phase correlation
   (``cv2.phaseCorrelate``) between the green channel of the short exposure, amplified by the
   ratio, and the long one's, both downsampled to at most :data:`THUMB_MAX_SIDE` pixels.

Files that pair with nothing are reported with the reason, and unreadable RAW files are listed
as errors; neither stops the scan. :func:`pair_files` checks two files the user picked, and
:func:`collect_pairs` accepts a folder, a SID-style folder (``short/`` + ``long/``) or a CSV
list (see :mod:`engine.pairs`) and checks every pair the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from engine.errors import DarkroomError
from engine.jobs import CancelToken, ProgressCallback, no_progress
from engine.packing import packed_positions
from engine.pairs import RawPairSpec, is_pair_source, load_pairs
from engine.raw_io import RAW_EXTENSIONS, RawFrame, read_raw

#: Default largest gap between capture times of two frames of one scene, seconds.
MAX_GAP_S = 120.0
#: Frames within this factor of a scene's longest exposure count as long exposures.
LONG_TOLERANCE = 2.0
#: Largest acceptable misalignment between short and long exposure, sensor pixels.
MAX_SHIFT_PX = 3.0
#: A long exposure with more than this fraction of its pixels near white is unusable.
MAX_CLIPPED_FRACTION = 0.5
#: "Near white": at least this fraction of the way from black to the white level.
CLIP_LEVEL = 0.97
#: Longer side of the green thumbnails the shift is measured on, pixels.
THUMB_MAX_SIDE = 1024
#: Below this phase-correlation peak the frames share no usable structure (a flat or pure-noise
#: scene; unrelated noise reaches ~0.02 on 1024-px thumbnails, more on tiny ones);
#: the shift is then not measurable and not held against the pair.
MIN_RESPONSE = 0.1

VALID, INVALID = "valid", "invalid"


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class PairCandidate:
    """A short/long pair found or picked, with its verdict.

    Attributes:
        short, long: the two RAW files.
        ratio: exposure ratio long / short (``None`` when it could not be worked out).
        camera: the short exposure's camera ("Make Model"), or ``"unknown camera"``.
        status: :data:`VALID` or :data:`INVALID`.
        reason: one line saying why an invalid pair is invalid (empty when valid).
        shift_px: measured misalignment in sensor pixels (``None``: not measured).
        clipped_fraction: fraction of the long exposure's pixels near white, in [0, 1].
    """

    short: Path
    long: Path
    ratio: float | None
    camera: str
    status: str
    reason: str = ""
    shift_px: float | None = None
    clipped_fraction: float | None = None

    @property
    def valid(self) -> bool:
        return self.status == VALID

    def to_spec(self) -> RawPairSpec:
        """The pair as :class:`~engine.pairs.RawPairSpec` (with its ratio) for loading."""
        return RawPairSpec(short=self.short, long=self.long, ratio=self.ratio)

    def describe(self) -> str:
        """One line: ``"DSC1.ARW + DSC2.ARW  x100  valid"`` or ``"... invalid: reason"``."""
        ratio = f"x{self.ratio:.3g}" if self.ratio is not None else "x?"
        verdict = self.status if self.valid else f"{self.status}: {self.reason}"
        return f"{self.short.name} + {self.long.name}  {ratio}  {verdict}"


@dataclass(frozen=True)
class FileIssue:
    """A file that is in no pair (``reason`` says why) or could not be read (an error)."""

    path: Path
    reason: str


@dataclass
class PairingReport:
    """Everything a scan found.

    Attributes:
        source: the folder or list scanned (``None`` for :func:`pair_files` alone).
        pairs: every candidate pair, valid or not, in capture order.
        unpaired: readable RAW files in no pair, with the reason.
        errors: RAW files that could not be read, with the reader's message.
    """

    source: Path | None
    pairs: list[PairCandidate] = field(default_factory=list)
    unpaired: list[FileIssue] = field(default_factory=list)
    errors: list[FileIssue] = field(default_factory=list)

    @property
    def valid_pairs(self) -> list[PairCandidate]:
        return [p for p in self.pairs if p.valid]

    @property
    def invalid_pairs(self) -> list[PairCandidate]:
        return [p for p in self.pairs if not p.valid]

    def problems(self) -> list[str]:
        """One line per problem: unreadable files, invalid pairs, then unpaired files."""
        lines = [f"{e.path.name}: {e.reason}" for e in self.errors]
        lines += [f"{p.short.name} + {p.long.name}: {p.reason}" for p in self.invalid_pairs]
        lines += [f"{u.path.name}: {u.reason}" for u in self.unpaired]
        return lines

    def summary_lines(self) -> list[str]:
        """Human-readable report: a header line, then one line per pair and problem file."""
        head = (
            f"{len(self.valid_pairs)} valid pair(s), {len(self.invalid_pairs)} invalid, "
            f"{len(self.unpaired)} unpaired file(s), {len(self.errors)} unreadable"
        )
        lines = [head]
        lines += [f"  {p.describe()}" for p in self.pairs]
        lines += [f"  unpaired {u.path.name}: {u.reason}" for u in self.unpaired]
        lines += [f"  error {e.path.name}: {e.reason}" for e in self.errors]
        return lines

    def raise_for_problems(self) -> None:
        """Raise if anything is wrong, for front ends that accept only a clean set.

        Raises:
            DarkroomError: one line naming the first problem (and how many there are).
        """
        problems = self.problems()
        if problems:
            more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
            raise DarkroomError(f"{problems[0]}{more}")
        if not self.valid_pairs:
            raise DarkroomError(f"{self.source or 'the files'}: no valid pairs")

    def specs(self) -> list[RawPairSpec]:
        """The valid pairs as :class:`~engine.pairs.RawPairSpec` (ratios filled in)."""
        return [p.to_spec() for p in self.valid_pairs]


# --------------------------------------------------------------------------------------------
# Per-file summaries


@dataclass(frozen=True, eq=False)
class RawSummary:
    """What pairing needs of a RAW file, without keeping its full mosaic in memory.

    Attributes:
        path: the file.
        camera: "Make Model" from the EXIF.
        width, height: mosaic size in sensor pixels.
        cfa: 2x2 layout name, e.g. ``"RGGB"``.
        exposure_time: seconds, or ``None``.
        iso: ISO speed, or ``None``.
        taken: capture time from the EXIF, or ``None``.
        green: ``(h, w)`` float32 green channel, black-subtracted and normalised (nominally
            [0, 1], not clipped), downsampled to at most :data:`THUMB_MAX_SIDE`.
        thumb_scale: sensor pixels per thumbnail pixel.
        clipped_fraction: fraction of mosaic pixels at or above :data:`CLIP_LEVEL`.
    """

    path: Path
    camera: str
    width: int
    height: int
    cfa: str
    exposure_time: float | None
    iso: float | None
    taken: datetime | None
    green: np.ndarray
    thumb_scale: float
    clipped_fraction: float


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text.strip()[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None  # malformed or zeroed ("0000:00:00 00:00:00") EXIF dates


def green_thumbnail(frame: RawFrame, max_side: int = THUMB_MAX_SIDE) -> tuple[np.ndarray, float]:
    """The mean of the two greens of every CFA block, area-downsampled.

    Returns:
        ``(h, w)`` float32 normalised green (black-subtracted, divided by ``white - black``, not
        clipped) with ``max(h, w) <= max_side``, and the sensor pixels per thumbnail pixel.
    """
    _, g1, _, g2 = packed_positions(frame.cfa_pattern)
    planes = []
    for dy, dx in (g1, g2):
        black = np.float32(frame.black_level[dy, dx])
        plane = frame.mosaic[dy::2, dx::2].astype(np.float32) - black
        planes.append(plane / (np.float32(frame.white_level) - black))
    green = (planes[0] + planes[1]) * np.float32(0.5)
    h, w = green.shape
    factor = max(1, math.ceil(max(h, w) / max_side))
    if factor > 1:
        green = cv2.resize(green, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(green, dtype=np.float32), 2.0 * w / green.shape[1]


def clipped_fraction(frame: RawFrame, level: float = CLIP_LEVEL) -> float:
    """Fraction of mosaic pixels at or above ``level`` of the way from black to white."""
    clipped = 0
    for dy in (0, 1):
        for dx in (0, 1):
            black = float(frame.black_level[dy, dx])
            threshold = black + level * (frame.white_level - black)
            clipped += int(np.count_nonzero(frame.mosaic[dy::2, dx::2] >= threshold))
    return clipped / max(frame.mosaic.size, 1)


def summarise(frame: RawFrame) -> RawSummary:
    """A :class:`RawSummary` of a decoded frame."""
    green, scale = green_thumbnail(frame)
    return RawSummary(
        path=Path(frame.path or "frame"),
        camera=frame.exif.camera,
        width=frame.width,
        height=frame.height,
        cfa=frame.cfa_name,
        exposure_time=frame.exif.exposure_time,
        iso=frame.exif.iso,
        taken=_parse_time(frame.exif.datetime),
        green=green,
        thumb_scale=scale,
        clipped_fraction=clipped_fraction(frame),
    )


def read_summary(path: Path) -> RawSummary:
    """Decode ``path`` and summarise it.

    Raises:
        DarkroomError: the file cannot be read as a Bayer RAW (any decoder failure on a corrupt
            file is turned into one, so one bad file never ends a scan).
    """
    try:
        return summarise(read_raw(path))
    except DarkroomError:
        raise
    except Exception as exc:  # noqa: BLE001 - corrupt files can upset LibRaw/numpy in odd ways
        raise DarkroomError(f"{path}: unreadable RAW file ({exc.__class__.__name__})") from None


# --------------------------------------------------------------------------------------------
# Checks


def measure_shift(short: RawSummary, long: RawSummary, ratio: float) -> tuple[float, float]:
    """Misalignment between the amplified short exposure and the long one.

    Both green thumbnails are clipped to [0, 1] (the short one after multiplying by ``ratio``,
    so highlights clip alike) and square-rooted, which evens out the weight of shadows and
    highlights; the amplified short one is blurred a little against its noise.

    Returns:
        ``(shift, response)``: the shift's length in sensor pixels and the phase-correlation
        peak (about 1 for identical images, near 0 for unrelated ones).
    """
    a = np.sqrt(np.clip(short.green * np.float32(ratio), 0.0, 1.0)).astype(np.float32)
    b = np.sqrt(np.clip(long.green, 0.0, 1.0)).astype(np.float32)
    a = cv2.GaussianBlur(a, (0, 0), 1.0)
    b = cv2.GaussianBlur(b, (0, 0), 1.0)
    # Without the means, the shared window envelope itself would correlate at zero shift.
    a -= a.mean()
    b -= b.mean()
    h, w = a.shape
    window = cv2.createHanningWindow((w, h), cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(b, a, window)
    return float(math.hypot(dx, dy) * short.thumb_scale), float(response)


def check_pair(
    short: RawSummary, long: RawSummary, ratio: float | None, max_shift_px: float = MAX_SHIFT_PX
) -> PairCandidate:
    """Judge a short/long pair; the first failing check gives the reason."""

    def verdict(reason: str = "", **extra: float | None) -> PairCandidate:
        return PairCandidate(
            short=short.path, long=long.path, ratio=ratio, camera=short.camera,
            status=INVALID if reason else VALID, reason=reason,
            clipped_fraction=long.clipped_fraction, **extra,  # type: ignore[arg-type]
        )  # fmt: skip

    if short.camera != long.camera:
        return verdict(f"different cameras ({short.camera} vs {long.camera})")
    if (short.width, short.height) != (long.width, long.height):
        return verdict(
            f"different sizes ({short.width}x{short.height} vs {long.width}x{long.height})"
        )
    if short.cfa != long.cfa:
        return verdict(f"different CFA layouts ({short.cfa} vs {long.cfa})")
    if ratio is None:
        return verdict("no exposure time in the EXIF (give the ratio in a CSV list)")
    if not (math.isfinite(ratio) and ratio >= 1.0):
        return verdict(f"exposure ratio {ratio:.3g} is below 1 (short and long swapped?)")
    if long.clipped_fraction > MAX_CLIPPED_FRACTION:
        return verdict(
            f"long exposure is clipped over {long.clipped_fraction * 100:.0f} % of the frame "
            f"(more than {MAX_CLIPPED_FRACTION * 100:.0f} %)"
        )
    shift, response = measure_shift(short, long, ratio)
    if response < MIN_RESPONSE:
        return verdict(shift_px=None)  # nothing to align on: cannot tell, so do not reject
    if shift > max_shift_px:
        return verdict(
            f"frames misaligned by {shift:.1f} px (more than {max_shift_px:g} px; "
            "did the camera move?)",
            shift_px=shift,
        )
    return verdict(shift_px=shift)


def summary_ratio(short: RawSummary, long: RawSummary) -> float | None:
    """``(t_long x ISO_long) / (t_short x ISO_short)``; ISO ignored unless both have one."""
    if not short.exposure_time or not long.exposure_time:
        return None
    ratio = long.exposure_time / short.exposure_time
    if short.iso and long.iso:
        ratio *= long.iso / short.iso
    return float(ratio)


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
) -> tuple[list[PairCandidate], list[FileIssue]]:
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

        best = min(preference(i) for i in longs)
        tied = [i for i in longs if preference(i) == best]
        options = [check_pair(short, items[i], summary_ratio(short, items[i]), max_shift_px)
                   for i in tied]  # fmt: skip
        # Between equally near longs, the best-aligned one is most likely the same view.
        chosen = min(
            range(len(options)),
            key=lambda k: (not options[k].valid, options[k].shift_px or 0.0),
        )
        pairs.append(options[chosen])
        used.add(tied[chosen])
    unpaired += [FileIssue(items[i].path, "long exposure without a short one of the same scene")
                 for i in longs if i not in used]  # fmt: skip
    return pairs, unpaired


def _raw_files(folder: Path) -> list[Path]:
    # Hidden files are skipped: macOS leaves "._DSC01234.ARW" resource forks on USB disks.
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in RAW_EXTENSIONS
    )


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
    files = _raw_files(root)
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
) -> PairCandidate:
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
            return PairCandidate(short_path, long_path, ratio, "unknown camera", INVALID,
                                 reason=f"{path.name}: {_strip_path(str(exc), path)}")  # fmt: skip
    s, lg = summaries
    used = ratio if ratio is not None else summary_ratio(s, lg)
    return check_pair(s, lg, used, max_shift_px)


def pairs_from_specs(
    specs: Sequence[RawPairSpec],
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
        return pairs_from_specs(load_pairs(path), path, max_shift_px, progress, cancel)
    if path.is_dir():
        return scan_folder(path, max_gap_s, max_shift_px, progress, cancel)
    if not path.exists():
        raise DarkroomError(f"{path}: no such file or folder")
    raise DarkroomError(f"{path}: not a folder of RAW files or a .csv pair list")
