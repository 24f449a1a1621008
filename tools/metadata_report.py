"""Issue 21's tag-survival table: tags in each source RAW and how many each export format kept.

    python tools/metadata_report.py OUT_FOLDER FILE...

Renders each file once through the classical pipeline (x1) and writes JPEG, 16-bit TIFF,
16-bit PNG and DNG into OUT_FOLDER with the engine's export path, then counts with exiv2: the
source's EXIF tags (all, and those that describe the photo rather than the RAW file's
structure: :func:`engine.io.metadata.copyable`), and per format how many of those came through
with the same value, plus XMP and IPTC. Prints a Markdown table. Not a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import exiv2

from engine.io import ExportOptions, read_raw, write_rendered
from engine.io.metadata import copyable
from engine.render import Enhancer

FORMATS = {"jpeg": ("jpg", 8), "tiff": ("tif", 16), "png": ("png", 16), "dng": ("dng", 16)}


def _read(path: Path) -> exiv2.Image:
    image = exiv2.ImageFactory.open(str(path))
    image.readMetadata()
    return image


def main() -> None:
    out, files = Path(sys.argv[1]), [Path(f) for f in sys.argv[2:]]
    out.mkdir(parents=True, exist_ok=True)
    enhancer = Enhancer("none")
    print(
        "| source | EXIF tags | of the photo | XMP | IPTC | "
        + " | ".join(f"{f} kept" for f in FORMATS)
        + " |"
    )
    print("|---" * (5 + len(FORMATS)) + "|")
    for path in files:
        frame = read_raw(path)
        rendered = enhancer.render(frame, 1.0)
        source = _read(path)
        wanted = {d.key(): d.toString() for d in source.exifData() if copyable(d.key())}
        cells = []
        for fmt, (suffix, bits) in FORMATS.items():
            dest = out / f"{path.stem}.{suffix}"
            write_rendered(rendered, dest, ExportOptions(fmt=fmt, bits=bits, overwrite=True),
                           exif=frame.exif, source_path=path)  # fmt: skip
            got = {d.key(): d.toString() for d in _read(dest).exifData()}
            kept = sum(got.get(k) == v for k, v in wanted.items())
            cells.append(f"{kept} / {len(wanted)}")
        print(f"| {path.name} | {source.exifData().count()} | {len(wanted)} | "
              f"{source.xmpData().count()} | {source.iptcData().count()} | "
              + " | ".join(cells) + " |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
