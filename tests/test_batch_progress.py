"""The engine's batch: the whole batch's progress with the time left, and run_batch's order."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.io import ExportOptions, check_distinct_outputs, read_raw
from engine.render import Adjustments, BatchItem, BatchProgress, Enhancer, format_eta, run_batch


def test_the_time_left_is_said_in_round_figures() -> None:
    assert format_eta(3) == "about 5 s left"
    assert format_eta(42) == "about 40 s left"
    assert format_eta(150) == "about 2 min left"
    assert format_eta(5400) == "about 1.5 h left"


def test_batch_progress_covers_the_whole_batch_with_an_estimate() -> None:
    now = [0.0]
    reports: list[tuple[int, int, str]] = []
    tracker = BatchProgress(4, lambda d, t, m: reports.append((d, t, m)), clock=lambda: now[0])
    item = BatchItem(Path("a/IMG_1.ARW"), Path("out/IMG_1-darkroom.jpg"), "fast",
                     Adjustments(None))  # fmt: skip
    tracker.start_file(0, item)
    assert reports[-1] == (0, 1000, "1/4 IMG_1.ARW")  # nothing to estimate from yet
    now[0] = 10.0
    tracker(1, 2, "tile 1/2")
    assert reports[-1] == (125, 1000, "1/4 IMG_1.ARW · about 1 min left")
    tracker.start_file(3, item)
    now[0] = 40.0
    tracker(1, 1, "writing")
    assert reports[-1][0] == 1000


def test_run_batch_gives_each_file_its_model_and_reports_failures(make_dng, tmp_path) -> None:
    good = make_dng("good.dng", ratio=10.0)
    bad = tmp_path / "bad.dng"
    bad.write_bytes(b"not a raw file")
    items = [
        BatchItem(good, tmp_path / "good-none.jpg", "none", Adjustments(10.0)),
        BatchItem(bad, tmp_path / "bad.jpg", "none", Adjustments(10.0)),
        BatchItem(good, tmp_path / "good-missing.jpg", "no-such-model", Adjustments(None)),
    ]
    asked: list[str] = []

    def enhancer_for(name: str) -> Enhancer:
        asked.append(name)
        return Enhancer(name, device="cpu")

    started: list[int] = []
    outcomes = run_batch(items, enhancer_for, ExportOptions("jpeg"),
                         on_start=lambda i, _item: started.append(i))  # fmt: skip
    assert started == [0, 1, 2] and asked == ["none", "none", "no-such-model"]
    assert [o.ok for o in outcomes] == [True, False, False]
    assert outcomes[0].ratio == 10.0 and (tmp_path / "good-none.jpg").exists()
    assert "\n" not in outcomes[1].error and "\n" not in outcomes[2].error
    assert "no-such-model" in outcomes[2].error
    assert read_raw(good).mosaic.size  # the original is untouched and still reads


def test_two_inputs_may_not_share_an_output(tmp_path) -> None:
    with pytest.raises(Exception, match="would both be written to"):
        check_distinct_outputs([Path("a/IMG_1.ARW"), Path("a/IMG_1.DNG")],
                               [tmp_path / "IMG_1-darkroom.jpg"] * 2)  # fmt: skip
