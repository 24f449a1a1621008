import math

import pytest

from engine.errors import DarkroomError
from engine.io import read_raw
from engine.render import estimate_ratio, parse_ratio


@pytest.mark.parametrize("text", ["0", "-5", "nan", "NaN", "inf", "abc", "", "1001", "0.5"])
def test_bad_ratios_rejected(text: str) -> None:
    with pytest.raises(DarkroomError):
        parse_ratio(text)


def test_good_ratios() -> None:
    assert parse_ratio("auto") is None
    assert parse_ratio("100") == 100.0
    assert parse_ratio("x250") == 250.0
    assert parse_ratio(1) == 1.0 and parse_ratio("1000") == 1000.0


@pytest.mark.parametrize("true_ratio", [8.0, 30.0, 100.0, 250.0, 300.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auto_ratio_within_factor_1_5(make_dng, true_ratio: float, seed: int) -> None:
    # A normally exposed scene (mean ~0.1-0.2 of the sensor range, like real daylight RAWs)
    # darkened by the true ratio, with read noise of a few DN as in real dark frames.
    import numpy as np

    from tests.conftest import smooth_scene

    scene = smooth_scene(96, 128, seed) * np.float32(0.35)
    path = make_dng(name=f"d{seed}.dng", height=96, width=128, ratio=true_ratio, noise=3.0,
                    seed=seed, scene=scene)  # fmt: skip
    estimate = estimate_ratio(read_raw(path))
    assert abs(math.log(estimate / true_ratio)) < math.log(1.5), estimate
