"""``darkroom-cli finetune``: fit a model to your own camera from a few tripod pairs.

Kept apart from :mod:`engine.cli.main`; :func:`add_finetune_parser` registers the command on its
sub-parsers and :func:`cmd_finetune` runs it, returning an exit code and raising
:class:`~engine.errors.DarkroomError` for anything the user can fix.

The pairing summary and progress go to stderr; the before/after validation PSNR and the saved
model's path go to stdout. The pair set must be clean (every file paired, every pair valid)
unless ``--skip-invalid`` is given. Ctrl-C stops after the current step with a checkpoint;
the same command resumes.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from engine.errors import Cancelled
from engine.resources import DEFAULT_MODEL

if TYPE_CHECKING:
    from engine.finetune import FinetuneProgress
    from engine.jobs import CancelToken

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


def add_finetune_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``finetune`` command to ``darkroom-cli``'s sub-parsers."""
    # From the foundation, not engine.finetune: building the parser must not load torch.
    from engine.resources import (
        DEFAULT_ITERATIONS,
        DEFAULT_LR,
        DEFAULT_PATCH,
        DEFAULT_PATIENCE,
        MAX_GAP_S,
        NOISE_LEVEL_CHOICES,
    )

    p = sub.add_parser(
        "finetune",
        help="fine-tune a model on your own short/long tripod pairs",
        description="Fine-tune a model on short/long pairs shot with your own camera and save "
        "it in your model library.",
    )
    p.add_argument(
        "--base",
        default=DEFAULT_MODEL,
        help=f"variant, library model or .safetensors (default: {DEFAULT_MODEL})",
    )
    p.add_argument(
        "--pairs", required=True, help="folder of RAW files (paired automatically), a folder "
        "with short/ and long/, or a CSV list short,long[,ratio]",
    )  # fmt: skip
    p.add_argument("--name", required=True, help="name of the new model in the library")
    p.add_argument(
        "--iterations",
        type=int,
        default=DEFAULT_ITERATIONS,
        help="training steps; 0: the base model with your camera's fitted noise "
        "profile, no training (noise-aware base models)",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=DEFAULT_PATIENCE,
        help="stop after this many validations without a better score (0: never); "
        "the best-scoring weights are saved",
    )
    p.add_argument(
        "--noise-level", choices=NOISE_LEVEL_CHOICES, default="auto",
        help="where the new model takes the noise level from: auto (the better of the two "
        "for the base model on your training pairs), fitted (your camera's fitted profile) or "
        "frame (as for any model: a shipped profile of your camera, else measured on each "
        "photo)",
    )  # fmt: skip
    p.add_argument("--lr", type=float, default=DEFAULT_LR, help="learning rate (default 5e-5)")
    p.add_argument("--patch", type=int, default=DEFAULT_PATCH, help="crop side, sensor pixels")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--validation", type=int, help="pairs held out (default: 1 with >= 3 pairs)")
    p.add_argument("--validate-every", type=int, default=0, help="steps (default: 1/5 of run)")
    p.add_argument("--dark-frames", help="folder of lens-cap shots for the noise fit")
    p.add_argument("--no-synthetic", action="store_true", help="real pairs only")
    p.add_argument("--library", help="model library folder (default: per-user data folder)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-gap", type=float, default=MAX_GAP_S, help="seconds within a scene")
    p.add_argument("--skip-invalid", action="store_true", help="use the valid pairs, ignore "
                   "unpaired, unreadable and invalid files")  # fmt: skip
    p.add_argument("--restart", action="store_true", help="discard an interrupted run's state")
    p.add_argument("--overwrite", action="store_true", help="replace a model of that name")
    p.add_argument("--print-every", type=float, default=10.0, help="seconds between reports")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_finetune)
    return p


def _minutes(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds / 60:.1f} min"


def cmd_finetune(args: argparse.Namespace) -> int:
    """Pair, check, fine-tune and save; under torchrun every rank trains, rank 0 alone prints
    (and writes: :func:`engine.finetune.finetune`)."""
    from engine import distributed

    with distributed.process_group(args.device) as group:
        if not group.is_main:
            args.quiet = True
        return _pair_and_finetune(args, group.is_main)


def _pair_and_finetune(args: argparse.Namespace, main_rank: bool) -> int:
    from engine.finetune import FinetuneRequest, FinetuneSettings, collect_pairs, finetune
    from engine.models import check_name

    settings = FinetuneSettings(
        iterations=args.iterations, lr=args.lr, patch=args.patch, batch_size=args.batch,
        validation_pairs=args.validation, validate_every=args.validate_every,
        synthetic=not args.no_synthetic, seed=args.seed, patience=args.patience,
        noise_level=args.noise_level,
    )  # fmt: skip
    check_name(args.name)  # before minutes of pairing
    err = sys.stderr
    report = collect_pairs(args.pairs, max_gap_s=args.max_gap)
    if not args.quiet:
        for line in report.summary_lines():
            print(line, file=err)
    if not (args.skip_invalid and report.valid_pairs):
        report.raise_for_problems()
    request = FinetuneRequest(
        base=args.base, pairs=report.valid_pairs, name=args.name, settings=settings,
        dark_frames=args.dark_frames, library=args.library, device=args.device,
        resume=not args.restart, overwrite=args.overwrite,
    )  # fmt: skip
    try:
        with _ctrl_c_cancels() as cancel:
            printer = _printer(args) if main_rank else None
            result = finetune(request, progress=printer, cancel=cancel)
    except Cancelled:
        print(
            "darkroom-cli: interrupted; a checkpoint was kept, run the same command to resume",
            file=err,
        )
        return EXIT_INTERRUPTED
    if not main_rank:
        return EXIT_OK
    warned = {suspect.describe() for suspect in result.suspects}  # printed when found
    for note in result.notes:
        if note not in warned:
            print(f"note: {note}", file=err)
    print(f"validation ({result.validation}): PSNR before {result.psnr_before:.2f} dB, "
          f"after {result.psnr_after:.2f} dB (gain only {result.psnr_gain:.2f} dB)")  # fmt: skip
    print(f"saved {result.name} to {result.weights_path} ({result.iterations} iterations, "
          f"{_minutes(result.elapsed_s)})")  # fmt: skip
    print(f"use it with: darkroom-cli enhance --model {result.weights_path} ...", file=err)
    return EXIT_OK


def _printer(args: argparse.Namespace) -> Callable[[FinetuneProgress], None]:
    """A progress callback printing phase messages and, every ``--print-every`` seconds, the
    training step (nothing with ``--quiet``)."""
    err, last, warned = sys.stderr, [0.0], set()

    def progress(p: FinetuneProgress) -> None:
        for suspect in p.suspects:  # as soon as they are known: the user may cancel and fix
            if suspect not in warned:
                warned.add(suspect)
                print(f"darkroom-cli: warning: {suspect.describe()}", file=err, flush=True)
        if args.quiet:
            return
        now = time.perf_counter()
        if p.phase != "training":
            if p.message:
                print(p.message, file=err, flush=True)
        elif now - last[0] >= args.print_every or p.iteration == p.iterations:
            last[0] = now
            val = "" if p.psnr_now is None else f"  val PSNR {p.psnr_now:.2f} dB"
            print(
                f"it {p.iteration}/{p.iterations}  L1 {p.loss:.4f}  lr {p.lr:.2e}{val}  "
                f"{_minutes(p.elapsed_s)}, ETA {_minutes(p.eta_s)}",
                file=err, flush=True,
            )  # fmt: skip

    return progress


@contextmanager
def _ctrl_c_cancels() -> Iterator[CancelToken]:
    """A cancel token the first Ctrl-C sets (the run stops after its step, with a
    checkpoint); a second Ctrl-C aborts at once. Only the main thread can own SIGINT."""
    from engine.jobs import CancelToken

    cancel = CancelToken()
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return

    def on_interrupt(signum: int, frame: object) -> None:
        cancel.cancel()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, previous)
