"""Issue 21's highlight figure: the colour cast of near-clipped pixels on real files.

    python tools/highlight_check.py FILE... [--models fast,none] [--ratio auto]

For each file and model, renders at the ratio (``auto``: the engine's estimate) with the
highlight rule on and off (:mod:`engine.render.highlights`), and prints the mean and 99th
percentile chroma (max minus min channel, 8-bit sRGB) of the pixels whose 2x2 CFA block is
clipped or within 5 % of clipping once amplified, and how many there are. Not a test.
"""

from __future__ import annotations

import argparse

import numpy as np

import engine.render.highlights as highlights
from engine.io import read_raw
from engine.render import Enhancer, estimate_ratio, normalise_mosaic


def near_clip(frame, ratio: float) -> np.ndarray:
    m = normalise_mosaic(frame, ratio)
    h, w = (s - s % 2 for s in m.shape)
    block = m[:h, :w].reshape(h // 2, 2, w // 2, 2).max(axis=(1, 3))
    return np.repeat(np.repeat(block >= 0.95, 2, 0), 2, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--models", default="fast,none")
    parser.add_argument("--ratio", default="auto")
    args = parser.parse_args()
    start, full = highlights.CLIP_START, highlights.CLIP_FULL
    for path in args.files:
        frame = read_raw(path)
        ratio = estimate_ratio(frame) if args.ratio == "auto" else float(args.ratio)
        for model in args.models.split(","):
            enhancer = Enhancer(model)
            row = []
            for on in (False, True):
                highlights.CLIP_START, highlights.CLIP_FULL = (start, full) if on else (9.0, 9.5)
                rendered = enhancer.render(frame, ratio)
                linear_mask = near_clip(frame, ratio)
                srgb = np.rint(rendered.srgb * 255.0)
                # The mask is on the sensor grid; the render is cropped and oriented.
                mask = _to_render_grid(linear_mask, rendered, srgb.shape[:2])
                chroma = (srgb.max(-1) - srgb.min(-1))[mask]
                row.append(
                    f"{'on ' if on else 'off'} mean {chroma.mean():5.2f} "
                    f"p99 {np.percentile(chroma, 99):5.1f}"
                    if chroma.size
                    else "none"
                )
            print(f"{path.split('/')[-1]:<22} x{ratio:<6.1f} {model:<6} px {int(mask.sum()):>8}  "
                  + " | ".join(row), flush=True)  # fmt: skip


def _to_render_grid(mask: np.ndarray, rendered, shape: tuple[int, int]) -> np.ndarray:
    from engine.render import apply_orientation

    if rendered.crop is not None:
        top, left, height, width = rendered.crop
        mask = mask[top : top + height, left : left + width]
    out = apply_orientation(mask, rendered.orientation)
    return out[: shape[0], : shape[1]]


if __name__ == "__main__":
    main()
