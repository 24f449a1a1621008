"""``darkroom-cli enhance``: RAW files in, finished images out, one file or a batch.

Each file goes through :func:`engine.render.enhance_file` (decode, render, atomic write), the
same path the window exports with; this module starts the first decode early, shows progress
and sums up (:mod:`engine.cli.planning` names the inputs and plans the outputs). A batch keeps
going past a bad file and exits non-zero if any failed; every error is one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli.planning import expand_inputs, plan_outputs
from engine.errors import Cancelled, DarkroomError
from engine.resources import DEFAULT_MODEL

if TYPE_CHECKING:  # imported lazily at run time: `darkroom-cli sample` must not load torch
    from engine.io import ClassicalAhead, ExportOptions
    from engine.render import Adjustments, BatchItem, Enhancer, FileOutcome

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


def err(message: str) -> None:
    """Print a one-line error as ``darkroom-cli: error: ...`` on stderr."""
    print(f"darkroom-cli: error: {message}", file=sys.stderr)


def warn(message: str) -> None:
    """Print a one-line warning as ``darkroom-cli: warning: ...`` on stderr."""
    print(f"darkroom-cli: warning: {message}", file=sys.stderr)


def add_enhance_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``enhance`` command to ``darkroom-cli``'s sub-parsers."""
    from engine.io import DEFAULT_NAME

    p = sub.add_parser("enhance", help="enhance RAW files into JPEG/TIFF/PNG/DNG")
    p.add_argument("inputs", nargs="+", help="RAW files (globs allowed)")
    p.add_argument(
        "-o", "--output",
        help="output file (one input; .jpg .jpeg .tif .tiff .png .dng) or folder (created if "
        "missing; default: each photo's own folder)",
    )  # fmt: skip
    p.add_argument(
        "--name",
        default=DEFAULT_NAME,
        help="output file name template, fields {stem} {model} {ratio} {amount} "
        f"(default: {DEFAULT_NAME}, e.g. DSC01234-darkroom.jpg beside DSC01234.ARW)",
    )
    p.add_argument("--ratio", default="auto", help="exposure ratio 1-1000 or 'auto' (default)")
    p.add_argument(
        "--amount",
        default="100",
        help="how much of the model's result, 0-100 %% "
        "(0: exactly the classical render; default 100)",
    )
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"model name, .safetensors path, or 'none' (default: {DEFAULT_MODEL})",
    )
    p.add_argument(
        "--saved-settings",
        action="store_true",
        help="render each photo with the settings the window saved for it (ratio, model, "
        "Amount, in NAME.EXT.darkroom.json); --ratio/--model/--amount for photos without",
    )
    p.add_argument("--format", help="jpeg (or jpg), tiff (or tif), png or dng (default: jpeg)")
    p.add_argument("--bits", type=int, default=8, help="8 or 16 (TIFF/PNG)")
    p.add_argument(
        "--dng",
        choices=("linear", "cfa"),
        default="linear",
        help="with --format dng: linear (demosaiced, default) or cfa (re-mosaiced on the "
        "RAW's Bayer pattern, for raw converters' own demosaic; Bayer RAWs only)",
    )
    p.add_argument("--quality", type=int, default=95, help="JPEG quality 1-100")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--tile", type=int, help="tile side in packed pixels (default: from memory)")
    p.add_argument("--precision", default="auto", help="auto, fp32, bf16 or fp16")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing outputs that Darkroom wrote; any other file (the camera's own "
        "JPEG, say) is never replaced",
    )
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process (default); ray: a Ray cluster, one model per actor "
        '(needs pip install "darkroom[cluster]"; inputs and outputs on a shared filesystem)',
    )
    p.add_argument("--address", help="with --engine ray: the cluster (default: a local one)")
    p.add_argument(
        "--actors",
        type=int,
        help="with --engine ray: model replicas (default: one per GPU, else one per 2 CPUs)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_enhance)
    return p


class _Progress:
    """A one-line progress bar on a terminal, plain lines otherwise."""

    def __init__(self, total_files: int, quiet: bool) -> None:
        self.total = total_files
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.index = 0
        self.name = ""
        self.line_open = False

    def start_file(self, index: int, name: str) -> None:
        self.index, self.name = index, name
        if not self.quiet and not self.tty and self.total > 1:
            print(f"[{index + 1}/{self.total}] {name}", file=sys.stderr, flush=True)

    def __call__(self, done: int, total: int, message: str) -> None:
        if self.quiet or not self.tty:
            return
        frac = (self.index + (done / total if total else 1.0)) / max(self.total, 1)
        bar = "#" * int(frac * 30)
        line = f"\r[{bar:<30}] {frac * 100:5.1f}%  {self.index + 1}/{self.total} {self.name}"
        print(line[:120].ljust(120), end="", file=sys.stderr, flush=True)
        self.line_open = True

    def finish(self) -> None:
        """End the bar's line, if one is open (so the next message starts on its own line)."""
        if self.line_open:
            print(file=sys.stderr)
            self.line_open = False


@dataclass
class BatchReport:
    """What a batch did: files written and failures with their one-line reasons."""

    written: int = 0
    failures: list[tuple[Path, str]] = field(default_factory=list)


def cmd_enhance(args: argparse.Namespace) -> int:
    """Plan, render and write every input; see the module docstring."""
    from engine.io import ExportOptions, parse_ratio

    ratio = parse_ratio(args.ratio)
    if args.tile is not None and args.tile < 16:
        raise DarkroomError(f"--tile must be at least 16 (packed pixels), not {args.tile}")
    if args.engine == "ray" and args.saved_settings:
        raise DarkroomError("--saved-settings works with the local engine only")
    if args.engine != "ray" and (args.address or args.actors is not None):
        raise DarkroomError("--address and --actors need --engine ray")
    inputs = expand_inputs(args.inputs)
    # Torch is not loaded yet: the first photo's classical render can be made meanwhile.
    ahead = _start_classical_ahead(inputs, ratio, args)
    from engine.render import Adjustments, Enhancer, parse_amount
    from engine.resources import library_dir

    adjustments = Adjustments(ratio, parse_amount(args.amount))
    outputs, fmt = plan_outputs(inputs, args.output, args.format, args.name, model=args.model,
                                ratio=adjustments.ratio, amount=adjustments.amount)  # fmt: skip
    options = ExportOptions(fmt=fmt, bits=args.bits, quality=args.quality,
                            overwrite=args.overwrite, dng_kind=args.dng)  # fmt: skip
    batch = len(inputs) > 1
    started = time.perf_counter()
    try:
        if args.engine == "ray":
            report, ran_on = _run_on_ray(inputs, outputs, adjustments, options, args)
        else:
            enhancer = Enhancer(args.model, device=args.device, tile=args.tile,
                                precision=args.precision, model_dirs=[library_dir()])  # fmt: skip
            ran_on = f"{enhancer.model_name} on {enhancer.device.type}"
            report = _run_batch(enhancer, inputs, outputs, adjustments, options, args, ahead)
    except (KeyboardInterrupt, Cancelled):
        err("interrupted; nothing partial was written")
        return EXIT_INTERRUPTED
    elapsed = time.perf_counter() - started
    if batch and (not args.quiet or report.failures):
        files_per_min = 60.0 * len(inputs) / max(elapsed, 1e-9)
        print(
            f"{report.written} written, {len(report.failures)} failed, {elapsed:.1f} s, "
            f"{files_per_min:.1f} files/min ({ran_on})",
            file=sys.stderr,
        )
    return EXIT_FAILED if report.failures else EXIT_OK


def _start_classical_ahead(
    inputs: list[Path], ratio: float | None, args: argparse.Namespace
) -> ClassicalAhead | None:
    """Decode a single input on a worker thread while torch loads
    (:class:`engine.io.ClassicalAhead`), and make its classical render there too where the
    model restores that render's detail, as far as its card tells (read without torch; for the
    photo's sensor, the model's version for that CFA). Not for ``--model none``: the render is
    all it does, and made beside the imports it came out no sooner. Not for a batch: its other
    files came out slower after it, about 0.3 s each (docs/performance.md). Not for Ray, nor
    with ``--saved-settings`` (a photo's own settings may name another ratio or model)."""
    from engine.io import ClassicalAhead, RawFrame
    from engine.resources import card_hint, detail_from_input, model_for_sensor

    if len(inputs) != 1 or args.engine == "ray" or args.saved_settings:
        return None

    def used(frame: RawFrame) -> bool:
        card = card_hint(model_for_sensor(args.model, frame.sensor))
        # Enhancer.restores_detail's rule; a wrong answer costs time, never a result.
        if not (card and card.get("restores_detail") and card.get("output_space") != "srgb"):
            return False
        config = card.get("config")
        below_black = isinstance(config, dict) and bool(config.get("base_below_black"))
        return not detail_from_input(frame.sensor, below_black)

    return ClassicalAhead(inputs[0], ratio, used)


def _run_batch(
    enhancer: Enhancer,
    inputs: list[Path],
    outputs: list[Path],
    adjustments: Adjustments,
    options: ExportOptions,
    args: argparse.Namespace,
    ahead: ClassicalAhead | None = None,
) -> BatchReport:
    """Enhance every input in turn (:func:`engine.render.run_batch`)."""
    from engine.jobs import CancelToken
    from engine.models import library_dir
    from engine.render import BatchItem, run_batch

    # A terminal gets a bar that moves per tile, one file or many (a 12 MP frame takes seconds);
    # a batch also gets a summary.
    progress = _Progress(len(inputs), args.quiet)
    report = BatchReport()
    items = [BatchItem(src, dst, enhancer.model_name, adjustments)
             for src, dst in zip(inputs, outputs, strict=True)]  # fmt: skip
    if args.saved_settings:
        items = [_with_saved_settings(item) for item in items]
    loaded = {enhancer.model_name: enhancer}

    def enhancer_for(name: str) -> Enhancer:
        if name not in loaded:  # a photo saved with another model than --model
            loaded[name] = Enhancer(name, device=args.device, tile=args.tile,
                                    precision=args.precision,
                                    model_dirs=[library_dir()])  # fmt: skip
        return loaded[name]

    def finished(_index: int, outcome: FileOutcome) -> None:
        if not outcome.ok or len(inputs) == 1:
            progress.finish()
        _report_outcome(outcome, report, args, progress.tty and len(inputs) > 1)

    try:
        run_batch(items, enhancer_for, options, CancelToken(),
                  on_start=lambda i, item: progress.start_file(i, item.source.name),
                  progress=progress, on_outcome=finished, debug=args.debug,
                  ahead=ahead)  # fmt: skip
    finally:
        progress.finish()
    return report


def _with_saved_settings(item: BatchItem) -> BatchItem:
    """``item`` with the ratio, model and Amount the window saved for its photo, if any."""
    from dataclasses import replace

    from engine.render import load_photo_settings
    from engine.resources import user_data_dir

    try:
        saved = load_photo_settings(item.source, user_data_dir())
    except DarkroomError as exc:
        warn(f"{item.source}: ignored its saved settings: {exc}")
        return item
    if saved is None:
        return item
    return replace(item, model=saved.model, adjustments=saved.adjustments)


def _report_outcome(
    outcome: FileOutcome,
    report: BatchReport,
    args: argparse.Namespace,
    bar_shown: bool,
    counter: str = "",
) -> None:
    """Count one finished file and print its line (its error, warnings, or where it went)."""
    if not outcome.ok:
        err(outcome.error)
        report.failures.append((outcome.source, outcome.error))
        return
    report.written += 1
    for message in outcome.warnings:
        warn(f"{outcome.source}: {message}")
    if not args.quiet and not bar_shown:
        print(f"{counter}{outcome.source.name} -> {outcome.output} "
              f"(ratio x{outcome.ratio:.1f})", file=sys.stderr)  # fmt: skip


def _run_on_ray(
    inputs: list[Path],
    outputs: list[Path],
    adjustments: Adjustments,
    options: ExportOptions,
    args: argparse.Namespace,
) -> tuple[BatchReport, str]:
    """The batch through Ray Data (:func:`engine.render.enhance_on_ray`); the same per-file
    function, outcome lines and summary as the local path."""
    from engine.models import library_dir, load_model, resolve_model
    from engine.render import CLASSICAL, RaySettings, WorkerSpec, enhance_on_ray

    model = args.model
    if args.actors is not None and args.actors < 1:
        raise DarkroomError(f"--actors must be at least 1, not {args.actors}")
    if model != CLASSICAL:  # a bad model is one line here, not an actor's traceback there
        load_model(resolve_model(model, [library_dir()]))
    if model.endswith(".safetensors"):  # the workers' working folder may not be this one
        model = str(Path(model).absolute())
    spec = WorkerSpec(model, args.device, args.tile, args.precision, (str(library_dir()),),
                      adjustments, options, threads=0)  # fmt: skip
    settings = RaySettings(address=args.address, actors=args.actors)
    report = BatchReport()

    def on_outcome(done: int, outcome: FileOutcome) -> None:
        _report_outcome(outcome, report, args, bar_shown=False, counter=f"[{done}/{len(inputs)}] ")

    enhance_on_ray(list(zip(inputs, outputs, strict=True)), spec, settings, on_outcome)
    return report, f"{model} on Ray"
