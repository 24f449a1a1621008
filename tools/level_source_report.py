"""Does the noise level the app finds limit the default model? Held-out synthetic pairs
rendered by a noise-aware model three ways: with the level the app finds for the frame (as
``darkroom-cli enhance`` and ``evaluate`` do), with the pair's true level, and with the found
level's sigma halved (docs/noise.md).

    python tools/level_source_report.py [--model fast] [--photos 20] [--ratios 1,4,16,100]

Prints, per ratio: the found / true sigma at each frame's median raw signal (median and
range over the photos), and each way's mean PSNR (sRGB, data range 1, against the clean
photo developed without a mosaic) and fine-detail energy over the reference's.
"""

from __future__ import annotations

import argparse

import numpy as np

from engine.evaluate.metrics import hf_energy_ratio, psnr
from engine.render import Enhancer, develop_numpy
from engine.train import held_out_pairs, list_photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fast")
    parser.add_argument("--data", default="../shared/data/clean-photos")
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--ratios", default="1,4,16,100")
    args = parser.parse_args()
    photos = list_photos(args.data, held_out=True)[: args.photos]
    enhancer = Enhancer(args.model)
    if not enhancer.takes_noise:
        parser.error(f"{args.model} takes no noise level")
    for ratio in (float(r) for r in args.ratios.split(",")):
        rows: dict[str, list[tuple[float, float]]] = {}
        sigma_ratios = []
        for pair in held_out_pairs(photos, [ratio]):
            reference = develop_numpy(pair.target, pair.dark)
            found = enhancer.noise_level(pair.dark)
            frame = pair.dark
            black = frame.black_map()
            signal = float(np.median((frame.mosaic - black) / (frame.white_level - black)))
            signal = max(signal, 1e-4)
            sigma_ratios.append(float(found.sigma(signal, 1.0) / pair.noise.sigma(signal, 1.0)))
            halved = found.scaled(0.5)
            for label, level in (("found", found), ("true", pair.noise), ("found/2", halved)):
                enhancer.noise_level = lambda _frame, level=level: level  # type: ignore[method-assign]
                out = enhancer.render(pair.dark, pair.ratio).srgb
                scores = (psnr(out, reference), hf_energy_ratio(out, reference))
                rows.setdefault(label, []).append(scores)
            del enhancer.noise_level  # the class's own method again
        s = np.array(sigma_ratios)
        print(f"x{ratio:g}: found/true sigma {np.median(s):.2f} ({s.min():.2f}-{s.max():.2f})")
        for label, values in rows.items():
            a = np.array(values)
            print(f"  {label:8s} PSNR {a[:, 0].mean():.2f}  HF {a[:, 1].mean():.2f}", flush=True)


if __name__ == "__main__":
    main()
