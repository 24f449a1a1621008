"""Look at the models on real RAW files from cameras they were not modelled on.

    python tools/real_raw_check.py ../shared/data/real-raw OUT_DIR [--models fast,baseline]
        [--ratios 1,10,100] [--crop 1024]

For every RAW file, a centre crop: as it is (x1), and darkened by each other ratio in the raw
domain with the project's noise model (engine.finetune.noise_fit.darken_frame, Sony A7S2
calibration) and enhanced at that ratio. Writes one PNG strip per file and case (classical
pipeline | each model | for darkened cases the clean original) and prints, for x1, what
issue 19 asks of a model on a photo that needs no rescue:

* **texture**: the output's fine-detail energy over the classical render's
  (:func:`engine.evaluate.metrics.high_pass`, Gaussian sigma 1 px) in the textured regions:
  the 30 % of the picture where the classical render's local detail energy (31 px box) is
  highest. Below 1 the model smoothed texture away; the target is at least 0.8.
* **colour**: the largest difference of a channel's mean between output and classical render,
  in 8-bit levels (target: within 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from engine.evaluate.metrics import high_pass
from engine.finetune import darken_frame
from engine.io import RAW_EXTENSIONS, read_raw
from engine.noise import get_profile
from engine.render import Enhancer

TEXTURE_SHARE = 0.3
TEXTURE_WINDOW = 31


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)[..., ::-1].copy()
    cv2.putText(out, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    return out


def texture_ratio(output: np.ndarray, classical: np.ndarray) -> float:
    """Fine-detail energy of ``output`` over ``classical``'s in the classical render's most
    textured :data:`TEXTURE_SHARE` of pixels (both ``(H, W, 3)`` sRGB in [0, 1])."""
    hp_ref, hp_out = high_pass(classical), high_pass(output)
    local = cv2.blur(hp_ref * hp_ref, (TEXTURE_WINDOW, TEXTURE_WINDOW))
    mask = local >= np.quantile(local, 1.0 - TEXTURE_SHARE)
    return float(np.sum(hp_out[mask] ** 2) / np.sum(hp_ref[mask] ** 2))


def colour_shift(output: np.ndarray, classical: np.ndarray) -> float:
    """Largest per-channel difference of the means, in 8-bit levels."""
    means = [img.reshape(-1, 3).mean(axis=0) * 255 for img in (output, classical)]
    return float(np.max(np.abs(means[0] - means[1])))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--models", default="fast")
    parser.add_argument("--crop", type=int, default=1024)
    parser.add_argument("--ratios", default="1,10,100")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    ratios = [float(r) for r in args.ratios.split(",")]
    enhancers = {"classical": Enhancer("none", device="cpu")}
    for name in args.models.split(","):
        enhancers[name] = Enhancer(name, device="cpu")
    print("| file | model | x1 texture (output / classical) | x1 colour shift (levels) |")
    print("|---|---|---:|---:|")
    for path in sorted(args.folder.iterdir()):
        if path.suffix.lower() not in RAW_EXTENSIONS:
            continue
        frame = read_raw(path)
        c = min(args.crop, frame.height, frame.width) // 2 * 2
        frame = frame.crop((frame.height - c) // 2 // 2 * 2, (frame.width - c) // 2 // 2 * 2, c, c)
        for ratio in ratios:
            src = frame
            if ratio != 1.0:
                rng = np.random.default_rng(0)
                src = darken_frame(frame, ratio, get_profile("SonyA7S2"), rng)
            shown = {n: e.render(src, ratio).srgb for n, e in enhancers.items()}
            if ratio == 1.0:
                for name, image in shown.items():
                    if name != "classical":
                        tex = texture_ratio(image, shown["classical"])
                        shift = colour_shift(image, shown["classical"])
                        print(f"| {path.name} | {name} | {tex:.2f} | {shift:.1f} |")
            tiles = [label(img, f"{n} x{ratio:g}") for n, img in shown.items()]
            if ratio != 1.0:
                tiles.append(label(enhancers["classical"].render(frame, 1.0).srgb, "original"))
            name = args.out / f"{path.stem}_x{ratio:g}.png"
            cv2.imwrite(str(name), np.concatenate(tiles, axis=1))


if __name__ == "__main__":
    main()
