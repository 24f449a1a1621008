"""Where an export goes and what it is called: one rule for the CLI and the window.

* :func:`output_name`: ``<stem>-darkroom.<ext>`` by default, or a template such as
  ``"{stem}-{model}-x{ratio}"`` (fields :data:`NAME_FIELDS`). The suffix keeps an export apart
  from the camera's own JPEG of a RAW+JPEG pair (``DSC01234.ARW`` + ``DSC01234.JPG``).
* :func:`default_output_folder`: the photo's own folder (or the last one used), never a folder
  inside the installed package (the bundled sample lives there, read-only on a system install).
* :data:`FORMATS`, :func:`normalise_format`, :func:`format_for_path`: the export formats and
  their suffixes; :func:`fit_file_name` keeps a name within 255 bytes;
  :func:`output_path_for` and :func:`check_distinct_outputs`: a batch's output paths.
* :func:`written_by_darkroom`: whether an existing file carries Darkroom's Software tag; only
  such files may be replaced, even with ``--overwrite`` (:func:`engine.io.check_destination`).
"""

from __future__ import annotations

import os
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.errors import DarkroomError, ExportError

#: The default name template: the photo's stem and a suffix that no camera writes.
DEFAULT_NAME = "{stem}-darkroom"
#: Fields a name template may use.
NAME_FIELDS = ("stem", "model", "ratio", "amount")
#: What every Darkroom export's Software tag starts with.
SOFTWARE_PREFIX = "Darkroom"
#: Export formats and the suffix used for new files: the one format table.
FORMATS: dict[str, str] = {"jpeg": ".jpg", "tiff": ".tif", "png": ".png", "dng": ".dng"}
#: Every suffix an output may have, and the format it means.
SUFFIX_FORMATS: dict[str, str] = {
    ".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff", ".png": "png", ".dng": "dng",
}  # fmt: skip
_ALIASES = {"jpg": "jpeg", "tif": "tiff"}


def normalise_format(fmt: str) -> str:
    """A format name or alias (``"JPG"``, ``".tif"``) as a :data:`FORMATS` key.

    Raises:
        ExportError: not a known format.
    """
    name = fmt.strip().lower().lstrip(".")
    name = _ALIASES.get(name, name)
    if name not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r} (use one of: {', '.join(FORMATS)})")
    return name


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The export format implied by a file name's suffix, e.g. ``"x.JPG"`` -> ``"jpeg"``.

    Raises:
        ExportError: the suffix is not one of .jpg .jpeg .tif .tiff .png .dng.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        known = " ".join(sorted(SUFFIX_FORMATS))
        raise ExportError(
            f"{path}: cannot tell the format from the suffix {suffix or '(none)'!r} "
            f"(use one of {known})"
        )
    return SUFFIX_FORMATS[suffix]


#: Longest file name most file systems take, bytes.
NAME_MAX = 255


def fit_file_name(stem: str, suffix: str, limit: int = NAME_MAX) -> str:
    """``stem + suffix``, the stem shortened (whole characters, with ``~`` and a hash of the
    whole stem, so two long names stay apart) when the name would exceed ``limit`` bytes.

    Examples:
        >>> fit_file_name("IMG_0001", ".jpg")
        'IMG_0001.jpg'
        >>> name = fit_file_name("é" * 200, ".jpg")
        >>> len(name.encode()) <= 255 and name.endswith(".jpg") and "~" in name
        True
    """
    name = stem + suffix
    raw = os.fsencode(name)
    if len(raw) <= limit:
        return name
    import hashlib

    tag = "~" + hashlib.sha1(os.fsencode(stem)).hexdigest()[:8]
    room = limit - len(os.fsencode(tag + suffix))
    short = os.fsencode(stem)[:room].decode("utf-8", "ignore")
    return short + tag + suffix


def output_path_for(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    fmt: str,
    template: str = DEFAULT_NAME,
    **fields: Any,
) -> Path:
    """``<out_dir>/<name><format suffix>`` with the name from ``template`` and ``fields``
    (:func:`engine.io.naming.output_name`), e.g. ``(a/IMG_1.ARW, out, "jpeg")`` ->
    ``out/IMG_1-darkroom.jpg`` (a name over 255 bytes is shortened by :func:`fit_file_name`)."""
    suffix = FORMATS[normalise_format(fmt)]
    return Path(out_dir) / output_name(input_path, suffix, template, **fields)


def check_distinct_outputs(inputs: Sequence[Path], outputs: Sequence[Path]) -> None:
    """Refuse a batch in which two inputs would be written to the same file (``IMG_1.ARW`` and
    ``IMG_1.DNG`` both make ``IMG_1-darkroom.jpg``).

    Raises:
        DarkroomError: the first clash, in one line.
    """
    seen: dict[Path, Path] = {}
    for src, dst in zip(inputs, outputs, strict=True):
        key = dst.resolve()
        if key in seen:
            raise DarkroomError(f"{src} and {seen[key]} would both be written to {dst}")
        seen[key] = src


def check_name_template(template: str) -> str:
    """``template`` if it makes a usable file name, else a one-line :class:`ExportError`.

    Examples:
        >>> check_name_template("{stem}-{model}-x{ratio}")
        '{stem}-{model}-x{ratio}'
    """
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ExportError(f"--name {template!r}: {exc}") from None
    unknown = [f for f in fields if f not in NAME_FIELDS]
    if unknown:
        raise ExportError(f"--name {template!r}: unknown field {{{unknown[0]}}} "
                          f"(use {', '.join('{' + f + '}' for f in NAME_FIELDS)})")  # fmt: skip
    if "/" in template or "\\" in template or not template.strip():
        raise ExportError(f"--name {template!r}: a file name, without folders (use -o for those)")
    return template


def _ratio_text(ratio: float | None) -> str:
    return "auto" if ratio is None else f"{ratio:g}"


def output_name(
    source: str | os.PathLike[str],
    suffix: str,
    template: str = DEFAULT_NAME,
    *,
    model: str = "",
    ratio: float | None = None,
    amount: float = 1.0,
) -> str:
    """The export's file name: ``template`` filled in, then ``suffix`` (e.g. ``".jpg"``).

    Args:
        ratio: the exposure ratio asked for (``None``: "auto").
        amount: 0..1, written as a percentage.
        model: a model name or ``.safetensors`` path (its stem is used).

    Examples:
        >>> output_name("/photos/DSC01234.ARW", ".jpg")
        'DSC01234-darkroom.jpg'
        >>> output_name("a/IMG_1.NEF", ".tif", "{stem}-{model}-x{ratio}", model="fast", ratio=100.0)
        'IMG_1-fast-x100.tif'
    """
    check_name_template(template)
    stem = template.format(stem=Path(source).stem, model=Path(model).stem if model else "",
                           ratio=_ratio_text(ratio), amount=f"{round(amount * 100):d}")  # fmt: skip
    return fit_file_name(stem, suffix)


def is_inside_install(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` lies inside an installed Python package folder (site-packages, or
    Darkroom's bundled resources): no place for a photographer's exports."""
    from engine.resources import resources_dir

    resolved = Path(path).resolve()
    if resolved.is_relative_to(resources_dir()):
        return True
    return any(part in ("site-packages", "dist-packages") for part in resolved.parts)


def default_output_folder(
    source: str | os.PathLike[str], last_used: str | os.PathLike[str] | None = None
) -> Path:
    """Where an export goes unless the user says otherwise: ``last_used`` if given and still a
    folder outside the installation, else the photo's own folder, else the user's Pictures
    folder (the photo is the bundled sample, or its folder is gone)."""
    for folder in (last_used, Path(source).parent):
        if folder and Path(folder).is_dir() and not is_inside_install(folder):
            return Path(folder)
    from platformdirs import user_pictures_dir

    return Path(user_pictures_dir())


def written_by_darkroom(path: str | os.PathLike[str]) -> bool:
    """Whether the file at ``path`` is a Darkroom export (its EXIF Software tag, read with
    exiv2 like all export metadata, starts with "Darkroom"); any file exiv2 cannot read is
    not."""
    from engine.io.metadata import software_tag

    return (software_tag(path) or "").startswith(SOFTWARE_PREFIX)
