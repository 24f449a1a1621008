"""Render and write: the one export path every front end calls.

:func:`export_frame` renders a decoded frame with an :class:`~engine.render.Enhancer` and
writes it with :func:`engine.io.write_rendered` (the window's export job); :func:`enhance_file`
adds decoding, for the CLI's batch (and anything else that works file by file). Both check the
destination before the render, so a file that exists fails at once, not after minutes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.io import (
    ExportOptions,
    RawFrame,
    check_destination,
    check_readable_file,
    read_raw,
    write_rendered,
)
from engine.jobs import CancelToken, ProgressCallback, no_progress
from engine.render.adjustments import Adjustments
from engine.render.pipeline import Enhancer
from engine.render.rendered import Rendered

#: Share of an export's progress (out of 100) given to rendering; writing takes the rest.
RENDER_SHARE = 90
#: The progress message sent once the render is done: from here on the export runs to its end
#: (the write is atomic), so a front end disables Cancel when it sees it.
WRITING = "Writing"


@dataclass(frozen=True)
class EnhancedFile:
    """One file an :func:`enhance_file` call wrote: its input, its output, the ratio used,
    and the input's warnings (damaged metadata replaced by defaults, see ``RawFrame``)."""

    source: Path
    output: Path
    ratio: float
    warnings: tuple[str, ...] = ()


def export_frame(
    enhancer: Enhancer,
    frame: RawFrame,
    adjustments: Adjustments,
    dest: str | os.PathLike[str],
    options: ExportOptions,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> Rendered:
    """Render ``frame`` with ``adjustments`` (ratio ``None``: estimated) and write ``dest``.

    Progress runs from 0 to 100: rendering up to :data:`RENDER_SHARE`, then :data:`WRITING`.

    Raises:
        ExportError: the destination is refused (checked before rendering) or the write failed
            (nothing is left on disk).
        Cancelled: ``cancel`` was set before writing began.
    """
    check_destination(dest, options, frame.path)

    def render_progress(done: int, total: int, message: str) -> None:
        progress(RENDER_SHARE * done // max(total, 1), 100, f"Rendering ({message})")

    rendered = enhancer.render(frame, adjustments.ratio, render_progress, cancel,
                               amount=adjustments.amount)  # fmt: skip
    if cancel is not None:
        cancel.raise_if_cancelled()
    progress(RENDER_SHARE, 100, WRITING)
    write_rendered(
        rendered,
        dest,
        options,
        exif=frame.exif,
        source_path=frame.path,
        cfa=None if frame.is_xtrans else frame.cfa_name,  # a Bayer mosaic DNG only
    )
    progress(100, 100, "Done")
    return rendered


def enhance_file(
    enhancer: Enhancer,
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    adjustments: Adjustments,
    options: ExportOptions,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    decode: Callable[[Path], RawFrame] = read_raw,
) -> EnhancedFile:
    """Decode ``source``, render it and write ``dest``: one file of a batch.

    Args:
        decode: reads the RAW file (a batch passes one that waits for a prefetched decode).

    Raises:
        DarkroomError: an unreadable RAW file, a refused destination, a failed write.
        Cancelled: as :func:`export_frame`.
    """
    source, dest = Path(source), Path(dest)
    check_readable_file(source)  # the input's problem first, then the output's
    check_destination(dest, options, source)
    frame = decode(source)
    rendered = export_frame(enhancer, frame, adjustments, dest, options, progress, cancel)
    return EnhancedFile(source, dest, rendered.ratio, frame.warnings)
