"""Look at the models on real RAW files from cameras they were not modelled on.

    python tools/real_raw_check.py ../shared/data/real-raw OUT_DIR [--models baseline,gan]

For every RAW file: a centre crop, (a) darkened x100 in the raw domain with the project's noise
model (engine.finetune.noise_fit.darken_frame, Sony A7S2 calibration) and enhanced at x100, and (b)
as it is, at x1. Writes
one PNG strip per file and case: classical pipeline | each model | (for (a)) the clean original.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from engine.finetune import darken_frame
from engine.io import RAW_EXTENSIONS, read_raw
from engine.noise import get_profile
from engine.render import Enhancer


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)[..., ::-1].copy()
    cv2.putText(out, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--models", default="baseline")
    parser.add_argument("--crop", type=int, default=768)
    parser.add_argument("--ratio", type=float, default=100.0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    enhancers = {"classical": Enhancer("none", device="cpu")}
    for name in args.models.split(","):
        enhancers[name] = Enhancer(name, device="cpu")
    for path in sorted(args.folder.iterdir()):
        if path.suffix.lower() not in RAW_EXTENSIONS:
            continue
        frame = read_raw(path)
        c = min(args.crop, frame.height, frame.width)
        frame = frame.crop((frame.height - c) // 2, (frame.width - c) // 2, c, c)
        dark = darken_frame(frame, args.ratio, get_profile("SonyA7S2"), np.random.default_rng(0))
        for case, src, ratio in (("dark", dark, args.ratio), ("asis", frame, 1.0)):
            tiles = [
                label(e.render(src, ratio).srgb, f"{n} x{ratio:g}") for n, e in enhancers.items()
            ]
            if case == "dark":
                tiles.append(
                    label(enhancers["classical"].render(frame, 1.0).srgb, "clean original")
                )
            strip = np.concatenate(tiles, axis=1)
            cv2.imwrite(str(args.out / f"{path.stem}_{case}.png"), strip)
            print(args.out / f"{path.stem}_{case}.png")


if __name__ == "__main__":
    main()
