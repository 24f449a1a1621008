"""A short, seeded run of the header fuzzer (tools/fuzz_headers.py) inside the test suite: every
damaged file is read and rendered, or refused in one line; nothing else."""

from __future__ import annotations

import importlib.util
import logging
import random
from pathlib import Path

import pytest

from engine.errors import DarkroomError
from engine.io import read_raw
from engine.render import Enhancer

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def _fuzzer() -> object:
    spec = importlib.util.spec_from_file_location("fuzz_headers", TOOLS / "fuzz_headers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [11, 12])
def test_mutated_headers_are_read_or_refused_in_one_line(
    tmp_path: Path, seed: int, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    fuzz = _fuzzer()
    seeds = sorted((TOOLS / "fuzz_corpus").glob("*.dng"))
    assert len(seeds) == 4
    rng = random.Random(seed)
    enhancer = Enhancer("none", device="cpu")
    outcomes = {"ok": 0, "refused": 0}
    for i in range(120):
        source = rng.choice(seeds)
        data, what = fuzz.mutate(source.read_bytes(), rng)  # type: ignore[attr-defined]
        folder = tmp_path / f"case{i}"
        folder.mkdir()
        path = folder / source.name
        path.write_bytes(data)
        try:
            enhancer.render_preview(read_raw(path), None, max_side=64)
            outcomes["ok"] += 1
        except DarkroomError as exc:
            assert "\n" not in str(exc), what
            outcomes["refused"] += 1
        assert [p.name for p in folder.iterdir()] == [source.name], what
        # Nothing of its own on stderr (LibRaw's or a library's log): the caller's one line is
        # all a user sees.
        assert capfd.readouterr().err == "", what
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING], what
    assert outcomes["ok"] > 20 and outcomes["refused"] > 20  # both kinds really happened
