"""sRGB photos -> plausible linear camera RAW, after Brooks et al., "Unprocessing Images for
Learned Raw Denoising" (CVPR 2019).

Ordinary photos are abundant; RAW pairs are not. Running our own colour pipeline backwards
turns any sRGB image into a clean linear-camera mosaic with realistic white balance, colour
matrix, Bayer layout and levels, which :mod:`engine.noise` then darkens and corrupts.

The inverse is built against :func:`engine.render.colour.develop` (white balance with
:func:`engine.render.colour.highlight_gains`, clip, camera->sRGB matrix, clip, sRGB curve), so
``develop(unprocess(x, p), p.wb_gains, p.camera.cam_to_srgb)`` returns ``x`` (scaled by
``p.brightness`` in linear light) for every colour the camera gamut can hold. For the shipped
cameras the sRGB->camera matrices are all positive with rows summing to 1, so every sRGB colour
fits and only highlights pushed past white by a brightness above 1 clip.

Brooks also invert a global smoothstep tone curve. Our forward pipeline has no tone curve, so
that step is off by default (``inverse_tone=False``); turn it on when the source photos are
tone-mapped camera JPEGs and a model should learn to produce the flatter linear look.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.io import (
    BAYER_LAYOUTS,
    ExifInfo,
    RawFrame,
    cam_to_srgb_from_xyz,
    cfa_from_name,
    cfa_pattern_of,
    tile_pattern,
)
from engine.render import highlight_gains, srgb_decode

#: (black, white) levels in DN of common RAW formats: 14-bit with Sony's 512 black, 14-bit with
#: Canon's 2048 black, 12-bit with a 256 black.
SENSOR_LEVELS: tuple[tuple[float, float], ...] = (
    (512.0, 16383.0),
    (2048.0, 16383.0),
    (256.0, 4095.0),
)

# Brooks et al.'s white-balance ranges (red and blue gains, green = 1).
_RED_GAIN_RANGE = (1.9, 2.4)
_BLUE_GAIN_RANGE = (1.5, 1.9)
#: A wider range (red and blue each, log-uniform) that training mixes in: tungsten light,
#: cameras whose raw data is already near neutral (e.g. Kodak DC50, white balance 1, 1, 1) and
#: others outside Brooks' daylight range. Without it a network learns "camera RGB is green"
#: as a colour prior and tints such files green.
WIDE_WB_GAIN_RANGE = (1.0, 3.0)
# Brooks scale linear light by N(0.8, 0.1) (their 1 / rgb_gain). It is clipped here so a
# sample never brightens (that would blow highlights) nor darkens absurdly.
_BRIGHTNESS_MEAN, _BRIGHTNESS_STD, _BRIGHTNESS_RANGE = 0.8, 0.1, (0.5, 1.0)


@dataclass(frozen=True, eq=False)
class CameraColour:
    """A camera's colour response.

    Attributes:
        name: "Make Model".
        xyz_to_cam: ``(3, 3)`` float64 XYZ (D65) -> camera RGB matrix (dcraw's ``cam_xyz``,
            Adobe's ColorMatrix2), read-only.
    """

    name: str
    xyz_to_cam: np.ndarray

    def __post_init__(self) -> None:
        matrix = np.array(self.xyz_to_cam, dtype=np.float64)
        if matrix.shape != (3, 3) or not np.isfinite(matrix).all():
            raise ValueError(f"{self.name}: xyz_to_cam must be a finite 3x3 matrix")
        if abs(np.linalg.det(matrix)) < 1e-9:
            raise ValueError(f"{self.name}: xyz_to_cam is singular")
        matrix.setflags(write=False)
        object.__setattr__(self, "xyz_to_cam", matrix)

    @classmethod
    def from_adobe_coeff(cls, name: str, coeffs: Sequence[int]) -> CameraColour:
        """From a dcraw/LibRaw ``adobe_coeff`` row: 9 integers, XYZ->camera x 10000."""
        if len(coeffs) != 9:
            raise ValueError(f"{name}: adobe_coeff rows have 9 numbers, got {len(coeffs)}")
        return cls(name, np.asarray(coeffs, dtype=np.float64).reshape(3, 3) / 10000.0)

    @property
    def cam_to_srgb(self) -> np.ndarray:
        """``(3, 3)`` float32 white-balanced camera RGB -> linear sRGB; rows sum to 1."""
        return cam_to_srgb_from_xyz(self.xyz_to_cam)

    @property
    def srgb_to_cam(self) -> np.ndarray:
        """``(3, 3)`` float64 exact inverse of the float32 :attr:`cam_to_srgb` that
        :func:`engine.render.colour.develop` uses, so the round trip has no matrix error."""
        return np.linalg.inv(self.cam_to_srgb.astype(np.float64))


# XYZ->camera matrices x 10000 from LibRaw's adobe_coeff table (src/tables/colordata.cpp,
# "All matrices are from Adobe DNG Converter"); the Sony row matches
# /work/shared/reference/noise-calibrations.md. These are the five ELD calibration cameras,
# so unprocessed frames can be paired with a matching noise profile.
CAMERAS: dict[str, CameraColour] = {
    c.name: c
    for c in (
        # LibRaw: "ILCE-7S" (same matrix for ILCE-7S and ILCE-7SM2 = A7S II).
        CameraColour.from_adobe_coeff(
            "Sony ILCE-7S", (5838, -1430, -246, -3497, 11477, 2297, -748, 1885, 5778)
        ),
        CameraColour.from_adobe_coeff(
            "Nikon D850", (10405, -3755, -1270, -5461, 13787, 1793, -1040, 2015, 6785)
        ),
        CameraColour.from_adobe_coeff(
            "Canon EOS 5D Mark IV", (6446, -366, -864, -4436, 12204, 2513, -952, 2496, 6348)
        ),
        CameraColour.from_adobe_coeff(
            "Canon EOS 70D", (7034, -804, -1014, -4420, 12564, 2058, -851, 1994, 5758)
        ),
        CameraColour.from_adobe_coeff(
            "Canon EOS 700D", (6602, -841, -939, -4472, 12458, 2247, -975, 2039, 6148)
        ),
    )
}


def _check_layout(cfa: str) -> str:
    # Counting colours is not enough: "RGBG" has two greens but stacks them in one column.
    layout = str(cfa).upper()
    if layout not in BAYER_LAYOUTS:
        raise ValueError(f"not a Bayer layout: {cfa!r}; expected one of {', '.join(BAYER_LAYOUTS)}")
    return layout


@dataclass(frozen=True, eq=False)
class UnprocessParams:
    """Everything one unprocessed frame is made with.

    Attributes:
        camera: colour response (matrix) of the simulated camera.
        wb_gains: ``(3,)`` float32 as-shot white balance (R, G, B), normalised to G = 1.
        brightness: linear-light scale (Brooks' inverse digital gain), > 0; 1 keeps exposure.
        cfa: Bayer layout of the top-left 2x2 block, e.g. ``"RGGB"``.
        black_level, white_level: DN levels of the simulated RAW file (white <= 65535).
    """

    camera: CameraColour
    wb_gains: np.ndarray
    brightness: float = 1.0
    cfa: str = "RGGB"
    black_level: float = 512.0
    white_level: float = 16383.0

    def __post_init__(self) -> None:
        gains = np.array(self.wb_gains, dtype=np.float64).reshape(-1)
        if gains.shape != (3,) or not np.isfinite(gains).all() or (gains <= 0).any():
            raise ValueError(f"wb_gains must be 3 positive numbers, got {self.wb_gains}")
        gains = (gains / gains[1]).astype(np.float32)
        gains.setflags(write=False)
        object.__setattr__(self, "wb_gains", gains)
        object.__setattr__(self, "cfa", _check_layout(self.cfa))
        if not (np.isfinite(self.brightness) and self.brightness > 0):
            raise ValueError(f"brightness must be positive, got {self.brightness}")
        if not 0 <= self.black_level < self.white_level <= 65535:
            raise ValueError(
                f"need 0 <= black_level < white_level <= 65535, got "
                f"{self.black_level}, {self.white_level}"
            )


def sample_unprocess_params(
    rng: np.random.Generator,
    cfa: str | None = None,
    camera: str | None = None,
    wide_wb_fraction: float = 0.0,
) -> UnprocessParams:
    """Random parameters as Brooks et al. draw them.

    Red gain ~ U[1.9, 2.4], blue gain ~ U[1.5, 1.9] (green 1), brightness ~ N(0.8, 0.1)
    clipped to [0.5, 1]; camera (from :data:`CAMERAS`), Bayer layout and levels (from
    :data:`SENSOR_LEVELS`) uniformly, unless ``cfa`` / ``camera`` fix them. With probability
    ``wide_wb_fraction`` red and blue gains are instead each log-uniform in
    :data:`WIDE_WB_GAIN_RANGE`; at 0 no extra random number is drawn, so the held-out
    evaluation pairs stay exactly as they were.
    """
    if camera is None:
        colour = CAMERAS[list(CAMERAS)[int(rng.integers(len(CAMERAS)))]]
    elif camera in CAMERAS:
        colour = CAMERAS[camera]
    else:
        raise ValueError(f"unknown camera {camera!r}; known: {', '.join(CAMERAS)}")
    if wide_wb_fraction > 0 and rng.random() < wide_wb_fraction:
        lo, hi = np.log(WIDE_WB_GAIN_RANGE)
        red, blue = np.exp(rng.uniform(lo, hi, size=2))
    else:
        red = rng.uniform(*_RED_GAIN_RANGE)
        blue = rng.uniform(*_BLUE_GAIN_RANGE)
    brightness = float(np.clip(rng.normal(_BRIGHTNESS_MEAN, _BRIGHTNESS_STD), *_BRIGHTNESS_RANGE))
    layout = BAYER_LAYOUTS[int(rng.integers(len(BAYER_LAYOUTS)))] if cfa is None else cfa
    black, white = SENSOR_LEVELS[int(rng.integers(len(SENSOR_LEVELS)))]
    return UnprocessParams(
        camera=colour,
        wb_gains=np.array([red, 1.0, blue]),
        brightness=brightness,
        cfa=layout,
        black_level=black,
        white_level=white,
    )


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Brooks' global tone curve ``3x^2 - 2x^3`` on [0, 1] (input clipped). Same shape."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def inverse_smoothstep(y: np.ndarray) -> np.ndarray:
    """Inverse of :func:`smoothstep`: ``0.5 - sin(asin(1 - 2y) / 3)`` (input clipped)."""
    y = np.clip(y, 0.0, 1.0)
    return 0.5 - np.sin(np.arcsin(1.0 - 2.0 * y) / 3.0)


def unprocess(
    srgb: np.ndarray, params: UnprocessParams, *, inverse_tone: bool = False
) -> np.ndarray:
    """Turn an sRGB photo into linear camera RGB as the simulated camera would record it.

    Steps: optional inverse tone curve, inverse sRGB transfer, brightness, linear sRGB ->
    white-balanced camera RGB (inverse of ``cam_to_srgb``), clip to [0, 1], divide by the
    highlight-normalised white-balance gains (:func:`engine.render.colour.highlight_gains`).

    Args:
        srgb: ``(H, W, 3)`` float sRGB-encoded image in [0, 1] (values outside are clipped).
        params: camera, white balance, brightness (CFA and levels are not used here).
        inverse_tone: also undo Brooks' smoothstep tone curve (off: our pipeline has none).

    Returns:
        ``(H, W, 3)`` float32 linear camera RGB in [0, 1], before white balance.
    """
    image = np.asarray(srgb)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    encoded = np.clip(image.astype(np.float64), 0.0, 1.0)
    if inverse_tone:
        encoded = inverse_smoothstep(encoded)
    # The engine's own decoder, so develop()'s encoder is its exact inverse.
    linear = srgb_decode(torch.from_numpy(encoded)).numpy()
    linear *= params.brightness
    # Colours outside the camera's gamut clip here, exactly as develop() would clip them.
    balanced = np.clip(linear @ params.camera.srgb_to_cam.T, 0.0, 1.0)
    raw = balanced / highlight_gains(params.wb_gains).astype(np.float64)
    return np.clip(raw, 0.0, 1.0).astype(np.float32)


def mosaic(linear_rgb: np.ndarray, cfa: str | np.ndarray) -> np.ndarray:
    """Sample an RGB image through a colour filter array.

    Args:
        linear_rgb: ``(H, W, 3)`` float, H and W even.
        cfa: layout of the top-left 2x2 block, e.g. ``"GRBG"``, or a ``(2, 2)`` / ``(6, 6)``
            pattern of colour indices (an X-Trans one, :func:`engine.io.xtrans_pattern`), for
            the mosaic's top-left pixel.

    Returns:
        ``(H, W)`` float32, each pixel the channel its filter passes.
    """
    image = np.asarray(linear_rgb)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    h, w, _ = image.shape
    if h % 2 or w % 2 or h == 0 or w == 0:
        raise ValueError(f"mosaic needs even, non-zero height and width, got {h}x{w}")
    pattern = cfa_from_name(_check_layout(cfa)) if isinstance(cfa, str) else cfa_pattern_of(cfa)
    index = tile_pattern(pattern, h, w).astype(np.intp)
    return np.take_along_axis(image, index[..., None], axis=2)[..., 0].astype(np.float32)


def to_raw_frame(linear_rgb: np.ndarray, params: UnprocessParams) -> RawFrame:
    """An in-memory :class:`RawFrame` holding ``linear_rgb`` as the simulated camera's file.

    Args:
        linear_rgb: ``(H, W, 3)`` float linear camera RGB in [0, 1] (e.g. from
            :func:`unprocess`), H and W even; clipped to [0, 1].
        params: gives the layout, levels, white balance and colour matrix.

    Returns:
        A frame whose ``mosaic`` is uint16 DN ``black + value * (white - black)``, rounded, so
        :func:`engine.render.packing.pack_bayer`, :func:`engine.render.colour.classical_linear` and
        :func:`engine.render.colour.develop_numpy` treat it like a decoded file.
    """
    values = np.clip(mosaic(linear_rgb, params.cfa).astype(np.float64), 0.0, 1.0)
    dn = params.black_level + values * (params.white_level - params.black_level)
    make, _, model = params.camera.name.partition(" ")
    return RawFrame(
        mosaic=np.rint(dn).astype(np.uint16),
        cfa_pattern=cfa_from_name(params.cfa),
        black_level=np.full((2, 2), params.black_level, dtype=np.float32),
        white_level=float(params.white_level),
        wb_gains=np.array(params.wb_gains, dtype=np.float32),
        cam_to_srgb=params.camera.cam_to_srgb,
        exif=ExifInfo(make=make or None, model=model or None),
    )
