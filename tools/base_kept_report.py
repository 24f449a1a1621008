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
from engine.models.fast_config import UNSHUFFLE
from engine.models.fast_ops import depth_to_space
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

    def record(net: FastUNet, out: torch.Tensor) -> None:
        """One strip's head output (the shuffle head's, before its depth-to-space)."""
        full = depth_to_space(out, UNSHUFFLE * net.upscale)
        seen["kept"].append(net.kept_share(full).mean().item())
        if net.filter_radius:
            taps = net.base_taps(full).float()
            centre = torch.zeros(taps.shape[1], dtype=taps.dtype)
            centre[taps.shape[1] // 2] = 1
            seen["taps"].append((taps - centre[:, None, None]).abs().mean().item())

    photos = list_photos(args.data, held_out=True)[: args.photos]
    for model in args.models:
        enhancer = Enhancer(model)
        net = enhancer.runner.model if enhancer.runner is not None else None
        if not isinstance(net, FastUNet) or not net.gate or net.head_kind != "shuffle":
            print(f"{model}: not a gated fast network with the shuffle head")
            continue
        net.head.register_forward_hook(lambda module, args, out, net=net: record(net, out))
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
