"""Which model draws the live preview (fast stands in for bigger networks on a CPU; fast and
its fine-tunes draw their own)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from darkroom_app import preview


def test_cpu_previews_of_big_networks_use_fast_when_it_has_weights(monkeypatch) -> None:
    monkeypatch.setattr(preview, "cpu_preview_model_available", lambda: True)
    assert preview.preview_model_for("baseline", device_is_cpu=True) == "fast"
    assert preview.preview_model_for("lite", device_is_cpu=True) == "fast"
    assert preview.preview_model_for("my-camera", device_is_cpu=True) == "fast"  # unknown
    assert preview.preview_model_for("baseline", device_is_cpu=False) == "baseline"
    assert preview.preview_model_for("none", device_is_cpu=True) == "none"
    assert preview.preview_model_for("fast", device_is_cpu=True) == "fast"


def test_a_fine_tune_of_fast_draws_its_own_preview(monkeypatch, tmp_path) -> None:
    from engine.models import ModelCard, create_model, save_model

    monkeypatch.setattr(preview, "cpu_preview_model_available", lambda: True)
    model = create_model("fast", widths=(4, 6, 8, 10, 12))
    save_model(model, ModelCard(name="my-fast", architecture="fast", config=model.config),
               tmp_path / "my-fast.safetensors")  # fmt: skip
    assert preview.preview_model_for("my-fast", True, (tmp_path,)) == "my-fast"
    _, after = preview.viewer_labels(10.0, "my-fast", False, True, 1.0, (tmp_path,))
    assert "preview:" not in after
    assert "(preview: fast)" in preview.viewer_labels(10.0, "baseline", False, True)[1]


def test_without_fast_weights_the_model_draws_its_own_preview(monkeypatch) -> None:
    monkeypatch.setattr(preview, "cpu_preview_model_available", lambda: False)
    assert preview.preview_model_for("baseline", device_is_cpu=True) == "baseline"


def test_the_cheap_network_gets_a_larger_pixel_budget() -> None:
    region = (0, 0, 2848, 4256)
    small = preview.network_side(region)
    large = preview.network_side(region, preview.CPU_PREVIEW_MODEL_PIXELS)
    assert large > small
    assert large * large * 2848 / 4256 <= preview.CPU_PREVIEW_MODEL_PIXELS * 1.01
