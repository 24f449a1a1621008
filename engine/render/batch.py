"""Batches: :func:`process_file` for one file, whatever runs the batch; :func:`run_batch`
for a local one.

The local batch (:func:`run_batch`: the CLI's, and the window's export of several photos, each
with its own model and settings; one process, the next decode prefetched) and the Ray batch
(:mod:`engine.render.cluster`, one model per actor) all call :func:`process_file` for every
file, so a file gives the same bytes and the same one-line error whichever path ran it. A bad
file is an outcome, not an exception: the batch goes on and the summary counts it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from engine.errors import Cancelled, DarkroomError
from engine.io import ClassicalAhead, ExportOptions, RawFrame, read_raw
from engine.jobs import CancelToken, ProgressCallback, no_progress
from engine.render.adjustments import Adjustments
from engine.render.enhance import enhance_file
from engine.render.pipeline import Enhancer


@dataclass(frozen=True)
class FileOutcome:
    """What became of one input of a batch.

    Attributes:
        source, output: the input RAW file and where its result was (or would have been) written.
        error: the one-line reason it failed, ``""`` when it was written.
        ratio: the exposure ratio used (0.0 when it failed).
        warnings: the input's metadata warnings (see ``RawFrame.warnings``).
        seconds: wall time spent on this file (decode, render, write).
    """

    source: Path
    output: Path
    error: str = ""
    ratio: float = 0.0
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error


def process_file(
    enhancer: Enhancer,
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    adjustments: Adjustments,
    options: ExportOptions,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    decode: Callable[[Path], RawFrame] = read_raw,
    debug: bool = False,
) -> FileOutcome:
    """Decode, render and write one file (:func:`~engine.render.enhance_file`); a failure
    becomes a :class:`FileOutcome` with its one-line error, never an exception.

    Args:
        debug: let unexpected exceptions (bugs, not bad input) propagate with their traceback.

    Raises:
        Cancelled: ``cancel`` was set; nothing partial was written.
    """
    source, dest = Path(source), Path(dest)
    started = time.perf_counter()
    try:
        done = enhance_file(enhancer, source, dest, adjustments, options, progress, cancel,
                            decode=decode)  # fmt: skip
    except Cancelled:
        raise
    except DarkroomError as exc:
        error = str(exc)
    except Exception as exc:  # one bad file must not end a batch of thousands
        if debug:
            raise
        error = f"{source}: internal error: {exc.__class__.__name__}: {exc}"
    else:
        return FileOutcome(source, dest, "", done.ratio, done.warnings,
                           time.perf_counter() - started)  # fmt: skip
    return FileOutcome(source, dest, error, seconds=time.perf_counter() - started)


@dataclass(frozen=True)
class BatchItem:
    """One file of a local batch and how to render it (each file may have its own model and
    adjustments: the window exports photos with their own settings)."""

    source: Path
    dest: Path
    model: str
    adjustments: Adjustments


def run_batch(
    items: Sequence[BatchItem],
    enhancer_for: Callable[[str], Enhancer],
    options: ExportOptions,
    cancel: CancelToken | None = None,
    on_start: Callable[[int, BatchItem], None] | None = None,
    progress: ProgressCallback = no_progress,
    on_outcome: Callable[[int, FileOutcome], None] | None = None,
    debug: bool = False,
    ahead: ClassicalAhead | None = None,
) -> list[FileOutcome]:
    """Render and write every item in turn (:func:`process_file`), decoding the next file
    while the network works on this one (LibRaw runs outside the GIL for most of a decode,
    and the network leaves the GIL for its convolutions).

    Args:
        enhancer_for: the loaded model of a name (called once per file; cache it).
        on_start: called before each file with its index.
        progress: the current file's progress (tiles, then writing).
        on_outcome: called after each file with its index and outcome.
        ahead: the first item's file already being decoded (and its classical render made)
            since before torch loaded: its decode is used instead of a new one.

    Returns:
        One outcome per item, in order.

    Raises:
        Cancelled: ``cancel`` was set; files already written stay, the one in progress leaves
            nothing partial, the rest are not started.
    """
    outcomes: list[FileOutcome] = []
    prefetch = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode")
    pending: Future | None = None
    if items and ahead is not None and ahead.path == items[0].source:
        pending = ahead.decoded
    elif items:
        pending = prefetch.submit(read_raw, items[0].source)
    try:
        for i, item in enumerate(items):
            if cancel is not None:
                cancel.raise_if_cancelled()
            if on_start is not None:
                on_start(i, item)
            current: Future = pending  # type: ignore[assignment]
            following = items[i + 1].source if i + 1 < len(items) else None
            pending = prefetch.submit(read_raw, following) if following else None
            try:
                enhancer = enhancer_for(item.model)
            except DarkroomError as exc:
                outcome = FileOutcome(item.source, item.dest, f"{item.source}: {exc}")
            else:
                outcome = process_file(enhancer, item.source, item.dest, item.adjustments,
                                       options, progress, cancel,
                                       decode=lambda _path, f=current: f.result(),
                                       debug=debug)  # fmt: skip
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(i, outcome)
    finally:
        prefetch.shutdown(wait=True, cancel_futures=True)
    return outcomes


def format_eta(seconds: float) -> str:
    """A rounded time left, as people say it: "about 40 s left", "about 3 min left"."""
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5)} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


class BatchProgress:
    """The whole batch's progress from its files' own, with an estimate of the time left.

    Reports ``(permille, 1000, "3/10 IMG_0042.ARW · about 40 s left")`` to ``report``; give
    :meth:`start_file` to :func:`run_batch`'s ``on_start`` and the object itself as its
    ``progress``.
    """

    def __init__(
        self, total_files: int, report: ProgressCallback,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.total, self.report, self.clock = max(1, total_files), report, clock
        self.started = clock()
        self.index, self.name = 0, ""

    def start_file(self, index: int, item: BatchItem) -> None:
        self.index, self.name = index, item.source.name
        self(0, 1, "")

    def __call__(self, done: int, total: int, message: str) -> None:
        fraction = (self.index + (done / total if total else 1.0)) / self.total
        elapsed = self.clock() - self.started
        text = f"{self.index + 1}/{self.total} {self.name}"
        if fraction > 0.02 and elapsed > 1.0:  # too early is a guess, not an estimate
            text += f" · {format_eta(elapsed * (1.0 - fraction) / fraction)}"
        self.report(round(1000 * min(fraction, 1.0)), 1000, text)
