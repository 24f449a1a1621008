"""Fine detail back from the classical render, where it stands above the noise.

A denoising network removes some texture with the noise (the default keeps about half of the
truth's fine detail at x1-x4 and less above). The classical render has all the texture and all
the noise. Their difference, ``classical - network``, is therefore the lost detail plus noise
of a known size: the noise level (:class:`~engine.noise.NoiseLevel`) says how large the noise
is at each pixel. A local Wiener weight keeps the part of that difference whose local energy
stands above the noise's: ``w = max(E - s², 0) / E``, with ``E`` the difference's mean square
over a :data:`DETAIL_WINDOW`-pixel square and ``s²`` the noise variance expected there. In a
flat noisy area ``E ≈ s²`` and nothing comes back; along grass, brick or hair ``E >> s²`` and
the texture returns. Only the luminance of the difference is restored, measured and added
back in white-balanced camera RGB, so the restored detail is neutral grey: chroma noise, the
ugliest kind, never returns. The read noise's heavy tails still put a lone outlier above the
noise now and then, which came back as a black or white speck in dark noisy areas at x16 and
above; so the restored detail may change a pixel's luminance by at most a factor
:data:`DETAIL_LIMIT` either way, where little around the pixel is texture. Where most of a
:data:`SPECK_SUPPORT`-pixel square is texture (its mean weight between the two
:data:`SPECK_FREE` bounds), the limit is lifted, gradually: texture hides a lone speck, and it
is where the limit cost the most detail. One outlier's own weight, spread by the demosaic and
the energy window over about 6x6 pixels, covers a sixth of that square, too little to lift it
(on Bayer frames: LibRaw's X-Trans interpolation spreads it wider, and X-Trans keeps the limit,
:data:`SPECK_LIFT_SENSORS`). The noise rule was chosen on DHT's renders; X-Trans renders carry
more luminance noise, :data:`DEMOSAIC_NOISE`.

Measured on the held-out synthetic pairs (``docs/evaluation/low-ratios``): see the model card
of ``fast`` and ``docs/evaluation/low-ratios/table.md``.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from engine.noise import NoiseLevel

#: Side of the square, in output pixels, over which the difference's energy is measured.
DETAIL_WINDOW = 5
#: The most the restored detail may brighten a pixel's luminance by, or darken it by the inverse.
#: Chosen at 200 % against 2 and no limit: the only one without specks left, for 0.03-0.14 dB
#: and about a tenth of the detail less on the held-out pairs (docs/detail.md).
DETAIL_LIMIT = 1.5
#: Side of the square, in output pixels, whose mean weight says how much around a pixel is
#: texture (where the limit is lifted).
SPECK_SUPPORT = 15
#: Mean weights over that square at which the limit starts to be lifted, and is lifted entirely.
#: Chosen on the held-out pairs and at 200 % beside the limited render (docs/detail.md).
SPECK_FREE = (0.3, 0.6)
#: Output pixels the restoration reads on each side of a pixel (a region's extra context).
DETAIL_RADIUS = DETAIL_WINDOW // 2 + SPECK_SUPPORT // 2
#: How much larger the classical render's luminance noise is than the variance rule below
#: predicts, relative to DHT's (Bayer), for which the rule was chosen: LibRaw's X-Trans
#: interpolation leaves 1.2-1.4x DHT's on the same scenes and noise (docs/detail.md).
DEMOSAIC_NOISE = {"bayer": 1.0, "x-trans": 1.3}
#: Sensors whose speck limit texture around a pixel lifts. Not X-Trans: its interpolation
#: spreads an outlier wider, and on the held-out X-Trans pairs the lifted limit brought noise
#: back (x1 28.92 -> 28.76 dB, fine detail 0.89 -> 1.05 of the truth's; docs/detail.md).
SPECK_LIFT_SENSORS = ("bayer",)


def restore_detail(
    network: torch.Tensor,
    classical: torch.Tensor,
    level: NoiseLevel,
    ratio: float,
    wb_gains: np.ndarray,
    sensor: str = "bayer",
) -> torch.Tensor:
    """Add back the classical render's luminance detail that stands above the noise.

    The noise variance of the difference's luminance is taken as the mean of the three
    white-balanced channels' variances. After the demosaic a pixel's three colours share most
    of their noise (the missing two are interpolated from the same neighbours); for fully
    correlated channels of equal noise that mean is the luminance's variance, and with unequal
    noise it is a little above it. On the held-out pairs this setting, with no further factor,
    scored best at x16-x100 and within 0.02 dB of the best at x1-x4 (a smaller variance brought
    back noise, a larger one less detail).

    Args:
        network: ``(3, H, W)`` float32 linear camera RGB in [0, 1], the network's output;
            changed in place and returned.
        classical: ``(3, H, W)`` float32 linear camera RGB, the classical render of the same
            frame at the same ratio, on the same grid, its noise below black kept
            (``[-NOISE_FLOOR, 1]``, :func:`~engine.render.colour.classical_linear`).
        level: the frame's noise level.
        ratio: the amplification both were rendered at.
        wb_gains: ``(3,)`` or ``(4,)`` the frame's white-balance multipliers (R, G, B first).
        sensor: the frame's (``RawFrame.sensor``): its demosaic's noise, :data:`DEMOSAIC_NOISE`.

    Returns:
        ``network`` with the detail added, ``(3, H, W)`` float32; it can leave [0, 1] by the
        restored texture's amplitude (the colour path clips after the colour matrix).
    """
    out, base = network.numpy(), classical.numpy()
    factor = np.float32(DEMOSAIC_NOISE[sensor])
    gains = np.asarray(wb_gains, np.float32)[:3]
    thirds = gains / np.float32(3.0)  # a white-balanced mean's weights
    lum = np.zeros(out.shape[1:], np.float32)  # the difference's luminance, balanced
    bright = np.zeros_like(lum)  # the network's luminance, balanced
    noise = np.zeros_like(lum)  # the expected noise variance of ``lum``
    scratch = np.empty_like(lum)
    for c in range(3):
        np.subtract(base[c], out[c], out=scratch)
        scratch *= thirds[c]
        lum += scratch
        np.multiply(out[c], thirds[c], out=scratch)
        bright += scratch
        level.variance(out[c], ratio, out=scratch)  # the noise at this pixel's signal
        scratch *= gains[c] * thirds[c] * factor  # the balanced channel's, a third of the mean
        noise += scratch
    np.multiply(lum, lum, out=scratch)
    energy = cv2.blur(scratch, (DETAIL_WINDOW, DETAIL_WINDOW), borderType=cv2.BORDER_REFLECT)
    weight = np.subtract(energy, noise, out=noise)  # in place: the variance is not needed again
    np.maximum(weight, np.float32(0.0), out=weight)
    # The noise floor is above 0, so the weight is already 0 wherever the energy is.
    np.divide(weight, energy, out=weight, where=energy > 0)
    lum *= weight
    limited = np.multiply(bright, np.float32(1.0 / DETAIL_LIMIT - 1.0), out=scratch)
    np.maximum(lum, limited, out=limited)  # darken by at most 1 / DETAIL_LIMIT...
    bright *= np.float32(DETAIL_LIMIT - 1.0)
    np.minimum(limited, bright, out=limited)  # ...brighten by at most DETAIL_LIMIT
    if sensor in SPECK_LIFT_SENSORS:
        # How far the limit is lifted: 0 where little of the square around is texture, 1 where
        # most.
        free = cv2.blur(weight, (SPECK_SUPPORT, SPECK_SUPPORT), dst=energy,
                        borderType=cv2.BORDER_REFLECT)  # fmt: skip
        free -= np.float32(SPECK_FREE[0])
        free *= np.float32(1.0 / (SPECK_FREE[1] - SPECK_FREE[0]))
        np.clip(free, np.float32(0.0), np.float32(1.0), out=free)
        lum -= limited  # what the limit held back, given back as far as the texture allows
        lum *= free
        lum += limited
    else:
        np.copyto(lum, limited)  # not a rebinding: ``limited`` is the scratch buffer used below
    for c in range(3):
        np.divide(lum, gains[c], out=scratch)
        out[c] += scratch
    return network
