"""``darkroom-cli bench``: speed and memory of every variant on a 12 MP frame.

Each variant is measured in a fresh subprocess, so its peak RSS is its own. GMAC: its
convolutions' multiply-accumulates for the frame (:func:`engine.models.frame_gmacs`). Input
time: the planes the network takes beside the mosaic (noise map, demosaic). Model-only time is
the network on the whole packed frame through the :class:`~engine.render.tiling.TiledRunner` (tiles
included, since that is what a user gets); end-to-end time is decode + pack + infer + colour
+ JPEG encode of a frame already in the OS file cache. Variants without shipped weights are
timed with random weights (speed does not depend on the values) and marked ``untrained``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.models import ModelCard, create_model, list_models, model_entries, save_model
from engine.render import Adjustments, Enhancer


def _weights_for(variant: str, work: Path) -> tuple[str, bool]:
    """(weights path, trained?) for a variant: shipped weights, else random ones."""
    for entry in model_entries():
        if entry.name == variant and entry.has_weights:
            return str(entry.weights_path), True
    torch.manual_seed(0)
    model = create_model(variant)
    path = work / f"{variant}-untrained.safetensors"
    card = ModelCard(name=path.stem, architecture=variant, config=model.config,
                     notes="random weights, for timing only")  # fmt: skip
    save_model(model, card, path)
    return str(path), False


def measure_one(
    variant: str, dng: Path, device: str, precision: str, tile: int | None, repeat: int
) -> dict[str, Any]:
    """Time one variant in this process; returns a JSON-able row."""
    with tempfile.TemporaryDirectory(prefix="darkroom-bench-") as work:
        return _measure_in(Path(work), variant, dng, device, precision, tile, repeat)


def _measure_in(
    work: Path, variant: str, dng: Path, device: str, precision: str, tile: int | None,
    repeat: int,
) -> dict[str, Any]:  # fmt: skip
    from engine.io import ExportOptions, read_raw
    from engine.models import frame_gmacs
    from engine.render import enhance_file, pack_with_below_black

    weights, trained = _weights_for(variant, work) if variant != "none" else ("none", True)
    enhancer = Enhancer(weights, device=device, tile=tile, precision=precision)
    dev = enhancer.device
    frame = read_raw(dng)
    below_black = enhancer.runner is not None and enhancer.runner.model.demosaic_below_black
    packed, _, below = pack_with_below_black(frame, 100.0, below_black)
    frame_size = packed.shape[1], packed.shape[2]
    if enhancer.runner is not None:  # what the network takes: noise map, demosaic planes
        level = enhancer.noise_level(frame) if enhancer.takes_noise else None
        t0 = time.perf_counter()
        packed = enhancer.network_input(packed, 100.0, level, below_black=below)
        input_s = time.perf_counter() - t0
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    model_times, e2e_times = [], []
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for i in range(repeat + 1):  # the first round warms up (allocator, kernels, autotuning)
        if enhancer.runner is not None:
            sync()
            t0 = time.perf_counter()
            enhancer.runner.run(packed, frame_size=frame_size)
            sync()
            if i:
                model_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        enhance_file(
            enhancer, dng, work / "out.jpg", Adjustments(100.0), ExportOptions(overwrite=True)
        )
        if i:
            e2e_times.append(time.perf_counter() - t0)
    plan = enhancer.runner.plan(*frame_size) if enhancer.runner else None
    amp = enhancer.runner.amp_dtype if enhancer.runner else None
    net = enhancer.runner.model if enhancer.runner else None
    return {
        "variant": variant,
        "trained": trained,
        "device": str(dev),
        "precision": str(amp).replace("torch.", "") if amp else "fp32",
        "frame": f"{frame.width}x{frame.height}",
        "tiles": f"{len(plan.cores())} x {plan.core_h}x{plan.core_w}+{plan.margin}"
        if plan
        else "-",
        "model_s": float(np.median(model_times)) if model_times else None,
        "input_s": input_s if net is not None else None,
        "gmac": frame_gmacs(net, (frame.height, frame.width)) if net is not None else None,
        "end_to_end_s": float(np.median(e2e_times)),
        "fps": 1.0 / float(np.median(e2e_times)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else None,
        "threads": torch.get_num_threads(),
    }


def run_bench(
    variants: list[str] | None,
    dng: Path | None,
    device: str,
    precision: str,
    tile: int | None,
    repeat: int,
) -> list[dict[str, Any]]:
    """Measure each variant in its own subprocess; generates a 12 MP DNG if none is given."""
    if dng is None:
        from engine.io import write_synthetic_dng

        with tempfile.TemporaryDirectory(prefix="darkroom-bench-") as tmp:
            generated = write_synthetic_dng(Path(tmp) / "12mp.dng")
            return run_bench(variants, generated, device, precision, tile, repeat)
    rows = []
    for variant in variants or [*list_models(), "none"]:
        cmd = [sys.executable, "-m", "engine.evaluate.bench", variant, str(dng), device, precision,
               str(tile or 0), str(repeat)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["failed"])[-1]
            rows.append({"variant": variant, "error": tail})
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of :func:`run_bench` rows."""
    head = ("| variant | GMAC | device | precision | tiles | input s | model s | end-to-end s "
            "| fps | peak RSS MB | peak GPU MB |\n" + "|---" * 11 + "|")  # fmt: skip
    lines = [head]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['variant']} | error: {r['error']} |||||||||")
            continue
        name = r["variant"] + ("" if r["trained"] else " (untrained)")
        model_s = f"{r['model_s']:.2f}" if r["model_s"] is not None else "-"
        gpu = f"{r['peak_gpu_mb']:.0f}" if r["peak_gpu_mb"] is not None else "-"
        gmac = f"{r['gmac']:.1f}" if r.get("gmac") is not None else "-"
        input_s = f"{r['input_s']:.2f}" if r.get("input_s") is not None else "-"
        lines.append(
            f"| {name} | {gmac} | {r['device']} | {r['precision']} | {r['tiles']} | {input_s} | "
            f"{model_s} | "
            f"{r['end_to_end_s']:.2f} | {r['fps']:.3f} | {r['peak_rss_mb']:.0f} | {gpu} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # one measurement, in a fresh process (see run_bench)
    name, path, dev, prec, tile_arg, rep = sys.argv[1:7]
    row = measure_one(name, Path(path), dev, prec, int(tile_arg) or None, int(rep))
    print(json.dumps(row))
