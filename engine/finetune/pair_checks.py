"""What a short/long pair is, and whether it is usable: verdicts, per-file summaries, checks.

Split from :mod:`engine.finetune.pairing`, which finds pairs in folders; this module judges one
pair. A :class:`RawSummary` keeps what pairing needs of a RAW file (EXIF, size, CFA, a green
thumbnail, the clipped fraction) without its full mosaic; :func:`check_pair` turns two of them
into a :class:`CheckedPair` that is valid or invalid with a one-line reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from engine.errors import DarkroomError
from engine.io import GREEN, RawFrame, read_raw
from engine.train import PairFiles

#: Largest acceptable misalignment between short and long exposure, sensor pixels.
MAX_SHIFT_PX = 3.0
#: A long exposure with more than this fraction of its pixels near white is unusable.
MAX_CLIPPED_FRACTION = 0.5
#: "Near white": at least this fraction of the way from black to the white level.
CLIP_LEVEL = 0.97
#: Longer side of the green thumbnails the shift is measured on, pixels.
THUMB_MAX_SIDE = 1024
#: Below this phase-correlation peak the frames share no usable structure (different scenes, a
#: flat or pure-noise frame; unrelated noise reaches ~0.02 on 1024-px thumbnails, more on tiny
#: ones): the alignment cannot be measured, and such a pair is invalid, never "0 px off".
MIN_RESPONSE = 0.1

VALID, INVALID = "valid", "invalid"


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class CheckedPair:
    """A short/long pair found or picked, with its verdict.

    Attributes:
        short, long: the two RAW files.
        ratio: exposure ratio long / short (``None`` when it could not be worked out).
        camera: the short exposure's camera ("Make Model"), or ``"unknown camera"``.
        status: :data:`VALID` or :data:`INVALID`.
        reason: one line saying why an invalid pair is invalid (empty when valid).
        shift_px: measured misalignment in sensor pixels (``None``: not measured).
        clipped_fraction: fraction of the long exposure's pixels near white, in [0, 1].
        sensor: the colour filter array, ``"bayer"`` or ``"x-trans"`` (``None``: not read),
            which picks the model a fine-tune on it starts from.
    """

    short: Path
    long: Path
    ratio: float | None
    camera: str
    status: str
    reason: str = ""
    shift_px: float | None = None
    clipped_fraction: float | None = None
    sensor: str | None = None

    @property
    def valid(self) -> bool:
        return self.status == VALID

    def to_files(self) -> PairFiles:
        """The pair as :class:`~engine.train.real_pairs.PairFiles` (with its ratio)."""
        return PairFiles(short=self.short, long=self.long, ratio=self.ratio)

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
    pairs: list[CheckedPair] = field(default_factory=list)
    unpaired: list[FileIssue] = field(default_factory=list)
    errors: list[FileIssue] = field(default_factory=list)

    @property
    def valid_pairs(self) -> list[CheckedPair]:
        return [p for p in self.pairs if p.valid]

    @property
    def invalid_pairs(self) -> list[CheckedPair]:
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

    def valid_files(self) -> list[PairFiles]:
        """The valid pairs as :class:`~engine.train.real_pairs.PairFiles` (ratios filled in)."""
        return [p.to_files() for p in self.valid_pairs]


# --------------------------------------------------------------------------------------------
# Per-file summaries


@dataclass(frozen=True, eq=False)
class RawSummary:
    """What pairing needs of a RAW file, without keeping its full mosaic in memory.

    Attributes:
        path: the file.
        camera: "Make Model" from the EXIF.
        width, height: mosaic size in sensor pixels.
        cfa: 2x2 layout name, e.g. ``"RGGB"``, or ``"X-Trans"``.
        sensor: ``"bayer"`` or ``"x-trans"`` (:attr:`~engine.io.RawFrame.sensor`).
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
    sensor: str
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


#: Side of the blocks whose greens are averaged into one thumbnail pixel: a Bayer block, or a
#: 3x3 quarter of the X-Trans tile (five greens; every 3x3 window of it holds each colour).
GREEN_BLOCK = {"bayer": 2, "x-trans": 3}


def _green_means(frame: RawFrame) -> np.ndarray:
    """Mean normalised green of every :data:`GREEN_BLOCK` block (whole blocks only), found
    from the frame's CFA pattern: ``(H // b, W // b)`` float32."""
    b, n = GREEN_BLOCK[frame.sensor], frame.period
    h, w = frame.height // b * b, frame.width // b * b
    pattern = np.asarray(frame.cfa_pattern)
    sums = np.zeros((h // b, w // b), np.float32)
    counts = np.zeros((h // b, w // b), np.float32)
    # One strided view per green position of the period, no full-frame float copy. The
    # period is a whole number of blocks, so pixel (dy + n i, dx + n j) lies in block
    # (dy // b + (n // b) i, dx // b + (n // b) j): a strided view of the blocks too.
    step = n // b
    for dy, dx in np.argwhere(pattern == GREEN):
        black = np.float32(frame.black_level[dy, dx])
        plane = frame.mosaic[dy:h:n, dx:w:n].astype(np.float32) - black
        plane /= np.float32(frame.white_level) - black
        sums[dy // b :: step, dx // b :: step] += plane
        counts[dy // b :: step, dx // b :: step] += np.float32(1.0)
    return sums / np.maximum(counts, np.float32(1.0))


def green_thumbnail(frame: RawFrame, max_side: int = THUMB_MAX_SIDE) -> tuple[np.ndarray, float]:
    """The mean of the greens of every CFA block (the two of a Bayer block, the five of each
    3x3 quarter of an X-Trans tile), area-downsampled.

    Returns:
        ``(h, w)`` float32 normalised green (black-subtracted, divided by ``white - black``, not
        clipped) with ``max(h, w) <= max_side``, and the sensor pixels per thumbnail pixel.
    """
    green = _green_means(frame)
    block = GREEN_BLOCK[frame.sensor]
    h, w = green.shape
    factor = max(1, math.ceil(max(h, w) / max_side))
    if factor > 1:
        green = cv2.resize(green, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(green, dtype=np.float32), float(block) * w / green.shape[1]


def clipped_fraction(frame: RawFrame, level: float = CLIP_LEVEL) -> float:
    """Fraction of mosaic pixels at or above ``level`` of the way from black to white (each
    position of the CFA period against its own black level)."""
    clipped, n = 0, frame.period
    for dy in range(n):
        for dx in range(n):
            black = float(frame.black_level[dy, dx])
            threshold = black + level * (frame.white_level - black)
            clipped += int(np.count_nonzero(frame.mosaic[dy::n, dx::n] >= threshold))
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
        sensor=frame.sensor,
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
        DarkroomError: the file cannot be read as a Bayer or X-Trans RAW (any decoder failure
            on a corrupt file is turned into one, so one bad file never ends a scan).
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
) -> CheckedPair:
    """Judge a short/long pair; the first failing check gives the reason."""

    def verdict(reason: str = "", **extra: float | None) -> CheckedPair:
        return CheckedPair(
            short=short.path, long=long.path, ratio=ratio, camera=short.camera,
            status=INVALID if reason else VALID, reason=reason,
            clipped_fraction=long.clipped_fraction, sensor=short.sensor,
            **extra,  # type: ignore[arg-type]
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
        # Nothing in common to align on: most often two different scenes, and training on
        # those teaches the model to invent a picture.
        return verdict("alignment cannot be measured (the frames share no structure: "
                       "different scenes, or a flat or black frame?)")  # fmt: skip
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
