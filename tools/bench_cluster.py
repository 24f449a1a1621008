"""Issue 22's figures: batch throughput on Ray vs the local path, and DDP training speed.

    python tools/bench_cluster.py batch WORK [--files 20]
        Makes WORK/in/frame00.dng ... (12 MP synthetic DNGs, kept for reruns), then times
        ``darkroom-cli enhance`` in fresh processes: the local batch, ``--engine ray --actors 1``
        and ``--actors 2``; prints files per minute, the time per file, and Ray's overhead per
        file against the local path. Ray's figures include starting its local cluster.

    python tools/bench_cluster.py ddp WORK --data ../shared/data/clean-photos [--steps 30]
        Trains the default model's variant with its shipped config for ``--steps`` steps
        (global batch 4, crop 512, fp32) in one process and under ``torchrun`` with 2
        processes; prints steps per second from the trainer's own timing (the model card's
        training time: process and group start-up excluded, the first step included).

Not a test: a benchmark that prints figures (docs/performance.md quotes them).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr[-2000:]}")
    return seconds, done.stderr


def bench_batch(work: Path, files: int) -> None:
    from engine.io.testdata import write_synthetic_dng

    inputs = work / "in"
    inputs.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(files):
        path = inputs / f"frame{i:02d}.dng"
        if not path.exists():
            write_synthetic_dng(path, seed=i)
        paths.append(str(path))
    cli = [sys.executable, "-m", "engine.cli", "enhance", *paths, "--ratio", "100", "-q"]
    rows = []
    for label, extra in (("local", []), ("ray, 1 actor", ["--engine", "ray", "--actors", "1"]),
                         ("ray, 2 actors", ["--engine", "ray", "--actors", "2"])):  # fmt: skip
        out = work / re.sub(r"\W+", "-", label)
        for old in out.glob("*"):
            old.unlink()
        seconds, _ = _run([*cli, "-o", str(out), *extra])
        rows.append((label, seconds))
        print(f"{label:<14} {seconds:7.1f} s  {60 * files / seconds:5.1f} files/min  "
              f"{seconds / files:5.2f} s/file", flush=True)  # fmt: skip
    local = rows[0][1] / files
    for label, seconds in rows[1:]:
        print(f"{label}: {seconds / files - local:+.2f} s/file against local")


def bench_ddp(work: Path, data: str, steps: int) -> None:
    card = json.loads((ROOT / "resources" / "models" / "fast.json").read_text())
    work.mkdir(parents=True, exist_ok=True)
    args = ["-m", "engine.cli", "train", "--variant", card["architecture"],
            "--config", json.dumps(card["config"]), "--data", data, "--iterations", str(steps),
            "--batch", "4", "--crop", "512", "--precision", "fp32", "--device", "cpu",
            "--print-every", "0", "--overwrite"]  # fmt: skip
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]
    runs = {"1 process": [sys.executable, *args], "torchrun, 2 processes": [*torchrun, "2", *args]}
    for label, command in runs.items():
        out = work / f"{label.split(',')[0].replace(' ', '-')}.safetensors"
        for stale in (out, out.with_suffix(".ckpt"), out.with_suffix(".json")):
            stale.unlink(missing_ok=True)
        threads = {"OMP_NUM_THREADS": "1"} if "torchrun" in label else {}
        wall, _ = _run([*command, "--out", str(out)], threads)
        trained = json.loads(out.with_suffix(".json").read_text())["training_time_s"]
        print(f"{label:<22} {steps / trained:6.3f} steps/s (global batch 4, crop 512; "
              f"{trained:.1f} s of training, {wall:.1f} s wall with start-up)",
              flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("batch")
    p.add_argument("work", type=Path)
    p.add_argument("--files", type=int, default=20)
    p = sub.add_parser("ddp")
    p.add_argument("work", type=Path)
    p.add_argument("--data", required=True)
    p.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    if args.what == "batch":
        bench_batch(args.work, args.files)
    else:
        bench_ddp(args.work, args.data, args.steps)


if __name__ == "__main__":
    main()
