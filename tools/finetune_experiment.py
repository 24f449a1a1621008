"""Does fine-tuning fix a camera the shipped models never saw? (issues 5 and 19)

    python tools/finetune_experiment.py WORK_DIR [--train-pairs 6] [--test-pairs 6]

Makes RAW pairs (DNG files with EXIF exposure times and ISO) for an invented camera whose noise
is unlike every profile the shipped models were trained on: twice the Sony A7S2's read noise,
three times its row noise, heavier read-noise tails than any published profile (Tukey lambda
-0.30 to -0.22; the published ranges reach down to -0.243) and a system gain K of 30-50 DN/e-
(the published ranges end at 6-29), with ISO proportional to K (ISO = K / 0.005, 6000-10000).
Ratios x10, x30 and x100. Scenes are held-out photos (never trained on). Writes ``train/``
(for ``darkroom-cli finetune``) and ``test/`` (SID layout, for ``darkroom-cli evaluate``)
under WORK_DIR. Long exposures are shot as the README asks (a long *clean* one): the same scene
at ratio 1 on the same camera at its base ISO 200 (K = 1 DN/e-), so they carry the camera's
own, mild, noise; a long exposure at the short one's ISO 6000-10000 would itself be about as
noisy as a x10 short one, and both the fine-tune's targets and the held-out scores would then
measure that noise. The measurement (README, "Fine-tuning on your own camera"):

    darkroom-cli evaluate --data WORK/test --models fast --out WORK/eval-shipped
    darkroom-cli finetune --pairs WORK/train --dark-frames WORK/dark --iterations 0 \
        --name odd-profile
    darkroom-cli finetune --pairs WORK/train --dark-frames WORK/dark --name odd-tuned
    darkroom-cli evaluate --data WORK/test --models odd-profile,odd-tuned --out WORK/eval-tuned
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.io import ExifInfo, write_cfa_dng
from engine.noise import add_noise, get_profile
from engine.train import list_photos, load_clean_photo, mosaic, sample_unprocess_params, unprocess

K_RANGE = (30.0, 50.0)
K_PER_ISO = 0.005
RATIOS = (10.0, 30.0, 100.0)
LONG_ISO = 200  # the long exposure: base ISO
PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "clean-photos"


#: Parts of the invented camera's noise that ``--as-sony`` can set back to the Sony A7S2's.
SONY_PARTS = ("read", "tails", "row")
#: The parts set back to the Sony A7S2's (``--as-sony``); empty for the invented camera itself.
AS_SONY: tuple[str, ...] = ()


def odd_camera():
    sony = get_profile("SonyA7S2")
    camera = replace(
        sony, camera="Invented X1", k_min=K_RANGE[0], k_max=K_RANGE[1],
        read_intercept=sony.read_intercept + math.log(2.0),
        row_intercept=sony.row_intercept + math.log(3.0),
        lambda_min=-0.30, lambda_max=-0.22, k_per_iso=K_PER_ISO,
    )  # fmt: skip
    # Each part draws the same random numbers either way, so the same pairs differ only in it.
    if "read" in AS_SONY:
        camera = replace(camera, read_intercept=sony.read_intercept)
    if "tails" in AS_SONY:
        camera = replace(camera, lambda_min=sony.lambda_min, lambda_max=sony.lambda_max)
    if "row" in AS_SONY:
        camera = replace(camera, row_intercept=sony.row_intercept)
    return camera


def write_shot(path: Path, signal_dn: np.ndarray, noise, iso: int, exposure_time: float,
               params, datetime: str, rng: np.random.Generator) -> None:  # fmt: skip
    """One exposure of the invented camera: ``signal_dn`` (expected DN above black, on the
    mosaic) with the camera's noise, written as a CFA DNG with its ISO and exposure time."""
    profile = odd_camera()
    dn = add_noise(signal_dn, noise, rng) + profile.black_level
    out = np.clip(np.rint(dn), 0, profile.white_level).astype(np.uint16)
    exif = ExifInfo(make="Invented", model="X1", iso=iso, exposure_time=exposure_time,
                    datetime=datetime)  # fmt: skip
    write_cfa_dng(path, out, cfa="RGGB", black_level=profile.black_level,
                  white_level=int(profile.white_level), wb_gains=tuple(params.wb_gains),
                  xyz_to_cam=params.camera.xyz_to_cam, exif=exif)  # fmt: skip


def write_pair(folder_short: Path, folder_long: Path, stem: str, photo: np.ndarray, ratio: float,
               rng: np.random.Generator) -> None:  # fmt: skip
    profile = odd_camera()
    params = replace(sample_unprocess_params(rng, cfa="RGGB", camera="Sony ILCE-7S"),
                     black_level=512.0, white_level=16383.0)  # fmt: skip
    clean = mosaic(unprocess(photo, params), "RGGB")
    span = profile.white_level - profile.black_level
    k = float(np.exp(rng.uniform(np.log(profile.k_min), np.log(profile.k_max))))
    noise = profile.sample_params(rng, k=k)
    long_noise = profile.sample_params(rng, k=LONG_ISO * K_PER_ISO)
    short_iso = round(k / K_PER_ISO)
    # Exposure time x ISO sets the brightness: the short one is 1/ratio of the long one's.
    shots = ((folder_short, ratio, LONG_ISO / (short_iso * ratio), noise, short_iso),
             (folder_long, 1.0, 1.0, long_noise, LONG_ISO))  # fmt: skip
    for folder, r, t, shot_noise, iso in shots:
        write_shot(folder / f"{stem}_00_{t:g}s.dng", clean / r * span, shot_noise, iso, t,
                   params, "2026:11:25 04:00:00", rng)  # fmt: skip


def write_dark_frames(folder: Path, count: int, side: int, rng: np.random.Generator) -> None:
    """Lens-cap shots at the short exposures' ISOs: no light, only the camera's read and row
    noise (``darkroom-cli finetune --dark-frames``)."""
    profile = odd_camera()
    # Any plausible colour matrix (a dark frame has no colour), from its own generator.
    params = sample_unprocess_params(np.random.default_rng(0), cfa="RGGB", camera="Sony ILCE-7S")
    params = replace(params, wb_gains=np.array([2.0, 1.0, 1.5]))
    folder.mkdir(parents=True, exist_ok=True)
    dark = np.zeros((side, side), np.float32)
    for i, k in enumerate(np.geomspace(K_RANGE[0], K_RANGE[1], count)):
        write_shot(folder / f"dark_{i:02d}.dng", dark, profile.sample_params(rng, k=float(k)),
                   round(k / K_PER_ISO), 0.01, params, "2026:11:25 05:00:00", rng)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("work", type=Path)
    parser.add_argument("--train-pairs", type=int, default=6)
    parser.add_argument("--test-pairs", type=int, default=6)
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--dark-frames", type=int, default=4,
                        help="lens-cap shots written to WORK/dark (0: none)")  # fmt: skip
    parser.add_argument(
        "--as-sony",
        default="",
        help="comma-separated parts of the noise (read, tails, row) set back to the Sony A7S2's, "
        "to measure what each costs; K stays the invented one",
    )
    args = parser.parse_args()
    parts = tuple(p for p in args.as_sony.split(",") if p)
    unknown = sorted(set(parts) - set(SONY_PARTS))
    if unknown:
        choices = ", ".join(SONY_PARTS)
        parser.error(f"--as-sony: unknown part(s) {', '.join(unknown)} (choose from {choices})")
    global AS_SONY
    AS_SONY = parts
    photos = list_photos(PHOTOS, held_out=True)
    rng = np.random.default_rng(5)
    order = rng.permutation(len(photos))
    needed = args.train_pairs + args.test_pairs
    for i, idx in enumerate(order[:needed]):
        split = "train" if i < args.train_pairs else "test"
        photo = load_clean_photo(photos[idx])
        h, w = photo.shape[:2]
        s = min(args.side, h, w) // 2 * 2
        photo = photo[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        ratio = float(rng.choice(RATIOS))
        short, long = args.work / split / "short", args.work / split / "long"
        short.mkdir(parents=True, exist_ok=True)
        long.mkdir(parents=True, exist_ok=True)
        write_pair(short, long, f"{i:05d}", photo, ratio, rng)
    if args.dark_frames:
        write_dark_frames(args.work / "dark", args.dark_frames, args.side, rng)
    print(f"wrote {args.train_pairs} training and {args.test_pairs} test pairs"
          f" and {args.dark_frames} dark frames under {args.work}")  # fmt: skip


if __name__ == "__main__":
    main()
