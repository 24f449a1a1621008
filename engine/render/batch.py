"""One file of a batch, whatever runs the batch: :func:`process_file`.

The CLI's local batch (one process, the next decode prefetched) and the Ray batch
(:mod:`engine.render.cluster`, one model per actor) both call :func:`process_file` for every
file, so a file gives the same bytes and the same one-line error whichever path ran it. A bad
file is an outcome, not an exception: the batch goes on and the summary counts it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import Cancelled, DarkroomError
from engine.io import ExportOptions, RawFrame, read_raw
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
