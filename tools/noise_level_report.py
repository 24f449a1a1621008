"""How close the frame-only noise estimate gets to the true level (docs/noise.md).

    PYTHONPATH=. python tools/noise_level_report.py

Generated DNGs (the test suite's photo-like scene, Sony A7S2 noise at each ISO, darkened by
each ratio); prints estimate / truth of the noise standard deviation at the 10th, 50th and
90th percentile of the signal.
"""

import tempfile
from pathlib import Path

import numpy as np

from engine.io import read_raw
from engine.noise import (
    PROFILES,
    SONY_A7S2_ISO_PARAMS,
    estimate_noise_level,
    noise_level_from_params,
)
from tests.test_noise_level import _dark_dng

SONY = PROFILES["SonyA7S2"]
tmp = Path(tempfile.mkdtemp())
print("| ISO | x1 | x10 | x100 | x300 |\n|---|---|---|---|---|")
for iso in (100, 1600, 6400, 25600):
    row = []
    for ratio in (1, 10, 100, 300):
        path, clean = _dark_dng(tmp / "d.dng", iso, ratio, seed=iso + ratio)
        est = estimate_noise_level(read_raw(path))
        truth = noise_level_from_params(SONY_A7S2_ISO_PARAMS[iso], SONY)
        f = [
            est.sigma(float(np.quantile(clean, q)), 1.0)
            / truth.sigma(float(np.quantile(clean, q)), 1.0)
            for q in (0.1, 0.5, 0.9)
        ]
        row.append(" / ".join(f"{x:.2f}" for x in f))
    print(f"| {iso} | " + " | ".join(row) + " |")
