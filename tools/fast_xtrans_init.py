"""Warm-start weights for the X-Trans ``fast`` network from trained Bayer ``fast`` weights.

    python tools/fast_xtrans_init.py IN.safetensors OUT.safetensors
    darkroom-cli train --variant fast --config '{"sensor": "x-trans"}' --init OUT.safetensors ...

Everything but the colour planes' 1x1 taps is carried over
(:meth:`engine.models.fast.FastUNet.xtrans_state`; those start at zero), so the X-Trans
network starts as the Bayer one looking at samples by position next to LibRaw's X-Trans
demosaic, and training teaches it which colour each sample is.
"""

import sys
from pathlib import Path

from engine.models import ModelCard, create_model, load_model, save_model

source, target = Path(sys.argv[1]), Path(sys.argv[2])
bayer, card = load_model(source)
xtrans = create_model("fast", **(bayer.config | {"sensor": "x-trans"}))
xtrans.load_state_dict(bayer.xtrans_state(), strict=True)
note = f"X-Trans warm start from {source.name} ({card.iterations} Bayer iterations)"
save_model(xtrans, ModelCard(name=target.stem, architecture="fast", config=xtrans.config,
                             iterations=0, notes=note), target)  # fmt: skip
print(f"wrote {target}: {note}")
