"""How close each demosaic (and darktable's and RawTherapee's default renders) gets to the truth.

    python tools/demosaic_report.py ../shared/data/clean-photos [--max-photos N] [--peers]
        [--methods DHT,OpenCV]

Each held-out photo is unprocessed into clean linear camera RGB (the truth) with a random
camera, white balance and Bayer layout, sampled through its colour filter array and written
as a 14-bit DNG. Every method demosaics that mosaic; the result and the truth are developed
with the file's own white balance, matrix and sRGB curve (:func:`engine.render.develop`) and
compared (PSNR, 4-pixel border excluded). ``--peers`` adds ``darktable-cli`` and
``rawtherapee-cli`` with their default pipelines; their renders go through tone curves and
colour spaces of their own, so every method is also scored after a per-channel affine fit to
the truth (least squares, on the developed sRGB), the fair comparison. Prints a markdown table
and the time per 12 MP.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.evaluate.metrics import psnr  # noqa: E402
from engine.io import ExifInfo, libraw_demosaic, write_cfa_dng  # noqa: E402
from engine.render import develop  # noqa: E402
from engine.train import list_photos, load_clean_photo  # noqa: E402
from engine.train.unprocess import mosaic, sample_unprocess_params, unprocess  # noqa: E402

BORDER = 4
LIBRAW = ("LINEAR", "VNG", "PPG", "AHD", "DCB", "AAHD", "DHT")
OPENCV_EA = {"RGGB": cv2.COLOR_BayerBG2RGB_EA, "BGGR": cv2.COLOR_BayerRG2RGB_EA,
             "GRBG": cv2.COLOR_BayerGB2RGB_EA, "GBRG": cv2.COLOR_BayerGR2RGB_EA}  # fmt: skip


METHODS = {
    "OpenCV edge-aware (before)": lambda u16, cfa: cv2.cvtColor(u16, OPENCV_EA[cfa]),
    **{f"LibRaw {a}": (lambda u16, cfa, a=a: libraw_demosaic(u16, cfa, a)) for a in LIBRAW},
}


def _timings(photo: np.ndarray) -> dict[str, float]:
    """Seconds each method takes on one 12 MP (4000 x 3000) mosaic of ``photo``, enlarged."""
    big = cv2.resize(photo, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    u16 = np.rint(np.clip(mosaic(big, "RGGB"), 0, 1) * 65535).astype(np.uint16)
    out = {}
    for name, run in METHODS.items():
        start = time.perf_counter()
        run(u16, "RGGB")
        out[name] = time.perf_counter() - start
    return out


def _develop(linear: np.ndarray, params) -> np.ndarray:
    chw = torch.from_numpy(np.ascontiguousarray(linear, dtype=np.float32)).permute(2, 0, 1)
    out = develop(chw, params.wb_gains, params.camera.cam_to_srgb)
    return out.permute(1, 2, 0).numpy()[BORDER:-BORDER, BORDER:-BORDER]


def _affine(image: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each channel of ``image`` mapped by the least-squares ``a * x + b`` onto ``truth``."""
    out = np.empty_like(truth)
    for c in range(3):
        x, y = image[..., c].ravel(), truth[..., c].ravel()
        a, b = np.polyfit(x, y, 1)
        out[..., c] = np.clip(a * image[..., c] + b, 0, 1)
    return out


def _align(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """The part of a peer's render that matches the scored truth (the frame less
    :data:`BORDER`); peers may drop up to that many pixels at each edge themselves."""
    h, w = shape[:2]
    dy, dx = (h - image.shape[0]) // 2, (w - image.shape[1]) // 2
    if not (0 <= dy <= BORDER and 0 <= dx <= BORDER):
        return None
    ty, tx = BORDER - dy, BORDER - dx
    return image[ty : image.shape[0] - ty, tx : image.shape[1] - tx]


def _read16(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return image[..., ::-1].astype(np.float32) / 65535.0


def _peers(dng: Path, work: Path) -> dict[str, np.ndarray]:
    """darktable-cli and rawtherapee-cli default renders as sRGB float images."""
    out: dict[str, np.ndarray] = {}
    if shutil.which("darktable-cli"):
        tif = work / "dt.tif"
        tif.unlink(missing_ok=True)
        subprocess.run(["darktable-cli", str(dng), str(tif), "--core", "--configdir",
                        str(work / "dtconf"), "--conf", "plugins/imageio/format/tiff/bpp=16"],
                       capture_output=True, timeout=600)  # fmt: skip
        if tif.exists():
            out["darktable-cli (default)"] = _read16(tif)
    if shutil.which("rawtherapee-cli"):
        tif = work / "rt.tif"
        tif.unlink(missing_ok=True)
        subprocess.run(["rawtherapee-cli", "-o", str(tif), "-d", "-t", "-b16", "-Y", "-q",
                        "-c", str(dng)], capture_output=True, timeout=600)  # fmt: skip
        if tif.exists():
            out["rawtherapee-cli (default)"] = _read16(tif)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("photos", type=Path)
    parser.add_argument("--max-photos", type=int, default=0)
    parser.add_argument("--peers", action="store_true", help="also darktable and RawTherapee")
    parser.add_argument("--methods", default="", help="only methods whose names contain "
                        "one of these comma-separated words")  # fmt: skip
    args = parser.parse_args()
    if args.methods:
        words = args.methods.split(",")
        for name in [n for n in METHODS if not any(word in n for word in words)]:
            del METHODS[name]
    photos = list_photos(args.photos, held_out=True)[: args.max_photos or None]
    work = Path(tempfile.mkdtemp(prefix="demosaic-"))
    scores: dict[str, list[tuple[float, float]]] = {}
    seconds = _timings(load_clean_photo(photos[0]))
    for i, path in enumerate(photos):
        rng = np.random.default_rng([7, i])
        srgb = load_clean_photo(path)
        h, w = srgb.shape[0] // 2 * 2, srgb.shape[1] // 2 * 2
        params = sample_unprocess_params(rng)
        truth_linear = unprocess(srgb[:h, :w], params)
        mos = mosaic(truth_linear, params.cfa)
        u16 = np.rint(mos * 65535).astype(np.uint16)
        truth = _develop(truth_linear, params)
        outs = {name: run(u16, params.cfa) for name, run in METHODS.items()}
        developed = {k: _develop(v.astype(np.float32) / 65535, params) for k, v in outs.items()}
        if args.peers:
            dng = work / "clean.dng"
            raw = np.rint(mos * (16383 - 512) + 512).astype(np.uint16)
            write_cfa_dng(dng, raw, params.cfa, black_level=512, white_level=16383,
                          wb_gains=tuple(params.wb_gains), xyz_to_cam=params.camera.xyz_to_cam,
                          exif=ExifInfo(make="Darkroom", model="Truth", iso=100))  # fmt: skip
            for name, image in _peers(dng, work).items():
                aligned = _align(image, (h, w))
                if aligned is not None and aligned.shape == truth.shape:
                    developed[name] = aligned
        for name, image in developed.items():
            plain = psnr(image, truth) if "cli" not in name else float("nan")
            scores.setdefault(name, []).append((plain, psnr(_affine(image, truth), truth)))
        print(f"[{i + 1}/{len(photos)}] {path.name}", file=sys.stderr, flush=True)
    print(f"{len(photos)} held-out photos, clean (no noise), against the truth; dB\n")
    print("| method | PSNR | PSNR after affine fit | s per 12 MP |")
    print("|---|---:|---:|---:|")
    for name, rows in sorted(scores.items(), key=lambda kv: np.nanmean([r[1] for r in kv[1]])):
        plain = np.nanmean([r[0] for r in rows]) if any(r[0] == r[0] for r in rows) else None
        fit = np.mean([r[1] for r in rows])
        per = seconds.get(name)
        print(f"| {name} | {'-' if plain is None else f'{plain:.2f}'} | {fit:.2f} | "
              f"{'-' if per is None else f'{per:.2f}'} |")  # fmt: skip


if __name__ == "__main__":
    main()
