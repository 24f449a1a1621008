"""Average the network weights of training checkpoints (stochastic weight averaging).

    python tools/average_checkpoints.py OUT.safetensors CKPT [CKPT ...] [--card FROM.safetensors]

The checkpoints must come from one run (the same variant and config), e.g. copies of
``darkroom-cli train``'s checkpoint taken every ``--checkpoint-every`` iterations along a leg at
a constant learning rate. Writes the mean weights with a model card: ``--card`` copies another
model's card (name, training record; its metrics cleared, to be measured again with
``darkroom-cli evaluate --update-cards``) and appends what was averaged; otherwise a minimal
card.
The fourth leg of the shipped ``fast`` is the mean of 9 checkpoints, iterations 2,000-4,000
(its card's notes).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from engine.models import ModelCard, create_model, read_card, save_model
from engine.train import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--card", type=Path, help="take the card of these weights")
    args = parser.parse_args()
    states = [load_checkpoint(path) for path in args.checkpoints]
    config = states[0]["config"]
    if any(s["config"]["variant"] != config["variant"] or
           s["config"]["model_config"] != config["model_config"] for s in states):  # fmt: skip
        parser.error("the checkpoints come from different networks")
    keys = states[0]["model"].keys()
    mean = {k: sum(s["model"][k].double() for s in states) / len(states) for k in keys}
    net = create_model(config["variant"], **config["model_config"])
    net.load_state_dict({k: v.to(states[0]["model"][k].dtype) for k, v in mean.items()},
                        strict=True)  # fmt: skip
    iterations = sorted(int(s["iteration"]) for s in states)
    what = f"mean of {len(states)} checkpoints at iterations {', '.join(map(str, iterations))}"
    if args.card:
        card = read_card(args.card)
        card = dataclasses.replace(card, config=net.config, metrics={},
                                   notes=f"{card.notes} Weights: the {what}.")  # fmt: skip
    else:
        card = ModelCard(name=args.out.stem, architecture=config["variant"], config=net.config,
                         iterations=iterations[-1], notes=what.capitalize() + ".")  # fmt: skip
    save_model(net, card, args.out)
    print(f"wrote {args.out} ({what})")


if __name__ == "__main__":
    main()
