"""How a gated ``fast`` network uses its demosaic base, per exposure ratio.

    python tools/base_kept_report.py [MODEL ...] [--data ../shared/data/clean-photos]

For held-out synthetic pairs (8 photos, centre 256 px, the evaluation's noise): the mean
share of the base the gate keeps (``sigmoid(-g)``: 1 keeps the demosaic, 0 replaces it with
the residual painted from one feature vector per 4x4 block), and, for a network with a base
filter, how far its taps are from the centre alone (mean absolute difference over the taps
of every pixel; 0 means the filter is not used). MODEL: names or ``.safetensors`` paths
(default: ``fast``).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from engine.models.fast import FastUNet
from engine.render import Enhancer
from engine.train.synthesis import held_out_pairs, list_photos

RATIOS = (1, 4, 16, 100, 300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["fast"])
    parser.add_argument("--data", default="../shared/data/clean-photos")
    parser.add_argument("--photos", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    seen: dict[str, list[float]] = {"kept": [], "taps": []}
    kept, taps = FastUNet._kept, FastUNet._taps

    def recording_kept(self: FastUNet, out: torch.Tensor) -> torch.Tensor:
        share = kept(self, out)
        seen["kept"].append(share.mean().item())
        return share

    def recording_taps(self: FastUNet, out: torch.Tensor) -> torch.Tensor:
        values = taps(self, out)
        centre = torch.zeros(values.shape[1], dtype=values.dtype)
        centre[values.shape[1] // 2] = 1
        seen["taps"].append((values - centre[:, None, None]).abs().mean().item())
        return values

    FastUNet._kept, FastUNet._taps = recording_kept, recording_taps  # type: ignore[method-assign]
    photos = list_photos(args.data, held_out=True)[: args.photos]
    for model in args.models:
        enhancer = Enhancer(model)
        print(f"{model}:")
        for ratio in RATIOS:
            per_pair: dict[str, list[float]] = {"kept": [], "taps": []}
            for pair in held_out_pairs(photos, [ratio], max_side=256):
                for values in seen.values():
                    values.clear()
                enhancer.render(pair.dark, pair.ratio)
                for key, values in seen.items():
                    if values:
                        per_pair[key].append(float(np.mean(values)))
            line = f"  x{ratio}: base kept {np.mean(per_pair['kept']):.3f} "
            line += f"(photos {np.min(per_pair['kept']):.2f}-{np.max(per_pair['kept']):.2f})"
            if per_pair["taps"]:
                line += f", taps from the centre alone {np.mean(per_pair['taps']):.4f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
