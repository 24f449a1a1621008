"""Background work of the fine-tune panel: pairing, thumbnails, checkpoints and the run itself.

Everything here runs in worker threads (inside :class:`~darkroom_app.workers.Job`) or is cheap
file bookkeeping; nothing touches widgets. Results travel back as plain dataclasses, QImages
(safe to build off the GUI thread) and signals of small QObjects created in the GUI thread.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from engine.errors import DarkroomError, ModelError
from engine.finetune import (
    BaseSensorError,
    CheckedPair,
    FinetuneProgress,
    FinetuneRequest,
    FinetuneResult,
    MixedCamerasError,
    MixedSensorsError,
    NameTakenError,
    NoBaseModelError,
    NoPairsError,
    PairingReport,
    PauseToken,
    check_start,
    collect_pairs,
    finetune,
    pair_files,
)
from engine.io import read_raw
from engine.jobs import CancelToken, ProgressCallback
from engine.models import check_name
from engine.render import CLASSICAL, Enhancer

from .preview_render import to_qimage, to_uint8

#: Longer side of the pair thumbnails in the table, pixels.
THUMB_SIDE = 96

PAIR, UNPAIRED, UNREADABLE = "pair", "unpaired", "unreadable"


@dataclass(frozen=True)
class PairTableRow:
    """One line of the pairs table: a candidate pair, or a file that ended up in no pair.

    Attributes:
        kind: :data:`PAIR`, :data:`UNPAIRED` or :data:`UNREADABLE`.
        short: the pair's short exposure, or the lone file.
        long: the pair's long exposure (``None`` for a lone file).
        candidate: the checked pair (``None`` for a lone file).
        reason: why the pair is invalid or the file unused (empty for a valid pair).
        suspicion: why a valid pair looks wrong once a fine-tune scored it (the engine's
            :class:`~engine.finetune.SuspectPair`), empty otherwise.
    """

    kind: str
    short: Path
    long: Path | None = None
    candidate: CheckedPair | None = None
    reason: str = ""
    suspicion: str = ""

    @property
    def usable(self) -> bool:
        """Whether this row is a valid pair that training will use."""
        return self.candidate is not None and self.candidate.valid

    @property
    def key(self) -> tuple[str, str]:
        """Identity for de-duplication when the same folder or files are added twice."""
        return (str(self.short.resolve()), str(self.long.resolve()) if self.long else "")

    @property
    def thumb_path(self) -> Path | None:
        """The file whose thumbnail represents the row: the clean long exposure of a pair."""
        if self.kind == UNREADABLE:
            return None
        return self.long if self.long is not None else self.short


def rows_from_report(report: PairingReport) -> list[PairTableRow]:
    """Pairs first (in capture order), then unpaired, then unreadable files."""
    rows = [PairTableRow(PAIR, c.short, c.long, c, c.reason) for c in report.pairs]
    rows += [PairTableRow(UNPAIRED, u.path, reason=u.reason) for u in report.unpaired]
    rows += [PairTableRow(UNREADABLE, e.path, reason=e.reason) for e in report.errors]
    return rows


def scan_folder_rows(
    folder: Path, cancel: CancelToken, progress: ProgressCallback
) -> list[PairTableRow]:
    """Pair every RAW file of ``folder`` (worker thread).

    Raises:
        DarkroomError: an empty folder, no pair at all, a bad CSV list (the engine's message).
    """
    return rows_from_report(collect_pairs(folder, progress=progress, cancel=cancel))


def pick_pair_row(first: Path, second: Path) -> PairTableRow:
    """Check two files the user picked, in whichever order makes the ratio at least 1.

    Users pick both files in one dialog, which says nothing about which one is the short
    exposure; the EXIF does, so a "ratio below 1" verdict is retried the other way round.
    """
    candidate = pair_files(first, second)
    if candidate.ratio is not None and candidate.ratio < 1.0:
        swapped = pair_files(second, first)
        if swapped.valid or swapped.ratio is None or swapped.ratio >= 1.0:
            candidate = swapped
    return PairTableRow(PAIR, candidate.short, candidate.long, candidate, candidate.reason)


class ThumbnailSignals(QObject):
    """``ready(path, image)``: a thumbnail (a null QImage when the file could not be read)."""

    ready = Signal(str, QImage)


def make_thumbnails(
    paths: Sequence[Path], emit: Callable[[str, QImage], None], cancel: CancelToken
) -> None:
    """Classical renders of each file at :data:`THUMB_SIDE` pixels (worker thread)."""
    enhancer = Enhancer(CLASSICAL, device="cpu")  # the classical pipeline: cheap, no model
    for path in paths:
        cancel.raise_if_cancelled()
        try:
            rendered = enhancer.render_preview(read_raw(path), 1.0, max_side=THUMB_SIDE)
            image = to_qimage(to_uint8(rendered.srgb))
        except (DarkroomError, OSError):
            image = QImage()  # the table already says why the file is unusable
        emit(str(path), image)


# -- names -----------------------------------------------------------------------------------


def default_model_name(camera: str, library: Path) -> str:
    """``"<camera> fine-tune"``, made a valid library name and not yet taken."""
    clean = re.sub(r"[^\w .+-]+", " ", camera)
    clean = re.sub(r"\s+", " ", clean).strip(" ._+-")
    if not clean or clean.lower() == "unknown camera":
        clean = "My camera"
    stem = f"{clean[:60]} fine-tune"
    for n in range(1, 100):
        name = stem if n == 1 else f"{stem} {n}"
        try:
            check_name(name)
        except DarkroomError:
            return "My camera fine-tune"
        if not (library / f"{name}.safetensors").exists():
            return name
    return stem


#: Dialog titles for the engine's reasons a fine-tune cannot start.
START_PROBLEM_TITLES: dict[type[DarkroomError], str] = {
    NoPairsError: "No valid pairs",
    MixedCamerasError: "Pairs from several cameras",
    MixedSensorsError: "Pairs from Bayer and X-Trans cameras",
    BaseSensorError: "Base model takes other photos",
    NoBaseModelError: "No base model",
    NameTakenError: "Name taken",
    ModelError: "Invalid model name",
}


def start_problem(request: FinetuneRequest) -> tuple[str, str] | None:
    """Why a fine-tune cannot start, as ``(title, message)`` for a dialog; ``None`` if it can.

    The rules are the engine's (:func:`engine.finetune.check_start`, which the CLI obeys
    too); this only picks a title.
    """
    try:
        check_start(request)
    except DarkroomError as exc:
        title = next((t for kind, t in START_PROBLEM_TITLES.items() if isinstance(exc, kind)),
                     "Cannot start")  # fmt: skip
        if isinstance(exc, NoPairsError) and not request.pairs:
            return title, ("Add a folder or two files with at least one valid short/long pair "
                           "(red rows in the table say what is wrong).")  # fmt: skip
        return title, _sentence(str(exc))
    return None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


class FinetuneSignals(QObject):
    """``progress(FinetuneProgress)`` from the training thread."""

    progress = Signal(object)


def run_finetune(
    req: FinetuneRequest,
    cancel: CancelToken,
    pause: PauseToken,
    report: Callable[[FinetuneProgress], None],
) -> FinetuneResult:
    """The engine's fine-tune (worker thread); it resumes a matching checkpoint by itself.

    Raises:
        DarkroomError: bad settings or pairs, an existing name, a failed write.
        Cancelled: Cancel was pressed (a checkpoint was written first).
    """
    return finetune(req, progress=report, cancel=cancel, pause=pause)


def format_duration(seconds: float | None) -> str:
    """``"1 h 05 min"``, ``"3 min 20 s"``, ``"12 s"``; ``"—"`` when unknown."""
    if seconds is None:
        return "—"
    s = round(max(0.0, seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"
