"""Which model draws the live preview (lite stands in for bigger networks on a CPU)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from darkroom_app import preview


def test_cpu_previews_use_lite_when_it_has_weights(monkeypatch) -> None:
    monkeypatch.setattr(preview, "cpu_preview_model_available", lambda: True)
    assert preview.preview_model_for("baseline", device_is_cpu=True) == "lite"
    assert preview.preview_model_for("my-camera", device_is_cpu=True) == "lite"
    assert preview.preview_model_for("baseline", device_is_cpu=False) == "baseline"
    assert preview.preview_model_for("none", device_is_cpu=True) == "none"
    assert preview.preview_model_for("lite", device_is_cpu=True) == "lite"


def test_without_lite_weights_the_model_draws_its_own_preview(monkeypatch) -> None:
    monkeypatch.setattr(preview, "cpu_preview_model_available", lambda: False)
    assert preview.preview_model_for("baseline", device_is_cpu=True) == "baseline"


def test_lite_gets_a_larger_pixel_budget() -> None:
    region = (0, 0, 2848, 4256)
    small = preview.network_side(region)
    large = preview.network_side(region, preview.CPU_PREVIEW_MODEL_PIXELS)
    assert large > small
    assert large * large * 2848 / 4256 <= preview.CPU_PREVIEW_MODEL_PIXELS * 1.01
