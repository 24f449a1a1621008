"""The Tukey-lambda distribution, ELD's model of heavy-tailed sensor read noise.

Its quantile function ``Q(u) = (u**lam - (1 - u)**lam) / lam`` has a closed form, so samples
come cheaply by inverse-transform sampling; ``lam < 0`` gives heavier-than-logistic tails and
``lam ~ 0.14`` is close to a Gaussian. :mod:`engine.noise.model` draws read noise from it.
"""

from __future__ import annotations

import math

import numpy as np

# Below this |lambda| the Tukey-lambda quantile is replaced by its logistic limit: expm1 keeps
# full precision down to here, and beyond it lambda * log(u) would underflow.
_TUKEY_LAMBDA_EPS = 1e-12

# u is kept this far from 0 and 1 so log(u) and log(1 - u) stay finite; it truncates the
# tails at about 5e-17 probability, far beyond anything a finite sample reaches.
_U_EPS = 2.0**-55


def tukey_lambda_quantile(u: np.ndarray, lam: float) -> np.ndarray:
    """Quantile function of the standard Tukey-lambda distribution.

    ``Q(u) = (u**lam - (1 - u)**lam) / lam``, and the logistic ``log(u / (1 - u))`` at
    ``lam = 0``. Written as ``(expm1(lam log u) - expm1(lam log(1-u))) / lam`` so it is
    continuous and accurate as ``lam`` approaches 0 (the naive form cancels catastrophically).

    Args:
        u: probabilities, any shape, float, in (0, 1).
        lam: shape parameter; lam < 0 gives heavier-than-logistic tails, lam ~ 0.14 is close to
            a Gaussian.

    Returns:
        float64 array of ``u``'s shape.
    """
    u = np.asarray(u, dtype=np.float64)
    log_u = np.log(u)
    log_v = np.log1p(-u)
    if abs(lam) < _TUKEY_LAMBDA_EPS:
        return log_u - log_v
    return (np.expm1(lam * log_u) - np.expm1(lam * log_v)) / lam


def tukey_lambda_variance(lam: float) -> float:
    """Variance of the standard Tukey-lambda distribution (finite for lam > -1/2).

    ``2/lam**2 * (1/(1 + 2 lam) - Gamma(lam + 1)**2 / Gamma(2 lam + 2))``; ``pi**2 / 3`` (the
    logistic) at lam = 0. Used to turn a (sigma, lambda) pair into an equivalent Gaussian
    sigma, e.g. for noise-level conditioning or tests.
    """
    if not math.isfinite(lam) or lam <= -0.5:
        raise ValueError(f"Tukey-lambda variance needs a finite lambda > -1/2, got {lam}")
    if abs(lam) < 1e-3:
        # The closed form cancels badly near 0; its Taylor series (coefficients computed with
        # 50-digit mpmath) is accurate to ~1e-10 here.
        return math.pi**2 / 3 + lam * (
            -11.387963880031283 + lam * (27.646382311762688 - lam * 59.82668028405663)
        )
    ratio = math.exp(2 * math.lgamma(lam + 1) - math.lgamma(2 * lam + 2))
    return 2.0 / lam**2 * (1.0 / (1.0 + 2.0 * lam) - ratio)


def sample_tukey_lambda(rng: np.random.Generator, lam: float, shape: tuple[int, ...]) -> np.ndarray:
    """Standard Tukey-lambda samples by inverse-transform sampling.

    Returns:
        float64 array of ``shape``; scale by sigma for read noise.
    """
    u = rng.random(shape)
    np.clip(u, _U_EPS, 1.0 - _U_EPS, out=u)
    return tukey_lambda_quantile(u, lam)
