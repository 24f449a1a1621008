"""Issue 21's DNG check: do darktable-cli and rawtherapee-cli open Darkroom's DNGs, and how close
are their colours to Darkroom's own JPEG?

    python tools/dng_peer_check.py RAW WORK [--ratio R] [--model fast]

Exports RAW with Darkroom as JPEG, linear DNG and mosaic (CFA) DNG into WORK, renders both
DNGs with ``darktable-cli`` (its default scene-referred pipeline; and ``dt-none``, with no
workflow modules applied automatically) and ``rawtherapee-cli`` (its default profile; and
``rt-neutral``, its built-in neutral settings), and compares each render with Darkroom's JPEG
on an 8 x 8 grid of patch means (8-bit levels): as rendered, and after one brightness gain per
image (the peers' default tone curves differ from Darkroom's, which is not a colour
difference). Prints one line per render. Not a test: it needs the two programs (Debian
packages darktable, rawtherapee).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np

GRID = 8


def _patches(image: np.ndarray) -> np.ndarray:
    """``(GRID, GRID, 3)`` patch means of an 8-bit RGB image (the central 90 %)."""
    h, w = image.shape[:2]
    core = image[h // 20 : h - h // 20, w // 20 : w - w // 20, :3].astype(np.float64)
    h, w = core.shape[:2]
    rows = np.array_split(np.arange(h), GRID)
    cols = np.array_split(np.arange(w), GRID)
    return np.array([[core[r][:, c].mean(axis=(0, 1)) for c in cols] for r in rows])


def _compare(render: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Mean absolute patch difference (levels), as is and after one brightness gain."""
    a, b = _patches(render), _patches(reference)
    gain = b.sum() / max(a.sum(), 1e-9)
    return float(np.abs(a - b).mean()), float(np.abs(a * gain - b).mean())


def _run(command: list[str]) -> str | None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        return (done.stderr or done.stdout).strip().splitlines()[-1:] or ["failed"]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--ratio", default="auto")
    parser.add_argument("--model", default="fast")
    args = parser.parse_args()
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cli = [sys.executable, "-m", "engine.cli", "enhance", str(args.raw), "--ratio", args.ratio,
           "--model", args.model, "-q"]  # fmt: skip
    jpeg, linear, mosaic = work / "darkroom.jpg", work / "linear.dng", work / "mosaic.dng"
    for out, extra in ((jpeg, []), (linear, ["--dng", "linear"]), (mosaic, ["--dng", "cfa"])):
        problem = _run([*cli, "-o", str(out), *extra])
        if problem:
            sys.exit(f"darkroom failed on {out.name}: {problem}")
    reference = iio.imread(jpeg)
    print(f"reference: {jpeg} {reference.shape[1]}x{reference.shape[0]}")
    neutral = work / "neutral.pp3"  # RawTherapee's built-in defaults: no curves, no auto-match
    neutral.write_text("[Version]\nAppVersion=5.9\nVersion=346\n")
    tools = {
        "darktable": lambda dng, out: ["darktable-cli", str(dng), str(out), "--core",
                                       "--configdir", str(work / "dtconf")],
        "dt-none": lambda dng, out: ["darktable-cli", str(dng), str(out), "--core",
                                     "--configdir", str(work / "dtconf-none"), "--conf",
                                     "plugins/darkroom/workflow=none"],
        "rt-default": lambda dng, out: ["rawtherapee-cli", "-o", str(out), "-j95", "-Y", "-d",
                                        "-c", str(dng)],
        "rt-neutral": lambda dng, out: ["rawtherapee-cli", "-o", str(out), "-j95", "-Y", "-p",
                                        str(neutral), "-c", str(dng)],
    }  # fmt: skip
    for dng in (linear, mosaic):
        for tool, make_command in tools.items():
            out = work / f"{dng.stem}-{tool}.jpg"
            command = make_command(dng, out)
            problem = _run(command)
            if problem or not out.is_file():
                print(f"{dng.name:<11} {tool:<12} did not open it: {problem}")
                continue
            image = iio.imread(out)
            as_is, toned = _compare(image, reference)
            note = ""
            mirrored = _compare(image[:, ::-1], reference)
            if mirrored[1] < toned / 2:  # it ignored a mirroring Orientation (GoPro: 2)
                (as_is, toned), note = mirrored, "  (mirrored: Orientation ignored)"
            print(f"{dng.name:<11} {tool:<12} opened, {image.shape[1]}x{image.shape[0]}; "
                  f"patch colours vs Darkroom's JPEG: {as_is:5.1f} levels as rendered, "
                  f"{toned:5.1f} after one brightness gain{note}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
