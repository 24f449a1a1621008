"""The invented camera of ``tools/finetune_experiment.py``, and its parts set back to Sony's."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from engine.noise import get_profile

TOOL = Path(__file__).resolve().parent.parent / "tools" / "finetune_experiment.py"


@pytest.fixture
def tool():
    spec = importlib.util.spec_from_file_location("finetune_experiment", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_invented_camera_is_unlike_sony(tool):
    sony, odd = get_profile("SonyA7S2"), tool.odd_camera()
    assert odd.read_intercept == pytest.approx(sony.read_intercept + math.log(2.0))
    assert odd.row_intercept == pytest.approx(sony.row_intercept + math.log(3.0))
    assert odd.lambda_min < sony.lambda_min and odd.k_min > sony.k_max


@pytest.mark.parametrize("part", ["read", "tails", "row"])
def test_one_part_set_back_to_sony(tool, monkeypatch, part):
    sony, odd = get_profile("SonyA7S2"), tool.odd_camera()
    monkeypatch.setattr(tool, "AS_SONY", (part,))
    back = tool.odd_camera()
    fields = {"read": ("read_intercept",), "tails": ("lambda_min", "lambda_max"),
              "row": ("row_intercept",)}[part]  # fmt: skip
    for name in ("read_intercept", "lambda_min", "lambda_max", "row_intercept"):
        expected = getattr(sony if name in fields else odd, name)
        assert getattr(back, name) == pytest.approx(expected)
    assert (back.k_min, back.k_max) == (odd.k_min, odd.k_max)  # K stays the invented one
    # The same generator draws the same numbers for either camera: the pairs stay paired.
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    odd.sample_params(a, k=40.0)
    back.sample_params(b, k=40.0)
    assert a.random() == b.random()
