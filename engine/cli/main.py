"""``darkroom-cli``: the entry point, ``models`` and ``sample``; the other commands live in
:mod:`engine.cli.enhance`, :mod:`engine.cli.training` and :mod:`engine.cli.finetune`.

Every user error ends as one line on stderr and a non-zero exit; tracebacks appear only with
``--debug``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine.cli.enhance import add_enhance_parser, err
from engine.cli.finetune import add_finetune_parser
from engine.cli.training import add_training_parsers
from engine.errors import DarkroomError

if TYPE_CHECKING:
    from engine.models import ModelEntry

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def cmd_models(args: argparse.Namespace) -> int:
    """The bundled variants and the user's library: weights, cards, and why any is disabled."""
    from engine.models import library_dir, model_entries

    library = library_dir(args.library)
    rows = [_model_row(entry) for entry in model_entries([library])]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    print(f"{'model':<12} {'params':>9} {'weights':>10}  {'sensors':<14} card")
    bundled = True
    for row in rows:
        card = row["card"]
        weights = f"{row['weights_bytes'] / 1e6:.1f} MB" if row["weights_bytes"] else "not yet"
        summary = "-"
        if row["problem"]:
            summary = f"disabled: {row['problem']}"
        elif card:
            summary = f"{card['output_space']}, {card['iterations']} it, {card['training_data']}"
            for key in ("psnr", "ssim"):
                value = card["metrics"].get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    summary += f", {key.upper()} {value:.3f}"
        params = f"{row['parameters'] / 1e6:8.2f}M" if row["parameters"] else f"{'-':>9}"
        if bundled and row["source"] == "library":
            bundled = False
            print(f"{CLASSICAL_ROW}\nyour models ({library}):")
        sensors = _sensor_names(row["sensors"])
        print(f"{row['name']:<12} {params} {weights:>10}  {sensors:<14} {summary}")
    if bundled:
        print(CLASSICAL_ROW)
        print(f"your models ({library}): none yet (darkroom-cli finetune makes them)")
    return EXIT_OK


#: ``models``' line for the classical pipeline, which takes every supported sensor.
CLASSICAL_ROW = (
    f"{'none':<12} {'-':>9} {'-':>10}  {'Bayer, X-Trans':<14} classical pipeline (no network)"
)


def _sensor_names(sensors: list[str] | None) -> str:
    from engine.resources import SENSOR_NAMES

    return ", ".join(SENSOR_NAMES.get(s, s) for s in sensors) if sensors else "-"


def _model_row(entry: ModelEntry) -> dict[str, Any]:
    """One model's facts for ``models``; parameters counted on the meta device (no memory)."""
    from dataclasses import asdict

    import torch

    from engine.errors import ModelError
    from engine.models import count_parameters, create_model

    params, problem, sensors = None, entry.problem, None
    if entry.architecture != "unknown":
        config = entry.card.config if entry.card else {}
        try:
            with torch.device("meta"):
                network = create_model(entry.architecture, **config)
                params, sensors = count_parameters(network), list(network.sensors)
        except (ModelError, RuntimeError, OverflowError) as exc:
            problem = problem or str(exc)
    path = entry.weights_path
    return {
        "name": entry.name, "architecture": entry.architecture, "parameters": params,
        "source": "bundled" if entry.bundled else "library", "sensors": sensors,
        "weights": str(path) if path else None,
        "weights_bytes": path.stat().st_size if path else None,
        "card": asdict(entry.card) if entry.card else None, "problem": problem,
    }  # fmt: skip


def cmd_sample(args: argparse.Namespace) -> int:
    from engine.resources import sample_raw_path

    try:
        print(sample_raw_path())
    except FileNotFoundError as exc:
        raise DarkroomError(str(exc)) from None
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="darkroom-cli", description="Rescue underexposed and night RAW photos."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    add_enhance_parser(sub)
    p = sub.add_parser("models", help="list model variants, bundled weights and model cards")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--library", help="your model library (default: the per-user data folder)")
    p.set_defaults(func=cmd_models)

    add_training_parsers(sub)
    p = sub.add_parser("sample", help="print the path of the bundled sample RAW")
    p.set_defaults(func=cmd_sample)
    add_finetune_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed a one-line usage error
        return int(exc.code or 0)
    try:
        return int(args.func(args))
    except DarkroomError as exc:
        err(str(exc))
        return EXIT_USAGE if args.command == "enhance" else EXIT_FAILED
    except KeyboardInterrupt:
        err("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        err(f"internal error: {exc.__class__.__name__}: {exc}")
        return EXIT_FAILED


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
