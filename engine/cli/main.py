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

from engine.cli.enhance import add_enhance_parser, err
from engine.cli.finetune import add_finetune_parser
from engine.cli.training import add_training_parsers
from engine.errors import DarkroomError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def cmd_models(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from engine.models import count_parameters, create_model, model_entries

    rows = []
    for entry in model_entries():
        params = count_parameters(
            create_model(entry.architecture, **(entry.card.config if entry.card else {}))
        )
        size = entry.weights_path.stat().st_size if entry.weights_path else None
        rows.append({
            "name": entry.name, "architecture": entry.architecture, "parameters": params,
            "weights": str(entry.weights_path) if entry.weights_path else None,
            "weights_bytes": size, "card": asdict(entry.card) if entry.card else None,
        })  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    print(f"{'model':<12} {'params':>9} {'weights':>10}  card")
    for row in rows:
        card = row["card"]
        weights = f"{row['weights_bytes'] / 1e6:.1f} MB" if row["weights_bytes"] else "not yet"
        summary = "-"
        if card:
            summary = f"{card['output_space']}, {card['iterations']} it, {card['training_data']}"
            for key in ("psnr", "ssim"):
                value = card["metrics"].get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    summary += f", {key.upper()} {value:.3f}"
        print(f"{row['name']:<12} {row['parameters'] / 1e6:8.2f}M {weights:>10}  {summary}")
    print("none         classical pipeline (no network)")
    return EXIT_OK


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
