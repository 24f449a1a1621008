"""How close the 100 % view's render is to the export's pixels, on real files.

    python tools/preview_exactness.py FILE [FILE...] [--model fast] [--ratios 1.2,10]
        [--precision auto]

For each file and ratio, renders the whole frame as an export does, then three full-resolution
preview regions (centre, top-left corner, lower right) as the window's 100 % view does, and
prints the largest difference in 8-bit levels and the share of pixels more than 1 level apart.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _as_uint8(srgb: np.ndarray) -> np.ndarray:
    return np.clip(srgb * 255.0 + 0.5, 0, 255).astype(np.int16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--model", default="fast")
    parser.add_argument("--ratios", default="1.2,10")
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()

    from engine.io import orient_rect, read_raw
    from engine.render import Enhancer

    enhancer = Enhancer(args.model, device="cpu", precision=args.precision)
    for path in args.files:
        frame = read_raw(path)
        h, w = frame.visible_height, frame.visible_width
        regions = ((h // 3, w // 3, min(650, h // 3), min(1000, w // 3)),
                   (0, 0, min(700, h // 2), min(900, w // 2)),
                   (h - min(700, h // 2), w - min(1000, w // 2), min(700, h // 2),
                    min(1000, w // 2)))  # fmt: skip
        for ratio in (float(r) for r in args.ratios.split(",")):
            whole = _as_uint8(enhancer.render(frame, ratio).srgb)
            for region in regions:
                started = time.perf_counter()
                part = enhancer.render_preview(frame, ratio, max(region[2:]), region)
                seconds = time.perf_counter() - started
                top, left, rh, rw = orient_rect(part.covers, h, w, frame.orientation)
                diff = np.abs(whole[top : top + rh, left : left + rw] - _as_uint8(part.srgb))
                print(f"{path} x{ratio:g} region {region}: max {diff.max()} levels, "
                      f"{(diff > 1).mean():.1e} of pixels > 1 level ({seconds:.2f} s)",
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
