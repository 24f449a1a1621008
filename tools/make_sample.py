"""Make the bundled low-light sample: a real RAW, cropped and darkened in the raw domain.

    python tools/make_sample.py ../shared/data/real-raw/HERO7_GOPR9231.DNG \
        resources/samples/night_sample.dng --ratio 100

The crop keeps the CFA phase; the signal is divided by ``ratio`` and given noise from the
project's physics-based noise model (engine.noise: shot, Tukey-lambda read, row and quantisation
noise) with a published calibration at a fixed gain, as a dark exposure of the same scene would
have. Deterministic (fixed seed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engine.io import SRGB_TO_XYZ, read_raw, write_cfa_dng
from engine.noise import get_profile, synthesise_dark

# LibRaw flip code -> TIFF/EXIF Orientation (inverse of dcraw's "50132467" table).
FLIP_TO_TIFF = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--ratio", type=float, default=100.0)
    parser.add_argument("--width", type=int, default=1536)
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--profile", default="SonyA7S2", help="noise profile (engine.noise)")
    parser.add_argument("--iso", type=float, default=3200.0)
    args = parser.parse_args()

    frame = read_raw(args.source)
    top = (frame.height - args.height) // 2
    left = (frame.width - args.width) // 2
    crop = frame.crop(top, left, args.height, args.width)
    profile = get_profile(args.profile)
    black_map = crop.black_map(np.float64)
    signal = np.clip(
        (crop.mosaic.astype(np.float64) - black_map) / (crop.white_level - black_map), 0, 1
    )
    rng = np.random.default_rng(2018)
    k = profile.k_for_iso(args.iso) if profile.k_per_iso else profile.k_max
    params = profile.sample_params(rng, k=k)
    dark = synthesise_dark(signal.astype(np.float32), args.ratio, params, profile, rng,
                           cfa=crop.cfa_name)  # fmt: skip
    black, white = profile.black_level, profile.white_level
    out = np.clip(np.rint(black + dark * (white - black)), 0, white).astype(np.uint16)
    print(
        f"noise: {profile.camera} at ISO {args.iso:g}: K {params.k:.3f}, read sigma "
        f"{params.sigma_read:.2f} (lambda {params.lam:.3f}), row sigma {params.sigma_row:.2f}"
    )

    # The DNG stores XYZ->camera; rebuild it from the camera->sRGB matrix LibRaw gave us.
    xyz_to_cam = np.linalg.inv(crop.cam_to_srgb.astype(np.float64)) @ np.linalg.inv(SRGB_TO_XYZ)
    exif = crop.exif
    if exif.exposure_time:
        from dataclasses import replace

        exif = replace(exif, exposure_time=exif.exposure_time / args.ratio, iso=args.iso)
    write_cfa_dng(
        args.dest, out, cfa=crop.cfa_name, black_level=black, white_level=int(white),
        wb_gains=tuple(float(g) for g in crop.wb_gains), xyz_to_cam=xyz_to_cam,
        orientation=FLIP_TO_TIFF.get(crop.orientation, 1), exif=exif,
        make=exif.make or "Darkroom", model=exif.model or "Sample",
    )  # fmt: skip
    print(f"wrote {args.dest} ({args.dest.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
