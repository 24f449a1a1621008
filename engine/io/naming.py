"""Where an export goes and what it is called: one rule for the CLI and the window.

* :func:`output_name`: ``<stem>-darkroom.<ext>`` by default, or a template such as
  ``"{stem}-{model}-x{ratio}"`` (fields :data:`NAME_FIELDS`). The suffix keeps an export apart
  from the camera's own JPEG of a RAW+JPEG pair (``DSC01234.ARW`` + ``DSC01234.JPG``).
* :func:`default_output_folder`: the photo's own folder (or the last one used), never a folder
  inside the installed package (the bundled sample lives there, read-only on a system install).
* :func:`written_by_darkroom`: whether an existing file carries Darkroom's Software tag; only
  such files may be replaced, even with ``--overwrite`` (:func:`engine.io.check_destination`).
"""

from __future__ import annotations

import os
import string
from pathlib import Path

from engine.errors import ExportError

#: The default name template: the photo's stem and a suffix that no camera writes.
DEFAULT_NAME = "{stem}-darkroom"
#: Fields a name template may use.
NAME_FIELDS = ("stem", "model", "ratio", "amount")
#: What every Darkroom export's Software tag starts with.
SOFTWARE_PREFIX = "Darkroom"


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
    from engine.io.export import fit_file_name

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
