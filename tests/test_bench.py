"""Smoke test of ``darkroom-cli bench``: it runs and prints sane figures (no timing asserts)."""

import json
import math

import pytest

from engine.cli import main


@pytest.mark.slow  # starts subprocesses
def test_bench_runs_and_reports_sane_figures(make_dng, capsys) -> None:
    dng = make_dng(height=64, width=96, ratio=50.0)
    code = main(["bench", str(dng), "--variants", "baseline,none", "--repeat", "1", "--json",
                 "--device", "cpu"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    rows = {r["variant"]: r for r in json.loads(out)}
    assert set(rows) == {"baseline", "none"}
    base = rows["baseline"]
    assert base["frame"] == "96x64" and base["device"] == "cpu"
    assert 0 < base["model_s"] < 600 and 0 < base["end_to_end_s"] < 600
    assert math.isclose(base["fps"], 1 / base["end_to_end_s"], rel_tol=1e-6)
    assert 50 < base["peak_rss_mb"] < 8000
    assert rows["none"]["model_s"] is None


def test_bench_table_format(make_dng, capsys) -> None:
    dng = make_dng(height=64, width=96)
    assert main(["bench", str(dng), "--variants", "none", "--repeat", "1"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("| variant |") and "| none |" in table
