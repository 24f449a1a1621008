"""Training pairs: synthetic (clean photo -> unprocessed RAW -> physics-based noise) and real.

A :class:`TrainingPair` is a dark exposure as a :class:`~engine.io.raw.RawFrame` plus its target,
the clean long exposure in the model's output space (linear camera RGB, before white balance) on
the same pixel grid. The network's input is always made from the dark frame exactly as at
inference time (:func:`engine.render.packing.pack_rggb` for Bayer, with Bayer pairs mirrored
into RGGB geometry first by :func:`to_rggb` so input and target share one pixel grid;
:func:`engine.render.packing.pack_xtrans` for X-Trans, never mirrored).

Synthetic targets are the unprocessed photo itself (the ideal clean linear image, which is
what the classical pipeline shows for a clean exposure up to demosaicking); real targets are the
long exposure through :func:`engine.render.colour.classical_linear` at ratio 1.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine.io import ExifInfo, RawFrame, cfa_from_name, xtrans_pattern
from engine.noise import (
    PROFILES,
    NoiseLevel,
    NoiseProfile,
    noise_level_for,
    noise_level_from_params,
    synthesise_dark,
)
from engine.render import (
    network_channels,
    pack_with_below_black,
    pack_xtrans,
    rggb_mirror,
)
from engine.resources import SENSORS
from engine.train.unprocess import mosaic, sample_unprocess_params, unprocess

#: Exposure ratios are drawn log-uniformly here most of the time (SID's x100-x300 and around).
RATIO_RANGE = (50.0, 300.0)
#: ...and from this wider range the rest of the time, so x2-x1000 still behave.
WIDE_RATIO_RANGE = (2.0, 1000.0)
WIDE_FRACTION = 0.1
#: X-Trans training crops are cut to multiples of this many sensor pixels: whole 6-pixel
#: periods, and an even packed size (the networks' 2x2 packing).
XTRANS_CROP_STEP = 12
#: Share of training pairs with a white balance outside Brooks' daylight range.
TRAIN_WIDE_WB_FRACTION = 0.3

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True, eq=False)
class TrainingPair:
    """A dark exposure and its clean target on the same pixel grid.

    Attributes:
        name: where it came from (file name, photo name and seed...).
        dark: the short exposure; ``mosaic`` in DN (float32 for synthetic frames).
        ratio: exposure ratio long / short.
        target: ``(H, W, 3)`` float32 linear camera RGB in [0, 1], the dark mosaic's size.
        noise: the dark frame's true noise level where it is known (synthetic pairs), else
            ``None`` (it is then measured on the frame, as the app does).
    """

    name: str
    dark: RawFrame
    ratio: float
    target: np.ndarray
    noise: NoiseLevel | None = None

    def network_input(
        self, noise: NoiseLevel | None = None, demosaic: bool = False, below_black: bool = False
    ) -> np.ndarray:
        """``(4, H/2, W/2)`` float32 in [0, 1]: packed, amplified by ``ratio``, clipped; with
        ``noise``, its noise map after it, for an X-Trans pair the colour planes, with
        ``demosaic`` its classical demosaic after that, of the mosaic with its noise below
        black kept with ``below_black`` (:func:`engine.render.network_channels`: what the app
        gives the same model).

        Only for Bayer pairs in RGGB geometry (:func:`to_rggb`), so the network's output lines
        up with ``target`` pixel for pixel; X-Trans pairs are packed by position
        (:func:`engine.render.pack_xtrans`), never mirrored.

        Raises:
            ValueError: the dark frame is Bayer but not RGGB.
        """
        if self.dark.is_xtrans:
            packed = pack_xtrans(self.dark, self.ratio)
            return network_channels(packed, self.ratio, noise, demosaic=demosaic,
                                    pattern=self.dark.cfa_pattern)  # fmt: skip
        packed, mirror, below = pack_with_below_black(self.dark, self.ratio, below_black)
        if any(mirror):
            raise ValueError(f"{self.name}: {self.dark.cfa_name} pair; mirror it with to_rggb()")
        return network_channels(packed, self.ratio, noise, demosaic=demosaic,
                                below_black=below)  # fmt: skip

    def measured_noise(self) -> NoiseLevel:
        """The dark frame's noise level as the app finds it (profile + ISO, else measured)."""
        return noise_level_for(self.dark, PROFILES.values())


def sample_ratio(rng: np.random.Generator, ratio_range: tuple[float, float] | None = None) -> float:
    """Log-uniform in ``ratio_range``; without one (the seed variants' recipe), in
    :data:`RATIO_RANGE`, or in :data:`WIDE_RATIO_RANGE` 10 % of the time."""
    if ratio_range is not None:
        lo, hi = ratio_range
    else:
        lo, hi = WIDE_RATIO_RANGE if rng.random() < WIDE_FRACTION else RATIO_RANGE
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def is_held_out(path: str | Path, fraction_percent: int = 10) -> bool:
    """Deterministic train/held-out split by a hash of the file name (stable across machines)."""
    return zlib.crc32(Path(path).name.encode("utf-8")) % 100 < fraction_percent


def list_photos(folder: str | Path, held_out: bool | None = None) -> list[Path]:
    """Image files under ``folder`` (recursively), optionally only the train or held-out split."""
    paths = sorted(
        p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    if held_out is None:
        return paths
    return [p for p in paths if is_held_out(p) == held_out]


def load_clean_photo(path: str | Path) -> np.ndarray:
    """An 8/16-bit photo as ``(H, W, 3)`` float32 sRGB in [0, 1] (grey is replicated)."""
    import imageio.v3 as iio

    image = np.asarray(iio.imread(path))
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = image[..., :3]
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    return image.astype(np.float32) / np.float32(scale)


def synthesise_pair(
    srgb: np.ndarray,
    rng: np.random.Generator,
    *,
    ratio: float | None = None,
    profile: NoiseProfile | None = None,
    cfa: str | None = None,
    name: str = "synthetic",
    wide_wb_fraction: float = 0.0,
    k: float | None = None,
    sensor: str = "bayer",
) -> TrainingPair:
    """Make a (dark, clean) pair from an sRGB photo.

    Unprocess with a random camera, white balance and Bayer layout (or, for ``sensor``
    ``"x-trans"``, the X-Trans pattern at a random phase: where a crop of a real sensor starts
    inside the 6x6 tile); draw the ratio (unless given) and a noise realisation of a random (or
    the given) profile at a random ISO; darken and add noise in the raw domain.

    Args:
        srgb: ``(H, W, 3)`` float sRGB in [0, 1]; cropped to even sizes (to multiples of 6
            for X-Trans: whole periods, so flips keep the pattern's phase).
        k: the system gain to use (default: drawn over the profile's range).
        sensor: ``"bayer"`` or ``"x-trans"``.
    """
    if sensor not in SENSORS:
        raise ValueError(f"sensor must be one of {', '.join(SENSORS)}, got {sensor!r}")
    period = 6 if sensor == "x-trans" else 2
    h, w = srgb.shape[0] // period * period, srgb.shape[1] // period * period
    params = sample_unprocess_params(rng, cfa=cfa, wide_wb_fraction=wide_wb_fraction)
    pattern = cfa_from_name(params.cfa)
    if sensor == "x-trans":  # drawn after the Bayer recipe's numbers, which stay as they were
        top, left = (int(v) for v in rng.integers(0, 6, size=2))
        pattern = xtrans_pattern(top, left)
    clean = unprocess(srgb[:h, :w], params)
    used_ratio = sample_ratio(rng) if ratio is None else float(ratio)
    if profile is None:
        profile = PROFILES[list(PROFILES)[int(rng.integers(len(PROFILES)))]]
    noise = profile.sample_params(rng, k=k)
    dark = synthesise_dark(mosaic(clean, pattern), used_ratio, noise, profile, rng,
                           cfa=pattern)  # fmt: skip
    span = params.white_level - params.black_level
    dn = np.clip(dark * np.float32(span) + np.float32(params.black_level), 0, params.white_level)
    frame = RawFrame(
        mosaic=dn.astype(np.float32),
        cfa_pattern=pattern,
        black_level=np.full(pattern.shape, params.black_level, np.float32),
        white_level=float(params.white_level),
        wb_gains=np.asarray(params.wb_gains, np.float32),
        cam_to_srgb=params.camera.cam_to_srgb,
        exif=ExifInfo(make="Synthetic", model=f"{params.camera.name} / {profile.camera}"),
    )
    return TrainingPair(name=name, dark=frame, ratio=used_ratio, target=clean,
                        noise=noise_level_from_params(noise, profile))  # fmt: skip


def crop_pair(pair: TrainingPair, top: int, left: int, height: int, width: int) -> TrainingPair:
    """Crop both halves; offsets and sizes are rounded down to whole CFA periods (even, or
    multiples of 6 for X-Trans) so the CFA phase is kept."""
    n = pair.dark.period
    top, left = top - top % n, left - left % n
    height, width = height - height % n, width - width % n
    dark = pair.dark.crop(top, left, height, width)
    target = pair.target[top : top + height, left : left + width]
    return replace(pair, dark=dark, target=np.ascontiguousarray(target))


def flip_pair(
    pair: TrainingPair, horizontal: bool, vertical: bool, transpose: bool
) -> TrainingPair:
    """Mirror/transpose the dark mosaic and the target together.

    The mosaic is flipped pixel by pixel, so the Bayer layout changes (mirroring RGGB
    horizontally gives GRBG); the CFA pattern and black levels are flipped with it, and the
    next :func:`~engine.render.packing.pack_bayer` puts the colours back into R, G1, B, G2 order
    with their true positions. (Flipping the packed planes instead would shift colours by a pixel.)
    """
    mos, tgt = pair.dark.mosaic, pair.target
    pattern, black = pair.dark.cfa_pattern, pair.dark.black_level
    if horizontal:
        mos, tgt, pattern, black = mos[:, ::-1], tgt[:, ::-1], pattern[:, ::-1], black[:, ::-1]
    if vertical:
        mos, tgt, pattern, black = mos[::-1], tgt[::-1], pattern[::-1], black[::-1]
    if transpose:
        mos, tgt = mos.T, np.swapaxes(tgt, 0, 1)
        pattern, black = pattern.T, black.T
    dark = replace(
        pair.dark,
        mosaic=np.ascontiguousarray(mos),
        cfa_pattern=np.ascontiguousarray(pattern),
        black_level=np.ascontiguousarray(black),
    )
    return replace(pair, dark=dark, target=np.ascontiguousarray(tgt))


def to_rggb(pair: TrainingPair) -> TrainingPair:
    """The pair mirrored so its dark frame has RGGB geometry.

    See :func:`engine.render.packing.rggb_mirror`; the target is mirrored with it. X-Trans
    pairs are returned as they are (their packing is by position, never mirrored).
    """
    if pair.dark.is_xtrans:
        return pair
    rows, columns = rggb_mirror(pair.dark.cfa_pattern)
    if not (rows or columns):
        return pair
    return flip_pair(pair, horizontal=columns, vertical=rows, transpose=False)


def crop_sides(height: int, width: int, crop: int, *, xtrans: bool) -> tuple[int, int]:
    """``(height, width)`` of a training crop of at most ``crop`` from a ``height`` x
    ``width`` picture (the whole picture when smaller), in whole CFA periods and whole packed
    pixels: even for Bayer, multiples of :data:`XTRANS_CROP_STEP` for X-Trans (of 6 where a
    side is under 12). The one rule for synthetic photos and real pairs alike. (A Bayer side
    under 2 or an X-Trans side under 6 gives 0; real frames and training photos are far
    larger.)"""
    step = XTRANS_CROP_STEP if xtrans else 2

    def cut(side: int) -> int:
        side = min(crop, side)
        return side // 6 * 6 if xtrans and side < step else side // step * step

    return cut(height), cut(width)


def training_crop_size(pair: TrainingPair, crop: int) -> tuple[int, int]:
    """``(height, width)`` of a training crop of at most ``crop`` of ``pair``
    (:func:`crop_sides`)."""
    return crop_sides(pair.dark.height, pair.dark.width, crop, xtrans=pair.dark.is_xtrans)


def random_crop_and_flip(pair: TrainingPair, crop: int, rng: np.random.Generator) -> TrainingPair:
    """A random window of :func:`training_crop_size` (smaller frames are used whole) and a
    random flip. Crops start on whole CFA periods (:func:`crop_pair`); a flipped X-Trans tile
    is the tile at another phase, and the pattern travels with the crop."""
    ch, cw = training_crop_size(pair, crop)
    top = int(rng.integers(0, pair.dark.height - ch + 1))
    left = int(rng.integers(0, pair.dark.width - cw + 1))
    out = crop_pair(pair, top, left, ch, cw)
    flips = rng.random(3) < 0.5
    return flip_pair(out, bool(flips[0]), bool(flips[1]), bool(flips[2]))


class SyntheticPairSource:
    """Random training pairs from clean photos (the photos are cached in memory as 8-bit).

    Args:
        photos: image paths.
        crop: crop side in sensor pixels (cropped from the photo before unprocessing).
        profiles: noise profiles to draw from (default: all published ones).
        wide_wb_fraction: share of pairs whose white balance comes from the wide range
            (:data:`engine.train.unprocess.WIDE_WB_GAIN_RANGE`) instead of Brooks' daylight range.
        ratio_range: exposure ratios, drawn log-uniformly (``None``: :func:`sample_ratio`'s
            seed-variant recipe).
        clean_fraction: share of near-clean pairs: ratio 1 at the profile's lowest gain, where
            the right output is the input demosaicked.
        sensor: ``"bayer"`` or ``"x-trans"`` pairs (:func:`synthesise_pair`); crops
            are cut by :func:`crop_sides`.
    """

    def __init__(
        self,
        photos: Sequence[Path],
        crop: int = 512,
        profiles: Sequence[NoiseProfile] | None = None,
        wide_wb_fraction: float = TRAIN_WIDE_WB_FRACTION,
        ratio_range: tuple[float, float] | None = None,
        clean_fraction: float = 0.0,
        sensor: str = "bayer",
    ) -> None:
        if sensor not in SENSORS:
            raise ValueError(f"sensor must be one of {', '.join(SENSORS)}, got {sensor!r}")
        if not photos:
            raise ValueError("no training photos")
        self.photos = list(photos)
        self.crop = crop
        self.profiles = list(profiles or PROFILES.values())
        self.wide_wb_fraction = wide_wb_fraction
        self.ratio_range, self.clean_fraction = ratio_range, clean_fraction
        self.sensor = sensor
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.photos)

    def _photo(self, index: int) -> np.ndarray:
        if index not in self._cache:
            self._cache[index] = (load_clean_photo(self.photos[index]) * 255.0 + 0.5).astype(
                np.uint8
            )
        return self._cache[index]

    def sample(self, rng: np.random.Generator) -> TrainingPair:
        index = int(rng.integers(len(self.photos)))
        photo = self._photo(index)
        h, w = photo.shape[:2]
        ch, cw = crop_sides(h, w, self.crop, xtrans=self.sensor == "x-trans")
        top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        patch = photo[top : top + ch, left : left + cw].astype(np.float32) / 255.0
        # Flips of the sRGB patch happen before mosaicking, so they are trivially CFA-correct.
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        if rng.random() < 0.5:
            patch = patch[::-1]
        if rng.random() < 0.5:
            patch = np.swapaxes(patch, 0, 1)
        profile = self.profiles[int(rng.integers(len(self.profiles)))]
        ratio, k = None, None
        if self.clean_fraction > 0 and rng.random() < self.clean_fraction:
            ratio, k = 1.0, profile.k_min
        elif self.ratio_range is not None:
            ratio = sample_ratio(rng, self.ratio_range)
        return synthesise_pair(np.ascontiguousarray(patch), rng, profile=profile,
                               name=self.photos[index].name, ratio=ratio, k=k,
                               wide_wb_fraction=self.wide_wb_fraction,
                               sensor=self.sensor)  # fmt: skip


def held_out_pairs(
    photos: Sequence[Path],
    ratios: Sequence[float],
    seed: int = 2018,
    max_side: int | None = 512,
    sensor: str = "bayer",
) -> list[TrainingPair]:
    """Deterministic evaluation pairs: every photo at every ratio, same noise on every run.

    ``max_side`` centre-crops large photos so a CPU evaluation stays affordable; ``sensor``
    makes Bayer or X-Trans pairs (:func:`synthesise_pair`: the same scenes, cameras, white
    balances and ratios; the X-Trans phase is drawn before the noise, so the noise differs).
    """
    pairs = []
    for i, path in enumerate(photos):
        photo = load_clean_photo(path)
        if max_side:
            h, w = photo.shape[:2]
            ch, cw = min(h, max_side), min(w, max_side)
            top, left = (h - ch) // 2, (w - cw) // 2
            photo = photo[top : top + ch, left : left + cw]
        for ratio in ratios:
            rng = np.random.default_rng([seed, i, int(ratio)])
            pairs.append(
                synthesise_pair(
                    photo, rng, ratio=ratio, name=f"{Path(path).stem}@x{ratio:g}", sensor=sensor
                )
            )
    return pairs
