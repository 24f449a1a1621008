"""Which files a command line names, and where their outputs go (``darkroom-cli enhance``).

Only paths and names: nothing is read or written here, and nothing loads torch.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.errors import DarkroomError


def _looks_up(path: Path, test: Callable[[Path], bool]) -> bool:
    """``test(path)``, False when the system cannot look the path up (a name too long, say):
    the reader or the writer then reports why in one line."""
    try:
        return test(path)
    except OSError:
        return False


def expand_inputs(patterns: Sequence[str]) -> list[Path]:
    """The input files: each pattern as a path, or its glob matches when it does not exist.

    Raises:
        DarkroomError: a glob that matches nothing.
    """
    paths: list[Path] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?[") and not _looks_up(Path(pattern), Path.exists):
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise DarkroomError(f"{pattern}: no files match")
            paths.extend(Path(m) for m in matches)
        else:
            paths.append(Path(pattern))
    return paths


def _looks_like_a_file_name(path: Path) -> bool:
    """A suffix of 1-5 letters (``x.webp``), not a folder name with a dot (``night.2024``)."""
    suffix = path.suffix[1:]
    return 1 <= len(suffix) <= 5 and suffix.isalpha()


def plan_outputs(
    inputs: list[Path], out: str | None, fmt: str | None, template: str | None = None,
    **fields: Any,
) -> tuple[list[Path], str]:  # fmt: skip
    """The output path of every input, and the format.

    ``-o`` with an image suffix is a file (one input only); an existing folder, or a name
    without a file suffix, is a folder; each output there (beside its input without ``-o``)
    is named by ``template`` and ``fields`` (:func:`engine.io.output_name`).

    Raises:
        DarkroomError: a file for several inputs, a file suffix that is not an export format
            or contradicts ``--format``, a bad template, or two inputs that would be written to
            the same file.
    """
    from engine.io import (
        DEFAULT_NAME,
        SUFFIX_FORMATS,
        check_distinct_outputs,
        normalise_format,
        output_path_for,
    )

    fmt = normalise_format(fmt) if fmt else None
    target = Path(out) if out else None
    names_a_file = target is not None and target.suffix.lower() in SUFFIX_FORMATS
    if (target is not None and not names_a_file and _looks_like_a_file_name(target)
            and not _looks_up(target, Path.is_dir)):  # fmt: skip
        known = " ".join(sorted(SUFFIX_FORMATS))
        raise DarkroomError(f"-o {out}: {target.suffix} is not an export format (use {known}, "
                            "or a folder name)")  # fmt: skip
    if target is not None and names_a_file and not _looks_up(target, Path.is_dir):
        if len(inputs) > 1:
            raise DarkroomError(f"-o {out}: several inputs need an output folder, not a file")
        file_fmt = SUFFIX_FORMATS[target.suffix.lower()]
        if fmt is not None and fmt != file_fmt:
            raise DarkroomError(f"-o {out}: suffix does not match --format {fmt}")
        return [target], file_fmt
    fmt = fmt or "jpeg"
    template = template or DEFAULT_NAME
    outputs = [output_path_for(p, target if target else p.parent, fmt, template, **fields)
               for p in inputs]  # fmt: skip
    check_distinct_outputs(inputs, outputs)
    return outputs, fmt
