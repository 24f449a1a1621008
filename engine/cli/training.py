"""``darkroom-cli train``, ``evaluate`` and ``bench``: the model-building commands.

Kept apart from :mod:`engine.cli.main` (parser and the everyday commands); each function takes the
parsed arguments and returns an exit code, raising :class:`~engine.errors.DarkroomError` for
anything the user can fix.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import DarkroomError
from engine.resources import SENSOR_NAMES, SENSORS

if TYPE_CHECKING:
    from engine.models import Finishing, ModelCard
    from engine.train import TrainConfig, TrainingPair, TrainResult

EXIT_OK, EXIT_FAILED = 0, 1


def _ratio_range(text: str | None) -> tuple[float, float] | None:
    """``--ratios LO:HI`` as numbers (checked), or ``None``."""
    if not text:
        return None
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise DarkroomError(f"--ratios {text!r}: give LO:HI, e.g. 1:300") from None
    if not (1.0 <= lo <= hi <= 10000.0):
        raise DarkroomError(f"--ratios {text!r}: need 1 <= LO <= HI <= 10000")
    return lo, hi


def _pair_source(
    data: str, crop: int, args: argparse.Namespace | None = None, sensor: str = "bayer"
):
    """A training source for ``--data``: real pairs (CSV / SID folder) or clean photos, made
    into ``sensor`` (``"bayer"``, ``"x-trans"``) pairs."""
    path = Path(data)
    if not path.exists():
        raise DarkroomError(f"{data}: no such file or folder")
    from engine.train import is_pair_source

    if is_pair_source(path):
        from engine.io import read_raw
        from engine.train import RealPairSource, load_pairs

        specs = load_pairs(path)
        if specs and (theirs := read_raw(specs[0].short).sensor) != sensor:
            raise DarkroomError(
                f"{path.name}: {SENSOR_NAMES[theirs]} pairs, and this network takes "
                f"{SENSOR_NAMES[sensor]} photos (its config's sensor)"
            )
        return RealPairSource(specs, crop=crop), f"real pairs from {path.name}"
    from engine.train import SyntheticPairSource, list_photos

    photos = list_photos(path, held_out=False)
    if not photos:
        raise DarkroomError(f"{data}: no photos (PNG/JPEG/TIFF) or short/ + long/ pairs found")
    ratios = _ratio_range(getattr(args, "ratios", None))
    clean = float(getattr(args, "clean_fraction", 0.0) or 0.0)
    if not 0.0 <= clean < 1.0:
        raise DarkroomError("--clean-fraction must be in [0, 1)")
    source = SyntheticPairSource(photos, crop=crop, ratio_range=ratios, clean_fraction=clean,
                                 sensor=sensor)  # fmt: skip
    recipe = ", X-Trans" if sensor == "x-trans" else ""
    if ratios is not None:
        recipe += f", ratios x{ratios[0]:g}-x{ratios[1]:g} log-uniform"
    if clean:
        recipe += f", {clean:.0%} near-clean (x1, lowest gain)"
    return source, (f"{len(photos)} clean photos from {path.name} (train split), "
                    f"unprocessed{recipe}")  # fmt: skip


def cmd_train(args: argparse.Namespace) -> int:
    """Train a variant; under torchrun every rank trains and rank 0 alone writes and prints."""
    from engine import distributed

    with distributed.process_group(args.device) as group:
        return _train_and_save(args, group.is_main)


def _train_and_save(args: argparse.Namespace, main_rank: bool) -> int:
    from engine.models import save_model
    from engine.train import TrainProgress, train

    config = _train_config(args)  # every rank checks, so all stop alike on a bad --out
    out = Path(args.out)
    sensor = str(config.model_config.get("sensor", "bayer"))  # an X-Trans network's pairs
    source, data_desc = _pair_source(args.data, args.crop, args, sensor)
    last_print = [0.0]

    def report(p: TrainProgress) -> None:
        now = time.perf_counter()
        if not main_rank:
            return
        if now - last_print[0] >= args.print_every or p.iteration == p.iterations:
            last_print[0] = now
            print(f"it {p.iteration}/{p.iterations}  L1 {p.loss:.4f}  lr {p.lr:.2e}  "
                  f"{p.elapsed_s / 60:.1f} min, ETA {p.eta_s / 60:.1f} min",
                  file=sys.stderr, flush=True)  # fmt: skip

    result = train(config, source, progress=report)
    if not main_rank:
        return EXIT_OK
    save_model(result.model, _training_card(args, config, result, data_desc), out)
    print(f"wrote {out} ({result.iterations} iterations, {result.elapsed_s / 60:.1f} min, "
          f"final L1 {np.mean(result.losses[-50:]):.4f})", file=sys.stderr)  # fmt: skip
    return EXIT_OK


def _train_config(args: argparse.Namespace) -> TrainConfig:
    """The run's :class:`~engine.train.TrainConfig` from ``train``'s arguments (checked)."""
    from engine.train import TrainConfig

    if args.iterations < 1:
        raise DarkroomError("--iterations must be at least 1")
    out = Path(args.out)
    if out.suffix.lower() != ".safetensors":
        raise DarkroomError(f"--out {out}: must end in .safetensors")
    if out.exists() and not args.overwrite:
        raise DarkroomError(f"{out}: already exists (use --overwrite)")
    try:
        model_config = json.loads(args.config) if args.config else {}
        disc_config = json.loads(args.disc_config) if args.disc_config else {}
    except json.JSONDecodeError as exc:
        raise DarkroomError(f"--config/--disc-config is not valid JSON: {exc.msg}") from None
    return TrainConfig(
        variant=args.variant, model_config=model_config, iterations=args.iterations,
        batch_size=args.batch, lr=args.lr, seed=args.seed, device=args.device,
        checkpoint_path=str(args.checkpoint or out.with_suffix(".ckpt")),
        checkpoint_every=args.checkpoint_every, init_weights=args.init,
        base_weights=args.base, epoch_iterations=args.epoch_iterations, disc_config=disc_config,
        loss_space=args.loss, precision=args.precision, loss_weighting=args.loss_weighting,
    )  # fmt: skip


def _training_card(
    args: argparse.Namespace, config: TrainConfig, result: TrainResult, data_desc: str
) -> ModelCard:
    """The model card of a finished ``train`` run: data, schedule, hardware and time."""
    from engine.models import ModelCard
    from engine.noise import PROFILES

    notes = [
        f"Adam lr {args.lr:g}, StepLR(10, 0.8) per {config.epoch_iterations or 'epoch'}, "
        f"L1 on {'developed sRGB' if args.loss == 'srgb' else 'linear camera RGB'}"
        + (", each crop's log L1 (relative error) averaged" if args.loss_weighting == "log" else "")
        + ", "
        f"crop {args.crop}, batch {args.batch}, seed {args.seed}, {result.precision}"
        + (" autocast" if result.precision != "fp32" else ""),
        *result.notes,
        *([result.parallel] if result.parallel else []),
    ]
    if args.init:
        notes.append(f"warm start from {Path(args.init).name} ({result.warm_started} tensors)")
    finishing = _init_finishing(args.init)
    return ModelCard(
        name=Path(args.out).stem, architecture=args.variant, config=result.model.config,
        output_space="linear_camera", training_data=data_desc,
        noise_profile="ELD physics-based model, published calibrations: " + ", ".join(PROFILES),
        iterations=result.iterations, hardware=result.hardware,
        training_time_s=round(result.elapsed_s, 1),
        licence="weights: MIT; trained on research benchmark photos (Urban100, Sun-Hays80, "
        "BSD68, Set14), see their licences",
        notes="; ".join(notes),
        base_model=Path(args.base or args.init).stem if (args.base or args.init) else None,
        restores_detail=finishing.restores_detail,
        smooths_chroma=finishing.smooths_chroma,
    )  # fmt: skip


def _init_finishing(init: str | None) -> Finishing:
    """The steps after the network the warm start's card asks for: a model trained on from
    ``fast`` renders as ``fast`` does (none without a warm start or a readable card beside
    it)."""
    from engine.errors import ModelError
    from engine.models import NO_FINISHING, read_card

    if not init:
        return NO_FINISHING
    try:
        return read_card(Path(init)).finishing
    except ModelError:
        return NO_FINISHING


def _evaluation_pairs(
    data: Path, ratios: list[float], args: argparse.Namespace
) -> tuple[list[TrainingPair], str]:
    """``evaluate``'s pairs and their sensor: real pairs as they are (one sensor kind), else
    synthetic pairs of the held-out photos at ``ratios`` on ``--sensor``."""
    from engine.evaluate import default_eval_pairs
    from engine.train import is_pair_source, load_pair, load_pairs

    sensor = args.sensor
    if is_pair_source(data):  # real pairs say what sensor they come from
        pairs = [load_pair(spec) for spec in load_pairs(data)]
        sensors = sorted({p.dark.sensor for p in pairs})
        if len(sensors) > 1:
            raise DarkroomError(f"{data}: the pairs mix Bayer and X-Trans cameras; evaluate "
                                "each kind on its own")  # fmt: skip
        return pairs, sensors[0] if sensors else sensor
    pairs = default_eval_pairs(data, ratios=ratios, max_photos=args.max_photos,
                               max_side=args.max_side or None, sensor=sensor)  # fmt: skip
    return pairs, sensor


def cmd_evaluate(args: argparse.Namespace) -> int:
    import dataclasses

    from engine.evaluate import EvaluationSettings, evaluate, write_report
    from engine.models import card_path_for, model_entries, read_card, resolve_model, write_card
    from engine.render import CLASSICAL

    data = Path(args.data)
    if not data.exists():
        raise DarkroomError(f"{data}: no such file or folder")
    if args.models in ("all", ""):
        models = [e.name for e in model_entries() if e.has_weights]
    elif args.models == "none":
        models = []
    else:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
    # Resolved up front: fails fast, before minutes of evaluation, and reused for the cards.
    weights_of = {name: resolve_model(name) for name in models if name != CLASSICAL}
    try:
        ratios = [float(r) for r in args.ratios.split(",")]
    except ValueError:
        raise DarkroomError(f"--ratios {args.ratios!r}: give numbers like 100,250,300") from None
    pairs, sensor = _evaluation_pairs(data, ratios, args)
    if not pairs:
        raise DarkroomError(f"{data}: no evaluation pairs")
    # Each row is the named model's own render: one that does not take these pairs is left out
    # of "all" and refused by name (the renderer would hand them to its other-CFA version).
    other = [n for n, w in weights_of.items() if sensor not in read_card(w).sensors]
    if other and args.models in ("all", ""):
        models = [m for m in models if m not in other]
        weights_of = {n: w for n, w in weights_of.items() if n not in other}
    elif other:
        kind = SENSOR_NAMES[sensor]
        raise DarkroomError(f"{', '.join(other)}: no {kind} model; evaluate {kind} pairs "
                            "with a model that takes them (see darkroom-cli models)")  # fmt: skip

    def report(done: int, total: int, message: str) -> None:
        if not args.quiet:
            print(f"[{done}/{total}] {message}", file=sys.stderr, flush=True)

    settings = EvaluationSettings(device=args.device, precision=args.precision)
    result = evaluate(pairs, models, settings, progress=report)
    table, results_json, sheet = write_report(result, args.out, args.second)
    print(result.table_markdown(args.second))
    print(f"wrote {table}, {results_json}, {sheet}", file=sys.stderr)
    if args.update_cards:
        for name, weights in weights_of.items():
            card = dataclasses.replace(read_card(weights), metrics=result.rows_for(name))
            write_card(weights, card)
            print(f"updated {card_path_for(weights)}", file=sys.stderr)
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from engine.evaluate import format_table, run_bench
    from engine.models import list_models

    variants = args.variants.split(",") if args.variants else None
    for v in variants or []:
        if v not in [*list_models(), "none"]:
            raise DarkroomError(f"unknown variant {v!r}")
    if args.repeat < 1:
        raise DarkroomError("--repeat must be at least 1")
    dng = Path(args.input) if args.input else None
    if dng is not None and not dng.is_file():
        raise DarkroomError(f"{dng}: no such file")
    rows = run_bench(variants, dng, args.device, args.precision, args.tile, args.repeat)
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return EXIT_FAILED if any("error" in r for r in rows) else EXIT_OK


def add_training_parsers(sub: argparse._SubParsersAction) -> None:
    """Add ``train``, ``evaluate`` and ``bench`` to ``darkroom-cli``'s sub-parsers."""
    _add_train_parser(sub)
    _add_evaluate_parser(sub)
    _add_bench_parser(sub)


def _add_train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model variant")
    variants = "fast (the default's), lite, baseline, attention, gan, uunet or deep"
    p.add_argument("--variant", required=True, help=variants)
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
        "--loss-weighting",
        choices=("mean", "log"),
        default="mean",
        help="mean: the batch's L1 (default); log: the mean of each crop's log L1, so clean "
        "crops count as much as noisy ones",
    )
    p.add_argument(
        "--precision",
        default="auto",
        help="auto (bf16 on CUDA and AMX CPUs, else fp32), fp32, bf16 or fp16",
    )
    p.add_argument("--epoch-iterations", type=int, default=0, help="steps per StepLR epoch")
    p.add_argument(
        "--ratios",
        help="synthetic pairs: exposure ratios LO:HI, log-uniform "
        "(default: the seed variants' x50-x300 with 10 %% at x2-x1000)",
    )
    p.add_argument(
        "--clean-fraction",
        type=float,
        default=0.0,
        help="synthetic pairs: share of near-clean x1 pairs at the lowest gain",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--init", help="warm-start from these weights (matching tensors)")
    p.add_argument("--base", help="uunet: the frozen first U-Net's weights")
    p.add_argument("--checkpoint", help="checkpoint path (default: OUT with .ckpt); resumes")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--print-every", type=float, default=30.0, help="seconds between reports")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_train)


def _add_evaluate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="PSNR/SSIM table (like SID's Table 1) and contact sheet")
    p.add_argument("--data", required=True, help="clean-photo folder (held-out split), or pairs")
    p.add_argument("--models", default="all", help="'all' (with weights), 'none' or a,b,c")
    p.add_argument("--out", default="evaluation", help="folder for table.md, results.json, PNG")
    p.add_argument("--ratios", default="100,250,300", help="for synthetic pairs")
    p.add_argument("--sensor", choices=SENSORS, default="bayer",
                   help="synthetic pairs from a Bayer or an X-Trans sensor")  # fmt: skip
    p.add_argument("--max-photos", type=int, help="use at most this many held-out photos")
    p.add_argument("--max-side", type=int, default=512, help="centre-crop photos (0: full)")
    p.add_argument("--device", default="auto")
    p.add_argument("--update-cards", action="store_true", help="write each model's row to its card")
    p.add_argument("--precision", default="auto", help="network precision: auto, fp32, bf16")
    p.add_argument(
        "--second",
        choices=("ssim", "detail", "hf"),
        default="ssim",
        help="the table's column beside PSNR: SSIM, the share of the reference's detail kept, "
        "or the fine-detail energy over the reference's",
    )
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_evaluate)


def _add_bench_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time every variant on a 12 MP frame")
    p.add_argument("input", nargs="?", help="a RAW file (default: a generated 12 MP DNG)")
    p.add_argument("--variants", help="comma-separated (default: all and 'none')")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", help="auto, fp32, bf16 or fp16")
    p.add_argument("--tile", type=int)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)
