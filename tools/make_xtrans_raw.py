"""An X-Trans DNG from a real Bayer RAW: its classical render laid out on Fujifilm's 6x6 colour
filter array, darkened in the raw domain with the published noise model.

    python tools/make_xtrans_raw.py SOURCE OUT.dng [--darken 8] [--iso 1600] [--phase 0,0]

No X-Trans RAF is on this machine, so this is how X-Trans photos of real scenes are made for
screenshots and timings (issue 23). The source is demosaiced (LibRaw's DHT) at ratio 1, cut to
whole 6x6 periods, sampled through the pattern, divided by ``--darken`` and given the Sony
A7S II's noise at ``--iso`` (engine.noise), then written as a CFA DNG with the source's white
balance and colour matrix, so ``--ratio DARKEN`` gives its exposure back. ``--phase`` is where
the picture starts in LibRaw's X-Trans tile (cameras differ).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engine.io import ExifInfo, read_raw, write_cfa_dng, xtrans_pattern
from engine.noise import PROFILES, SONY_A7S2_ISO_PARAMS, synthesise_dark
from engine.render import camera_xyz_matrix, classical_linear
from engine.train.unprocess import mosaic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--darken", type=float, default=8.0)
    parser.add_argument("--iso", type=int, default=1600, choices=sorted(SONY_A7S2_ISO_PARAMS))
    parser.add_argument("--phase", default="0,0", help="top,left inside the 6x6 tile")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    frame = read_raw(args.source)
    linear = classical_linear(frame, 1.0)  # (H, W, 3) camera RGB, no white balance
    h, w = linear.shape[0] // 6 * 6, linear.shape[1] // 6 * 6
    top, left = (int(v) for v in args.phase.split(","))
    pattern = xtrans_pattern(top, left)
    clean = mosaic(linear[:h, :w], pattern)
    sony = PROFILES["SonyA7S2"]
    rng = np.random.default_rng(args.seed)
    dark = synthesise_dark(clean, args.darken, SONY_A7S2_ISO_PARAMS[args.iso], sony, rng,
                           cfa=pattern)  # fmt: skip
    dn = np.clip(np.rint(dark * sony.dn_range + sony.black_level), 0, sony.white_level)
    exif = ExifInfo(make="Darkroom", model=f"X-Trans from {args.source.name}", iso=args.iso)
    write_cfa_dng(args.out, dn.astype(np.uint16), pattern, black_level=sony.black_level,
                  white_level=int(sony.white_level), wb_gains=frame.wb_gains,
                  xyz_to_cam=camera_xyz_matrix(frame), orientation=frame.orientation or 1,
                  exif=exif)  # fmt: skip
    print(f"wrote {args.out}: {w}x{h} X-Trans (phase {top},{left}), darkened x{args.darken:g}, "
          f"ISO {args.iso} noise")  # fmt: skip


if __name__ == "__main__":
    main()
