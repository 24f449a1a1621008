"""Classical (non-learned) denoising baselines for the evaluation table.

Both work on a gain image (the dark frame amplified by the exposure ratio, demosaicked and
developed to sRGB) and set their strength from the image's own noise level:

* :func:`estimate_noise`: Immerkaer's (1996) fast noise sigma estimate, and
  :func:`gain_noise_sigma`, the same corrected for the demosaic's smoothing;
* :func:`nlm_denoise`: OpenCV's non-local means (strengths from :func:`nlm_strengths`);
* :func:`bilateral_denoise`: an edge-preserving bilateral filter.

:mod:`engine.evaluate.table` runs them as the ``gain + NLM`` and ``gain + bilateral`` methods.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: Immerkaer's estimator assumes white noise; demosaicking low-passes the noise, so on a gain
#: image it reports about a third of the true per-pixel sigma (measured: 2.8-3.1x on synthetic
#: x100-x300 pairs against their references). Denoiser strengths use the corrected sigma.
DEMOSAIC_NOISE_GAIN = 3.0
#: Non-local means: luminance ``h = NLM_H_PER_SIGMA * sigma`` and colour ``hColor =
#: NLM_HCOLOR_PER_SIGMA * sigma`` (sigma in 8-bit levels), clipped to ``NLM_H_RANGE``. Colour
#: gets twice the strength because amplified dark frames are dominated by chroma noise.
NLM_H_PER_SIGMA = 0.5
NLM_HCOLOR_PER_SIGMA = 1.0
NLM_H_RANGE = (3.0, 100.0)
NLM_TEMPLATE, NLM_SEARCH = 7, 21  # OpenCV's recommended patch and search window sizes
#: Bilateral filter: range sigma ``BILATERAL_SIGMA_PER_NOISE * sigma``; spatial sigma in px.
BILATERAL_SIGMA_PER_NOISE = 3.0
BILATERAL_SPATIAL_SIGMA = 3.0
BILATERAL_DIAMETER = 9


def estimate_noise(image: np.ndarray) -> float:
    """Noise standard deviation of an image, in its own units (Immerkaer 1996).

    A 3x3 operator (the difference of two Laplacians) cancels smooth structure; the mean
    absolute response times ``sqrt(pi / 2) / 6`` is sigma for white Gaussian noise.

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` float; channels are averaged.
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 2:
        img = img[..., None]
    if min(img.shape[:2]) < 3:
        return 0.0
    op = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    sigmas = []
    for ch in range(img.shape[2]):
        response = cv2.filter2D(img[..., ch], cv2.CV_32F, op)[1:-1, 1:-1]
        sigmas.append(float(np.mean(np.abs(response))) * math.sqrt(math.pi / 2) / 6.0)
    return float(np.mean(sigmas))


def _to_u8(srgb: np.ndarray) -> np.ndarray:
    return (np.clip(srgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def gain_noise_sigma(srgb: np.ndarray) -> float:
    """Per-pixel noise sigma of a demosaicked image, in its units (e.g. [0, 1]).

    :func:`estimate_noise` times :data:`DEMOSAIC_NOISE_GAIN`, which undoes the demosaic's
    smoothing of the noise.
    """
    return DEMOSAIC_NOISE_GAIN * estimate_noise(srgb)


def nlm_strengths(srgb: np.ndarray) -> tuple[float, float]:
    """``(h, hColor)`` for :func:`nlm_denoise` from the image's noise (8-bit levels).

    OpenCV weighs patches by ``exp(-d^2 / h^2)`` without subtracting the noise's own ``2
    sigma^2``, so ``h`` well below sigma already averages pure-noise patches; the factors were
    checked on synthetic x100/x300 pairs (colour at 2x luminance scored about 3 dB more than equal
    strengths).
    """
    sigma = 255.0 * gain_noise_sigma(srgb)
    h = float(np.clip(NLM_H_PER_SIGMA * sigma, *NLM_H_RANGE))
    h_colour = float(np.clip(NLM_HCOLOR_PER_SIGMA * sigma, *NLM_H_RANGE))
    return h, h_colour


def nlm_denoise(srgb: np.ndarray, h: float | None = None) -> np.ndarray:
    """Non-local means (``cv2.fastNlMeansDenoisingColored``, 7x7 patches, 21x21 search) on the
    8-bit image.

    Args:
        srgb: ``(H, W, 3)`` float sRGB in [0, 1].
        h: strength for luminance and colour alike; ``None``: :func:`nlm_strengths`.

    Returns:
        ``(H, W, 3)`` float32 sRGB in [0, 1] (8-bit steps).
    """
    h_luma, h_colour = nlm_strengths(srgb) if h is None else (float(h), float(h))
    # OpenCV's colour NLM works in CIELAB and expects BGR.
    bgr = np.ascontiguousarray(_to_u8(srgb)[..., ::-1])
    out = cv2.fastNlMeansDenoisingColored(bgr, None, h_luma, h_colour, NLM_TEMPLATE, NLM_SEARCH)
    return out[..., ::-1].astype(np.float32) * np.float32(1.0 / 255.0)


def bilateral_denoise(srgb: np.ndarray) -> np.ndarray:
    """Edge-preserving bilateral filter on the float image (9 px diameter, spatial sigma 3).

    The range sigma is :data:`BILATERAL_SIGMA_PER_NOISE` x the noise sigma: pixels that differ by
    noise are averaged, edges well above the noise are kept. (OpenCV compares colours by the sum
    of the three channels' absolute differences, about 3.4 sigma for pure noise.)

    Args:
        srgb: ``(H, W, 3)`` float sRGB in [0, 1].

    Returns:
        ``(H, W, 3)`` float32 sRGB in [0, 1].
    """
    img = np.ascontiguousarray(srgb, dtype=np.float32)
    sigma_colour = max(BILATERAL_SIGMA_PER_NOISE * gain_noise_sigma(img), 1e-3)
    out = cv2.bilateralFilter(img, BILATERAL_DIAMETER, sigma_colour, BILATERAL_SPATIAL_SIGMA)
    return np.clip(out, 0.0, 1.0)
