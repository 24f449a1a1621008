"""Warm-start weights for ``fast`` with the overlapping head from trained shuffle-head weights.

    python tools/fast_overlap_init.py IN.safetensors OUT.safetensors
    darkroom-cli train --variant fast --config '{"head": "overlap"}' --init OUT.safetensors ...

The output computes exactly what the input does (:meth:`engine.models.fast.FastUNet.
overlap_state`: the outer taps start at zero); training then learns to blend neighbouring
4x4 blocks.
"""

import sys
from pathlib import Path

import torch

from engine.models import ModelCard, create_model, load_model, save_model

source, target = Path(sys.argv[1]), Path(sys.argv[2])
shuffle, card = load_model(source)
overlap = create_model("fast", **(shuffle.config | {"head": "overlap"}))
overlap.load_state_dict(shuffle.overlap_state())
x = torch.rand(1, shuffle.in_channels, 40, 56)
with torch.no_grad():
    diff = (shuffle.eval()(x) - overlap.eval()(x)).abs().max().item()
note = f"overlapping head from {source.name} (max difference at start {diff:.1e})"
save_model(overlap, ModelCard(name=target.stem, architecture="fast", config=overlap.config,
                              iterations=card.iterations, notes=note), target)  # fmt: skip
print(f"wrote {target}: {note}")
