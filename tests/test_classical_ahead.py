"""The first photo decoded and its classical render made while torch loads (engine.io.ahead)."""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.io import ClassicalAhead, classical_linear, estimate_ratio, read_raw, take_made_ahead


def _ahead(path: Path, ratio: float | None, wanted: bool = True) -> ClassicalAhead:
    ahead = ClassicalAhead(path, ratio, lambda _frame: wanted)
    ahead.join()
    return ahead


def test_the_render_made_ahead_is_the_classical_render_handed_over_once(make_dng) -> None:
    dark = np.full((70, 98, 3), 0.01, np.float32)  # near black: noise below it
    path = make_dng(height=70, width=98, ratio=8, noise=20, scene=dark)
    ahead = _ahead(path, 8.0)
    frame = ahead.decoded.result()
    made = take_made_ahead(frame, 8.0)
    assert made is not None
    expected = classical_linear(read_raw(path), 8.0, keep_negative=True, follow_origin=True)
    np.testing.assert_array_equal(made, expected)
    assert made.min() < 0  # the noise below black is kept, as the renders ask
    assert take_made_ahead(frame, 8.0) is None  # once


def test_only_that_frame_at_that_ratio_gets_it(make_dng) -> None:
    path = make_dng(height=64, width=96, ratio=4)
    ahead = _ahead(path, 4.0)
    frame = ahead.decoded.result()
    assert take_made_ahead(read_raw(path), 4.0) is None  # the same file read again
    assert take_made_ahead(frame, 4.5) is None  # another ratio: the renderer makes its own
    assert take_made_ahead(frame, 4.0) is None  # and that one was dropped with it


def test_an_estimated_ratio_is_the_renderers_estimate(make_dng) -> None:
    path = make_dng(height=64, width=96, ratio=30)
    frame = _ahead(path, None).decoded.result()
    assert take_made_ahead(frame, estimate_ratio(frame)) is not None


def test_nothing_is_made_when_not_wanted_and_nothing_is_kept_after_the_frame(make_dng) -> None:
    from engine.io import ahead as module

    path = make_dng(height=64, width=96)
    frame = _ahead(path, 2.0, wanted=False).decoded.result()
    assert take_made_ahead(frame, 2.0) is None
    frame = _ahead(path, 2.0).decoded.result()
    key = id(frame)
    assert key in module._MADE
    del frame
    gc.collect()
    assert key not in module._MADE  # an unused render goes with its frame


def test_a_failed_decode_is_read_raws_own_error(tmp_path: Path) -> None:
    from engine.errors import DarkroomError

    bad = tmp_path / "broken.dng"
    bad.write_bytes(b"not a raw file at all")
    ahead = _ahead(bad, 2.0)
    with pytest.raises(DarkroomError) as made_ahead:
        ahead.decoded.result()
    with pytest.raises(DarkroomError) as direct:
        read_raw(bad)
    assert str(made_ahead.value) == str(direct.value)


def test_renders_and_the_batch_use_it_and_give_the_same_pixels(make_dng, tmp_path: Path) -> None:
    from engine.io import ExportOptions
    from engine.render import Adjustments, BatchItem, Enhancer, run_batch
    from engine.render import batch as batch_module

    path = make_dng(height=66, width=100, ratio=6, noise=15)
    options = ExportOptions(fmt="tiff", bits=16)
    enhancer = Enhancer("none")
    items = [BatchItem(path, tmp_path / "plain.tif", "none", Adjustments(6.0))]
    assert run_batch(items, lambda _name: enhancer, options)[0].ok
    ahead = _ahead(path, 6.0)
    reads: list[Path] = []
    real_read = batch_module.read_raw
    batch_module.read_raw = lambda p: reads.append(p) or real_read(p)  # type: ignore[assignment]
    try:
        items = [BatchItem(path, tmp_path / "ahead.tif", "none", Adjustments(6.0))]
        assert run_batch(items, lambda _name: enhancer, options, ahead=ahead)[0].ok
    finally:
        batch_module.read_raw = real_read  # type: ignore[assignment]
    assert reads == []  # the decode made ahead was used
    frame = ahead.decoded.result()
    assert take_made_ahead(frame, 6.0) is None  # and so was the render

    import tifffile

    np.testing.assert_array_equal(
        tifffile.imread(tmp_path / "ahead.tif"), tifffile.imread(tmp_path / "plain.tif")
    )


def test_the_default_model_renders_the_same_with_it(make_dng) -> None:
    from engine.render import Enhancer

    path = make_dng(height=64, width=96, ratio=5, noise=25)
    enhancer = Enhancer("fast", precision="fp32")
    assert enhancer.restores_detail  # so the render reads the classical render
    plain = enhancer.render(read_raw(path), 5.0).linear_sensor
    frame = _ahead(path, 5.0).decoded.result()
    np.testing.assert_array_equal(enhancer.render(frame, 5.0).linear_sensor, plain)
    assert take_made_ahead(frame, 5.0) is None  # taken by the render


def test_the_work_needs_no_torch(make_dng) -> None:
    # The point of it: it runs while torch loads. A torch import here would serialise the two.
    path = make_dng(height=64, width=96, ratio=4)
    code = (
        "import sys; from engine.io import ClassicalAhead, take_made_ahead; "
        f"a = ClassicalAhead({str(path)!r}, 4.0, lambda f: True); a.join(); "
        "assert take_made_ahead(a.decoded.result(), 4.0) is not None; "
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def _cli_args(model: str, **extra: object) -> argparse.Namespace:
    values: dict[str, object] = {"engine": "local", "saved_settings": False, "model": model}
    values.update(extra)
    return argparse.Namespace(**values)


def test_the_cli_starts_it_only_where_the_render_uses_it(make_dng, tmp_path: Path) -> None:
    from engine.cli.enhance import _start_classical_ahead

    path = make_dng(height=64, width=96, ratio=4)
    frame = read_raw(path)
    for model, used in (("none", False), ("fast", True), ("baseline", False)):
        ahead = _start_classical_ahead([path], 4.0, _cli_args(model))
        assert ahead is not None
        ahead.join()
        assert ahead._wanted(frame) is used, model
        take_made_ahead(ahead.decoded.result(), 4.0)
    assert _start_classical_ahead([path], 4.0, _cli_args("fast", engine="ray")) is None
    assert _start_classical_ahead([path], 4.0, _cli_args("fast", saved_settings=True)) is None
    assert _start_classical_ahead([], 4.0, _cli_args("fast")) is None
    assert _start_classical_ahead([path, path], 4.0, _cli_args("fast")) is None  # a batch


def test_card_hints_read_bundled_library_and_path_cards(tmp_path: Path, monkeypatch) -> None:
    from engine.resources import card_hint

    assert card_hint("fast")["restores_detail"] is True  # type: ignore[index]
    assert card_hint("no-such-model") is None
    library = tmp_path / "library"
    library.mkdir()
    (library / "mine.json").write_text(json.dumps({"restores_detail": True}), encoding="utf-8")
    monkeypatch.setenv("DARKROOM_MODELS_DIR", str(library))
    assert card_hint("mine") == {"restores_detail": True}
    weights = tmp_path / "elsewhere" / "net.safetensors"
    weights.parent.mkdir()
    (weights.parent / "net.json").write_text("{not json", encoding="utf-8")
    assert card_hint(str(weights)) is None
    (weights.parent / "net.json").write_text('{"output_space": "srgb"}', encoding="utf-8")
    assert card_hint(str(weights)) == {"output_space": "srgb"}
