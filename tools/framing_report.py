"""Sizes of RAW files as Darkroom frames them, against rawpy/LibRaw's own reading.

    python tools/framing_report.py FILE_OR_FOLDER... [--generated DIR]

For every file: the stored raw size, LibRaw's active area (what ``postprocess`` develops), the
DNG default crop Darkroom reads from the tags, LibRaw's own (CFA-aligned) crop, and the size of
Darkroom's classical render (the picture, oriented). ``--generated DIR`` first writes the test
cases of ``tests/test_framing.py`` (odd crops, masked borders, every orientation) into DIR.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import rawpy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.errors import DarkroomError
from engine.io import read_raw
from engine.render import Enhancer


def _generated(folder: Path) -> list[Path]:
    from tests.test_framing import CASES, _write

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, case in enumerate(CASES):
        for orientation in (1, 6, 8):
            cfa = ("RGGB", "BGGR", "GRBG", "GBRG")[(i + orientation) % 4]
            name = f"{case.replace(' ', '_').replace('+', 'and')}_{cfa}_o{orientation}.dng"
            paths.append(_write(folder / name, cfa, case, orientation))
    return paths


def _row(path: Path, enhancer: Enhancer) -> str:
    with rawpy.imread(str(path)) as raw:
        s = raw.sizes
        stored = f"{s.raw_width}x{s.raw_height}"
        active = f"{s.width}x{s.height}+{s.left_margin}+{s.top_margin}"
        developed = raw.postprocess(half_size=False).shape[:2]
        libraw_crop = (
            f"{s.crop_width}x{s.crop_height}+{s.crop_left_margin - s.left_margin}"
            f"+{s.crop_top_margin - s.top_margin}"
            if s.crop_width
            else "-"
        )
    try:
        frame = read_raw(path)
    except DarkroomError as exc:
        return f"| {path.name} | {stored} | {active} | - | {libraw_crop} | - | {exc} |"
    crop = frame.default_crop
    ours = f"{crop[3]}x{crop[2]}+{crop[1]}+{crop[0]}" if crop else "-"
    rendered = enhancer.render(frame, 1.0).srgb.shape[:2]
    return (
        f"| {path.name} | {stored} | {active} | {ours} | {libraw_crop} | "
        f"{developed[1]}x{developed[0]} | {rendered[1]}x{rendered[0]} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="*", type=Path)
    parser.add_argument("--generated", type=Path, help="write the generated cases here first")
    args = parser.parse_args()
    paths: list[Path] = []
    for item in args.inputs:
        paths += sorted(p for p in item.iterdir() if p.suffix.lower() not in (".md",)) \
            if item.is_dir() else [item]  # fmt: skip
    if args.generated:
        paths += _generated(args.generated)
    enhancer = Enhancer("none", device="cpu")
    print("| file | stored | LibRaw active area (WxH+left+top) | Darkroom default crop | "
          "LibRaw crop | LibRaw postprocess | Darkroom render (oriented) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for path in paths:
        print(_row(path, enhancer))


if __name__ == "__main__":
    main()
