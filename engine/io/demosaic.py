"""The classical demosaic: a RAW frame's mosaic, normalised and amplified, to linear camera RGB.

What every path stands on (the classical render, ``--model none``, the "before" image, the
network-free baselines, the detail restoration's source and the default network's base):
black subtraction and the exposure ratio (:func:`normalise_mosaic`), then LibRaw's DHT
(:func:`demosaic`), keeping the noise below black where a render asks for it
(:func:`demosaic_below_black`, :func:`classical_linear`). NumPy, OpenCV and LibRaw only, no
torch: a fresh ``darkroom-cli`` makes the first photo's classical render on a worker thread while
torch loads (:mod:`engine.io.ahead`).
"""

from __future__ import annotations

import cv2
import numpy as np

from engine.io.cfa import cfa_pattern_of
from engine.io.dng import MIN_LIBRAW_SIZE
from engine.io.libraw import libraw_demosaic
from engine.io.raw import RawFrame


def normalise_mosaic(frame: RawFrame, ratio: float = 1.0, clip: bool = True) -> np.ndarray:
    """Black-subtract, scale to [0, 1] of the sensor's range, amplify by ``ratio``.

    Returns:
        ``(H, W)`` float32; clipped to [0, 1] when ``clip``.
    """
    mosaic = frame.mosaic
    black = frame.black_map()
    scale = (np.float32(ratio) / (np.float32(frame.white_level) - black)).astype(np.float32)
    out = mosaic.astype(np.float32)
    out -= black
    out *= scale
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return out


# OpenCV names Bayer codes after the second row's first two pixels, so RGGB is "BayerBG".
_OPENCV_BAYER = {
    "RGGB": cv2.COLOR_BayerBG2RGB,
    "BGGR": cv2.COLOR_BayerRG2RGB,
    "GRBG": cv2.COLOR_BayerGB2RGB,
    "GBRG": cv2.COLOR_BayerGR2RGB,
}


def demosaic(
    mosaic: np.ndarray,
    cfa: str | np.ndarray,
    origin: tuple[int, int] = (0, 0),
    workers: int | None = None,
) -> np.ndarray:
    """Demosaic a normalised mosaic with LibRaw (:func:`engine.io.libraw_demosaic`): DHT for a
    Bayer layout, LibRaw's own X-Trans interpolation (Markesteijn's) for a 6x6 one.

    The classical path (``--model none``), the "before" image and the network-free baselines
    all stand on this; DHT was chosen by PSNR against the truth and speed (docs/demosaic.md).
    Bayer mosaics smaller than LibRaw accepts (a few pixels) are interpolated bilinearly.

    Args:
        mosaic: ``(H, W)`` float32 in [0, 1] (black-subtracted, normalised).
        cfa: the layout of the mosaic's top-left 2x2 block, e.g. ``"RGGB"``, or its CFA
            pattern (``RawFrame.cfa_pattern``: 2x2, or 6x6 for X-Trans).
        origin: where the mosaic lies in its file's mosaic (``RawFrame.origin``): an X-Trans
            crop is demosaicked as the whole mosaic is (:func:`engine.io.libraw_demosaic`).
        workers: threads LibRaw demosaics on (bands of the mosaic; the same pixels however
            many); ``None``: every core this process may use.

    Returns:
        ``(H, W, 3)`` float32 linear camera RGB in [0, 1].
    """
    return _from_16_bits(_demosaic_16_bits(mosaic, cfa, origin, workers))


def _demosaic_16_bits(
    mosaic: np.ndarray, cfa: str | np.ndarray, origin: tuple[int, int], workers: int | None
) -> np.ndarray:
    """:func:`demosaic`'s LibRaw (or OpenCV) output: ``(H, W, 3)`` uint16, 65535 = 1."""
    pattern = cfa_pattern_of(cfa)
    # 16 bits keep 1/65535 steps, far below any visible level.
    scaled = np.clip(mosaic, 0.0, 1.0)  # one float copy, then in place (0.07-0.25 -> 0.03 s)
    scaled *= np.float32(65535.0)
    quantised = np.rint(scaled, out=scaled).astype(np.uint16)
    del scaled
    if min(quantised.shape) >= MIN_LIBRAW_SIZE or pattern.shape == (6, 6):
        return libraw_demosaic(quantised, pattern, origin=origin, workers=workers)
    name = "".join("RGB"[int(c)] for c in pattern.reshape(-1))
    return cv2.cvtColor(quantised, _OPENCV_BAYER[name])


def _from_16_bits(rgb: np.ndarray) -> np.ndarray:
    out = rgb.astype(np.float32)
    out *= np.float32(1.0 / 65535.0)
    return out


#: How far below black :func:`classical_linear` keeps noise when asked to (a share of white).
NOISE_FLOOR = 0.25
_LIFT = np.float32(1.0 + NOISE_FLOOR)


def classical_linear(
    frame: RawFrame,
    ratio: float,
    keep_negative: bool = False,
    follow_origin: bool = False,
    workers: int | None = None,
) -> np.ndarray:
    """What plain brightening gives: gain x ``ratio``, clip, demosaic.

    Args:
        keep_negative: keep the noise below black (down to ``-NOISE_FLOOR``) through the
            demosaic instead of clipping it at 0 first. Clipped noise averages above zero, more
            in red and blue, which white balance then multiplies by about 2: noisy shadows
            turned purple. Kept, it averages out as in darktable's pipeline, and
            :func:`engine.render.develop` clips only after the colour matrix. The rendering
            paths ask for this; training targets and baselines keep [0, 1].
        follow_origin: demosaic a crop as its file's whole mosaic is (its ``origin``; X-Trans
            only, up to 495 more lines each way): renders ask for this, so that a preview
            region is the export's pixels.
        workers: :func:`demosaic`'s.

    Returns:
        ``(H, W, 3)`` float32 linear camera RGB in [0, 1] (``[-NOISE_FLOOR, 1]`` with
        ``keep_negative``).
    """
    if keep_negative:
        return lifted_to_linear(classical_lifted(frame, ratio, follow_origin, workers))
    origin = frame.origin if follow_origin else (0, 0)
    return demosaic(normalise_mosaic(frame, ratio), frame.cfa_pattern, origin, workers)


def classical_lifted(
    frame: RawFrame, ratio: float, follow_origin: bool = False, workers: int | None = None
) -> np.ndarray:
    """:func:`classical_linear` with ``keep_negative`` as LibRaw hands it back, before it
    becomes float: lifted by ``NOISE_FLOOR`` and 16-bit, half the memory (73 MB at 12 MP) for
    a render kept a while before it is used (:class:`engine.io.ClassicalAhead`).

    Returns:
        ``(H, W, 3)`` uint16; :func:`lifted_to_linear` makes it exactly ``classical_linear(
        frame, ratio, keep_negative=True, ...)``.
    """
    origin = frame.origin if follow_origin else (0, 0)
    mosaic = normalise_mosaic(frame, ratio, clip=False)
    return _lifted_16_bits(mosaic, frame.cfa_pattern, origin, workers)


def demosaic_below_black(
    mosaic: np.ndarray,
    cfa: str | np.ndarray,
    origin: tuple[int, int] = (0, 0),
    workers: int | None = None,
) -> np.ndarray:
    """:func:`demosaic` of an unclipped ``(H, W)`` mosaic keeping its noise below black (down
    to ``-NOISE_FLOOR``; see :func:`classical_linear`). ``mosaic`` is clipped in place.

    Returns:
        ``(H, W, 3)`` float32 linear camera RGB in ``[-NOISE_FLOOR, 1]``.
    """
    return lifted_to_linear(_lifted_16_bits(mosaic, cfa, origin, workers))


def _lifted_16_bits(
    mosaic: np.ndarray, cfa: str | np.ndarray, origin: tuple[int, int], workers: int | None
) -> np.ndarray:
    np.clip(mosaic, -NOISE_FLOOR, 1.0, out=mosaic)
    # LibRaw demosaics unsigned data: lift the floor to 0 and back (the interpolation is
    # linear in the values, so the lift passes through it).
    mosaic += np.float32(NOISE_FLOOR)
    mosaic /= _LIFT
    return _demosaic_16_bits(mosaic, cfa, origin, workers)


def lifted_to_linear(rgb: np.ndarray) -> np.ndarray:
    """:func:`classical_lifted`'s ``(H, W, 3)`` uint16 -> float32 linear camera RGB in
    ``[-NOISE_FLOOR, 1]``."""
    out = _from_16_bits(rgb)
    out *= _LIFT
    out -= np.float32(NOISE_FLOOR)
    return out
