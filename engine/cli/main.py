"""``darkroom-cli``: everything the app does, headless.

Every user error ends as one line on stderr and a non-zero exit; tracebacks appear only with
``--debug``.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine.cli.finetune import add_finetune_parser
from engine.cli.training import cmd_bench, cmd_evaluate, cmd_train
from engine.errors import Cancelled, DarkroomError
from engine.jobs import CancelToken

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
IMAGE_SUFFIXES = {".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff",
                  ".png": "png", ".dng": "dng"}  # fmt: skip


def _err(message: str) -> None:
    print(f"darkroom-cli: error: {message}", file=sys.stderr)


class _Progress:
    """A one-line progress bar on a terminal, plain lines otherwise."""

    def __init__(self, total_files: int, quiet: bool) -> None:
        self.total = total_files
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.index = 0
        self.name = ""

    def start_file(self, index: int, name: str) -> None:
        self.index, self.name = index, name
        if not self.quiet and not self.tty:
            print(f"[{index + 1}/{self.total}] {name}", file=sys.stderr, flush=True)

    def __call__(self, done: int, total: int, message: str) -> None:
        if self.quiet or not self.tty:
            return
        frac = (self.index + (done / total if total else 1.0)) / max(self.total, 1)
        bar = "#" * int(frac * 30)
        line = f"\r[{bar:<30}] {frac * 100:5.1f}%  {self.index + 1}/{self.total} {self.name}"
        print(line[:120].ljust(120), end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if not self.quiet and self.tty:
            print(file=sys.stderr)


def _expand_inputs(patterns: Sequence[str]) -> list[Path]:
    paths: list[Path] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?[") and not Path(pattern).exists():
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise DarkroomError(f"{pattern}: no files match")
            paths.extend(Path(m) for m in matches)
        else:
            paths.append(Path(pattern))
    return paths


def _plan_outputs(inputs: list[Path], out: str | None, fmt: str | None) -> tuple[list[Path], str]:
    """Output path for every input, and the format."""
    from engine.io import FORMATS, output_path_for

    target = Path(out) if out else None
    if target is not None and target.suffix.lower() in IMAGE_SUFFIXES and not target.is_dir():
        if len(inputs) > 1:
            raise DarkroomError(f"-o {out}: several inputs need an output folder, not a file")
        file_fmt = IMAGE_SUFFIXES[target.suffix.lower()]
        if fmt is not None and fmt != file_fmt:
            raise DarkroomError(f"-o {out}: suffix does not match --format {fmt}")
        return [target], file_fmt
    fmt = fmt or "jpeg"
    if fmt not in FORMATS:
        raise DarkroomError(f"unknown format {fmt!r}")
    outputs = [output_path_for(p, target if target else p.parent, fmt) for p in inputs]
    seen: dict[Path, Path] = {}
    for src, dst in zip(inputs, outputs, strict=True):
        key = dst.resolve()
        if key in seen:
            raise DarkroomError(f"{src} and {seen[key]} would both be written to {dst}")
        seen[key] = src
    return outputs, fmt


def cmd_enhance(args: argparse.Namespace) -> int:
    from engine.io import read_raw, write_image
    from engine.render import Enhancer, parse_ratio

    ratio = parse_ratio(args.ratio)
    if args.bits not in (8, 16):
        raise DarkroomError(f"--bits must be 8 or 16, not {args.bits}")
    if not 1 <= args.quality <= 100:
        raise DarkroomError(f"--quality must be from 1 to 100, not {args.quality}")
    if args.tile is not None and args.tile < 16:
        raise DarkroomError(f"--tile must be at least 16 (packed pixels), not {args.tile}")
    inputs = _expand_inputs(args.inputs)
    outputs, fmt = _plan_outputs(inputs, args.output, args.format)
    if fmt == "jpeg" and args.bits == 16:
        raise DarkroomError("JPEG is 8-bit only; use --format tiff or png for 16 bits")
    from engine.models import library_dir

    enhancer = Enhancer(args.model, device=args.device, tile=args.tile, precision=args.precision,
                        model_dirs=[library_dir()])  # fmt: skip

    batch = len(inputs) > 1
    # A single file gets just its result or its one-line error; batches get a bar and a summary.
    progress = _Progress(len(inputs), args.quiet or not batch)
    cancel = CancelToken()
    failures: list[tuple[Path, str]] = []
    written = 0
    started = time.perf_counter()
    # Decode the next file while the network works on this one (LibRaw runs outside the GIL
    # for most of a decode, and the network leaves the GIL for its convolutions).
    prefetch = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode")
    pending = prefetch.submit(read_raw, inputs[0]) if inputs else None
    try:
        for i, (src, dst) in enumerate(zip(inputs, outputs, strict=True)):
            progress.start_file(i, src.name)
            current, pending = (
                pending,
                (prefetch.submit(read_raw, inputs[i + 1]) if i + 1 < len(inputs) else None),
            )
            try:
                if dst.exists() and not args.overwrite:
                    raise DarkroomError(f"{dst}: already exists (use --overwrite)")
                if src.exists() and dst.resolve() == src.resolve():
                    raise DarkroomError(f"{dst}: output would overwrite the input")
                assert current is not None
                frame = current.result()
                result = enhancer.render(frame, ratio, progress, cancel)
                write_image(
                    dst, result.srgb, fmt=fmt, bits=args.bits, quality=args.quality,
                    exif=frame.exif, linear=result.linear if fmt == "dng" else None,
                    xyz_to_cam=result.xyz_to_cam, wb_gains=result.wb_gains,
                    overwrite=args.overwrite, source_path=src,
                )  # fmt: skip
                written += 1
                if not args.quiet and (not progress.tty or not batch):
                    print(f"{src.name} -> {dst} (ratio x{result.ratio:.1f})", file=sys.stderr)
            except DarkroomError as exc:
                progress.finish()
                _err(str(exc))
                failures.append((src, str(exc)))
            except Cancelled:
                raise
            except Exception as exc:
                if args.debug:
                    raise
                progress.finish()
                _err(f"{src}: internal error: {exc.__class__.__name__}: {exc}")
                failures.append((src, str(exc)))
    except (KeyboardInterrupt, Cancelled):
        progress.finish()
        _err("interrupted; nothing partial was written")
        return EXIT_INTERRUPTED
    finally:
        prefetch.shutdown(wait=True, cancel_futures=True)
    progress.finish()
    elapsed = time.perf_counter() - started
    if batch and (not args.quiet or failures):
        print(
            f"{written} written, {len(failures)} failed, {elapsed:.1f} s "
            f"({enhancer.model_name} on {enhancer.device.type})",
            file=sys.stderr,
        )
    return EXIT_FAILED if failures else EXIT_OK


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
                if key in card["metrics"]:
                    summary += f", {key.upper()} {card['metrics'][key]:.3f}"
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

    p = sub.add_parser("enhance", help="enhance RAW files into JPEG/TIFF/PNG/DNG")
    p.add_argument("inputs", nargs="+", help="RAW files (globs allowed)")
    p.add_argument("-o", "--output", help="output file (one input) or folder (created if missing)")
    p.add_argument("--ratio", default="auto", help="exposure ratio 1-1000 or 'auto' (default)")
    p.add_argument("--model", default="baseline", help="model name, .safetensors path, or 'none'")
    p.add_argument("--format", choices=("jpeg", "tiff", "png", "dng"), help="default: jpeg")
    p.add_argument("--bits", type=int, default=8, help="8 or 16 (TIFF/PNG)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality 1-100")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--tile", type=int, help="tile side in packed pixels (default: from memory)")
    p.add_argument("--precision", default="auto", help="auto, fp32, bf16 or fp16")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_enhance)

    p = sub.add_parser("models", help="list model variants, bundled weights and model cards")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("train", help="train a model variant")
    p.add_argument("--variant", required=True, help="baseline, attention, gan, uunet or deep")
    p.add_argument("--data", required=True, help="clean-photo folder, SID-style folder or CSV")
    p.add_argument("--iterations", type=int, required=True)
    p.add_argument("--out", required=True, help="output .safetensors (model card beside it)")
    p.add_argument("--config", help="model hyperparameters as JSON, e.g. '{\"levels\": 5}'")
    p.add_argument("--disc-config", help="gan: discriminator hyperparameters as JSON")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--crop", type=int, default=512, help="crop side in sensor pixels")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument(
        "--loss",
        choices=("srgb", "linear"),
        default="srgb",
        help="L1 on the developed sRGB image (default) or on linear camera RGB",
    )
    p.add_argument(
        "--precision",
        default="auto",
        help="auto (bf16 on CUDA and AMX CPUs, else fp32), fp32, bf16 or fp16",
    )
    p.add_argument("--epoch-iterations", type=int, default=0, help="steps per StepLR epoch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--init", help="warm-start from these weights (matching tensors)")
    p.add_argument("--base", help="uunet: the frozen first U-Net's weights")
    p.add_argument("--checkpoint", help="checkpoint path (default: OUT with .ckpt); resumes")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--print-every", type=float, default=30.0, help="seconds between reports")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="PSNR/SSIM table (like SID's Table 1) and contact sheet")
    p.add_argument("--data", required=True, help="clean-photo folder (held-out split), or pairs")
    p.add_argument("--models", default="all", help="'all' (with weights), 'none' or a,b,c")
    p.add_argument("--out", default="evaluation", help="folder for table.md, results.json, PNG")
    p.add_argument("--ratios", default="100,250,300", help="for synthetic pairs")
    p.add_argument("--max-photos", type=int, help="use at most this many held-out photos")
    p.add_argument("--max-side", type=int, default=512, help="centre-crop photos (0: full)")
    p.add_argument("--device", default="auto")
    p.add_argument("--update-cards", action="store_true", help="write each model's row to its card")
    p.add_argument("--precision", default="auto", help="network precision: auto, fp32, bf16")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("bench", help="time every variant on a 12 MP frame")
    p.add_argument("input", nargs="?", help="a RAW file (default: a generated 12 MP DNG)")
    p.add_argument("--variants", help="comma-separated (default: all and 'none')")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", help="auto, fp32, bf16 or fp16")
    p.add_argument("--tile", type=int)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)

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
        _err(str(exc))
        return EXIT_USAGE if args.command == "enhance" else EXIT_FAILED
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        _err(f"internal error: {exc.__class__.__name__}: {exc}")
        return EXIT_FAILED


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
