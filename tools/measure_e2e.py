"""Measure one 12 MP frame end to end through the CLI, and per stage in-process.

    python tools/measure_e2e.py --device cpu [--weights PATH]

Without ``--weights`` it times an untrained ``baseline`` (the architecture's speed does not
depend on the weights' values); it says so in its output. Prints wall time of a fresh
``darkroom-cli enhance`` process, its peak RSS, and an in-process stage breakdown with peak GPU
memory when on CUDA.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto")
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import torch

    from engine.io import write_synthetic_dng
    from engine.models import ModelCard, create_model, save_model

    work = Path(tempfile.mkdtemp(prefix="darkroom-e2e-"))
    dng = write_synthetic_dng(work / "frame12mp.dng")
    weights = args.weights
    if weights is None:
        torch.manual_seed(0)
        model = create_model("baseline")
        weights = work / "untrained_baseline.safetensors"
        card = ModelCard(name="untrained", architecture="baseline", config=model.config,
                         notes="random initialisation, for timing only")  # fmt: skip
        save_model(model, card, weights)
        print("NOTE: timing an untrained baseline (same architecture, random weights)")

    for i in range(args.repeat):
        out = work / f"out{i}.jpg"
        cmd = [sys.executable, "-m", "engine.cli", "enhance", str(dng), "--model", str(weights),
               "--ratio", "100", "--device", args.device, "-o", str(out), "-q"]  # fmt: skip
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"end-to-end run {i + 1}: {wall:.2f} s wall, peak RSS (max over runs) {rss:.0f} MB")

    from engine.io import ExportOptions, read_raw, write_rendered
    from engine.render import Enhancer

    enhancer = Enhancer(str(weights), device=args.device)
    for i in range(args.repeat):
        if enhancer.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        frame = read_raw(dng)
        t1 = time.perf_counter()
        result = enhancer.render(frame, 100.0)
        t2 = time.perf_counter()
        write_rendered(result, work / "inproc.jpg", ExportOptions(overwrite=True))
        t3 = time.perf_counter()
        gpu = ""
        if enhancer.device.type == "cuda":
            gpu = f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MB"
        plan = enhancer.runner.plan(frame.height // 2, frame.width // 2)  # type: ignore[union-attr]
        print(f"in-process {i + 1}: decode {t1 - t0:.2f} s, render {t2 - t1:.2f} s, "
              f"jpeg {t3 - t2:.2f} s on {enhancer.device}{gpu}; tiles "
              f"{len(plan.cores())} of {plan.core_h}x{plan.core_w}+{plan.margin}")  # fmt: skip

    if enhancer.device.type == "cuda":
        from engine.render import pack_bayer

        packed = pack_bayer(read_raw(dng), 100.0)
        x = torch.from_numpy(packed)[None].cuda()
        net = enhancer.runner.model  # type: ignore[union-attr]
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
            for _ in range(3):
                net(x)
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(10):
                net(x)
            end.record()
            torch.cuda.synchronize()
        print(
            f"model only (whole 12 MP frame, bf16 autocast): {start.elapsed_time(end) / 10:.1f} ms"
        )


if __name__ == "__main__":
    main()
