"""The examples in the small tensor functions' docstrings run, and say what they do."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

import engine.evaluate.metrics
import engine.io.exposure
import engine.io.framing
import engine.io.naming
import engine.models.fast_ops
import engine.render.adjustments
import engine.render.colour
import engine.render.packing

MODULES = [
    engine.render.packing,
    engine.render.colour,
    engine.io.exposure,
    engine.io.framing,
    engine.io.naming,
    engine.render.adjustments,
    engine.evaluate.metrics,
    engine.models.fast_ops,
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{module.__name__} has no examples"
    assert result.failed == 0
