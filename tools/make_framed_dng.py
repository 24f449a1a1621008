"""Write a DNG framed like a cinema camera's from any Bayer RAW, to see the default crop work.

    python tools/make_framed_dng.py SRC.DNG OUT.dng [--masked-rows 4] [--stripe 5]

The mosaic of SRC gets ``--masked-rows`` rows of optical black on top (outside the ActiveArea)
and a black stripe ``--stripe`` pixels wide down its right edge (inside the active area, as the
Blackmagic file of the "DNG default crop" issue has), and a DefaultCrop at an odd origin that
leaves the stripe out. Camera facts, levels and white balance are SRC's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.io import DngFraming, read_raw, write_cfa_dng


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--masked-rows", type=int, default=4)
    parser.add_argument("--stripe", type=int, default=5)
    args = parser.parse_args()
    frame = read_raw(args.src)
    black = frame.black_level
    mosaic = np.asarray(frame.mosaic, dtype=np.uint16).copy()
    height, width = mosaic.shape
    black_map = np.tile(black, (height // 2, width // 2)).astype(np.uint16)
    mosaic[:, width - args.stripe :] = black_map[:, width - args.stripe :]
    masked = np.tile(black, (args.masked_rows // 2 + 1, width // 2))[: args.masked_rows]
    stored = np.vstack([masked.astype(np.uint16), mosaic])
    crop = (1, 3, height - 3, width - args.stripe - 5)  # odd origin, the stripe left out
    write_cfa_dng(
        args.out, stored, frame.cfa_name, black_level=black, white_level=int(frame.white_level),
        wb_gains=tuple(float(g) for g in frame.wb_gains), exif=frame.exif,
        framing=DngFraming(active_area=(args.masked_rows, 0, height, width), crop=crop),
    )  # fmt: skip
    print(f"wrote {args.out}: stored {width}x{height + args.masked_rows}, active {width}x"
          f"{height}, default crop {crop[3]}x{crop[2]} at +{crop[1]}+{crop[0]}")  # fmt: skip


if __name__ == "__main__":
    main()
