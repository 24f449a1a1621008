"""Full-reference image quality metrics: PSNR and SSIM.

SSIM follows Wang, Bovik, Sheikh & Simoncelli, "Image Quality Assessment: From Error Visibility
to Structural Similarity" (IEEE TIP 2004): Gaussian window 11 / sigma 1.5, K1 = 0.01, K2 = 0.03,
averaged over the positions where the whole window fits. :mod:`engine.evaluate.table` scores every
method with these on the developed sRGB output.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# SSIM after Wang, Bovik, Sheikh & Simoncelli (IEEE TIP 2004).
SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03
# Rows per SSIM strip: bounds the float64 temporaries on 24-megapixel frames.
_SSIM_STRIP = 512


def _as_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    return a, b


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB; ``inf`` for identical images.

    Args:
        a, b: images of the same shape (e.g. ``(H, W, 3)`` float in [0, 1]).
        data_range: peak value (1 for float images).
    """
    a, b = _as_pair(a, b)
    mse = float(np.mean(np.square(a.astype(np.float64) - b.astype(np.float64))))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


def _gaussian_kernel() -> np.ndarray:
    x = np.arange(SSIM_WINDOW, dtype=np.float64) - (SSIM_WINDOW - 1) / 2
    kernel = np.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    return kernel / kernel.sum()


def _ssim_sum(x: np.ndarray, y: np.ndarray, c1: float, c2: float) -> tuple[float, int]:
    """Sum and count of the SSIM map of one channel over its 'valid' window positions.

    Args:
        x, y: ``(h, w)`` float64 strips of one channel.
    """
    kernel = _gaussian_kernel()

    def blur(img: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(img, cv2.CV_64F, kernel, kernel, borderType=cv2.BORDER_REFLECT)

    mu_x, mu_y = blur(x), blur(y)
    # E[x^2] - E[x]^2 in float64: float32 would lose the small variances of dark flat areas.
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    ssim_map = num / den
    # Wang et al. average only where the whole window fits ('valid'), so borders never count.
    r = SSIM_WINDOW // 2
    if min(x.shape) >= SSIM_WINDOW:
        ssim_map = ssim_map[r:-r, r:-r]
    return float(ssim_map.sum()), int(ssim_map.size)


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Mean structural similarity (Wang et al. 2004), averaged over channels.

    Gaussian window 11 x 11 with sigma 1.5, K1 = 0.01, K2 = 0.03, population (co)variances, the
    map averaged over positions where the whole window fits (MATLAB ``ssim_index`` / skimage
    with ``gaussian_weights=True``). Images smaller than the window use a reflected border.

    Args:
        a, b: ``(H, W)`` or ``(H, W, C)`` images of the same shape, e.g. float sRGB in [0, 1].
        data_range: peak value.

    Returns:
        SSIM in [-1, 1]; 1.0 for identical images.
    """
    a, b = _as_pair(a, b)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    h = a.shape[0]
    r = SSIM_WINDOW // 2
    means = []
    for ch in range(a.shape[2]):
        total, count = 0.0, 0
        if h < SSIM_WINDOW + 2 * _SSIM_STRIP or min(a.shape[:2]) < SSIM_WINDOW:
            chunks = [(0, h)]
        else:
            # Strips overlapping by the window's 2r rows give exactly the 'valid' map in pieces.
            starts = range(0, h - 2 * r, _SSIM_STRIP)
            chunks = [(s, min(h, s + _SSIM_STRIP + 2 * r)) for s in starts]
        for top, bottom in chunks:
            x = a[top:bottom, :, ch].astype(np.float64)
            y = b[top:bottom, :, ch].astype(np.float64)
            s, n = _ssim_sum(x, y, c1, c2)
            total, count = total + s, count + n
        means.append(total / count)
    return float(np.mean(means))


#: Scale of the detail measure: what a Gaussian of this sigma (pixels) removes is "detail".
DETAIL_SIGMA = 1.0


def high_pass(image: np.ndarray, sigma: float = DETAIL_SIGMA) -> np.ndarray:
    """The luminance's fine detail: ``(H, W, 3)`` or ``(H, W)`` float -> ``(H, W)`` float64,
    the mean of the channels minus its Gaussian blur."""
    grey = np.asarray(image, np.float64)
    grey = grey.mean(axis=2) if grey.ndim == 3 else grey
    return grey - cv2.GaussianBlur(grey, (0, 0), sigma)


def hf_energy_ratio(output: np.ndarray, reference: np.ndarray) -> float:
    """The output's fine-detail energy over the reference's: ``sum(hp(out)**2) /
    sum(hp(ref)**2)`` (:func:`high_pass`). Below 1: smoothed; above 1: noisier or harsher
    than the reference (noise counts as energy, see :func:`detail_kept`); ``nan`` for a
    reference without detail."""
    a, b = _as_pair(output, reference)
    hp_ref = high_pass(b)
    energy = float(np.sum(hp_ref * hp_ref))
    if energy == 0.0:
        return math.nan
    hp_out = high_pass(a)
    return float(np.sum(hp_out * hp_out)) / energy


def detail_kept(output: np.ndarray, reference: np.ndarray) -> float:
    """The share of the reference's fine detail an output keeps.

    The projection of the output's high-pass onto the reference's, over the reference's
    energy: ``sum(hp(out) * hp(ref)) / sum(hp(ref)**2)``. A blurred output scores below 1 in
    proportion to what it smoothed away; noise, uncorrelated with the reference, neither
    raises nor lowers it on average (a plain energy ratio would count noise as detail).
    1.0 for the reference itself; ``nan`` for a reference without detail.

    Examples:
        >>> import numpy as np
        >>> ref = np.random.default_rng(0).random((64, 64))
        >>> round(detail_kept(ref, ref), 3), round(detail_kept(0.5 * ref, ref), 3)
        (1.0, 0.5)
    """
    a, b = _as_pair(output, reference)
    hp_ref = high_pass(b)
    energy = float(np.sum(hp_ref * hp_ref))
    if energy == 0.0:
        return math.nan
    return float(np.sum(high_pass(a) * hp_ref)) / energy
