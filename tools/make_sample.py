"""Make the bundled low-light sample: a real RAW, cropped and darkened in the raw domain.

    python tools/make_sample.py ../shared/data/real-raw/HERO7_GOPR9231.DNG \
        resources/samples/night_sample.dng --ratio 100

The crop keeps the CFA phase; the signal is divided by ``ratio`` and given shot noise
(Poisson, system gain ``K`` DN per electron) and Gaussian read noise, on top of a black level,
as a dark exposure of the same scene would have. Deterministic (fixed seed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engine.dng import write_cfa_dng
from engine.raw_io import SRGB_TO_XYZ, read_raw

# LibRaw flip code -> TIFF/EXIF Orientation (inverse of dcraw's "50132467" table).
FLIP_TO_TIFF = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--ratio", type=float, default=100.0)
    parser.add_argument("--width", type=int, default=1536)
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--gain", type=float, default=2.0, help="system gain K, DN per electron")
    parser.add_argument("--read-noise", type=float, default=4.0, help="read noise sigma, DN")
    parser.add_argument("--black", type=int, default=256)
    args = parser.parse_args()

    frame = read_raw(args.source)
    top = (frame.height - args.height) // 2
    left = (frame.width - args.width) // 2
    crop = frame.crop(top, left, args.height, args.width)
    black = np.tile(crop.black_level, (crop.height // 2, crop.width // 2))
    signal = (crop.mosaic.astype(np.float64) - black) / (crop.white_level - black)
    white = float(crop.white_level)
    range_dn = white - args.black
    rng = np.random.default_rng(2018)
    electrons = np.clip(signal, 0, 1) * range_dn / args.ratio / args.gain
    dn = rng.poisson(electrons) * args.gain + rng.normal(0.0, args.read_noise, signal.shape)
    out = np.clip(np.rint(dn + args.black), 0, white).astype(np.uint16)

    # The DNG stores XYZ->camera; rebuild it from the camera->sRGB matrix LibRaw gave us.
    xyz_to_cam = np.linalg.inv(crop.cam_to_srgb.astype(np.float64)) @ np.linalg.inv(SRGB_TO_XYZ)
    exif = crop.exif
    if exif.exposure_time:
        from dataclasses import replace

        exif = replace(exif, exposure_time=exif.exposure_time / args.ratio)
    write_cfa_dng(
        args.dest, out, cfa=crop.cfa_name, black_level=args.black, white_level=int(white),
        wb_gains=tuple(float(g) for g in crop.wb_gains), xyz_to_cam=xyz_to_cam,
        orientation=FLIP_TO_TIFF.get(crop.orientation, 1), exif=exif,
        make=exif.make or "Darkroom", model=exif.model or "Sample",
    )  # fmt: skip
    print(f"wrote {args.dest} ({args.dest.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
