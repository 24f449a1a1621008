"""Which model draws which preview pass: on a CPU, fast stands in for slower networks until
their own render arrives; fast and its fine-tunes, the classical render and GPUs need none."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from darkroom_app import preview
from darkroom_app.preview_render import SURROUND, VIEW


def test_slow_networks_get_a_stand_in_on_a_cpu(monkeypatch) -> None:
    monkeypatch.setattr(preview, "stand_in_available", lambda: True)
    assert preview.stand_in_for("baseline", device_is_cpu=True) == "fast"
    assert preview.stand_in_for("lite", device_is_cpu=True) == "fast"
    assert preview.stand_in_for("my-camera", device_is_cpu=True) == "fast"  # unknown
    assert preview.stand_in_for("baseline", device_is_cpu=False) is None
    assert preview.stand_in_for("none", device_is_cpu=True) is None
    assert preview.stand_in_for("fast", device_is_cpu=True) is None
    monkeypatch.setattr(preview, "stand_in_available", lambda: False)
    assert preview.stand_in_for("baseline", device_is_cpu=True) is None


def test_a_fine_tune_of_fast_draws_itself(monkeypatch, tmp_path) -> None:
    from engine.models import ModelCard, create_model, save_model

    monkeypatch.setattr(preview, "stand_in_available", lambda: True)
    model = create_model("fast", widths=(4, 6, 8, 10, 12))
    save_model(model, ModelCard(name="my-fast", architecture="fast", config=model.config),
               tmp_path / "my-fast.safetensors")  # fmt: skip
    assert preview.stand_in_for("my-fast", True, (tmp_path,)) is None


def test_the_caption_names_a_stand_in_only_while_it_is_on_screen() -> None:
    _, waiting = preview.viewer_labels(10.0, "baseline", False, 1.0, stand_in="fast")
    assert waiting == "After · baseline ×10 (showing fast until baseline is ready)"
    _, done = preview.viewer_labels(10.0, "baseline", False, 0.5)
    assert done == "After · baseline ×10 · 50 %"
    before, _ = preview.viewer_labels(10.0, "none", True)
    assert before == "Before · as recorded ×1"


def _state(make_dng, model: str) -> preview.PreviewState:
    from engine.io import read_raw

    frame = read_raw(make_dng("f.dng", height=2848 // 8, width=4256 // 8))
    return preview.PreviewState(frame, 50.0, model, "cpu", True, (), None)


def test_passes_stand_in_then_surround_then_the_true_view(make_dng, monkeypatch) -> None:
    monkeypatch.setattr(preview, "stand_in_available", lambda: True)
    view = preview.ViewGeometry((10, 20, 100, 150), 150)  # 100 %: full resolution
    passes = preview.plan_passes(_state(make_dng, "baseline"), view, with_surround=True)
    assert [(p.role, p.drawn_by) for p in passes] == [
        (VIEW, "fast"), (SURROUND, "fast"), (VIEW, "baseline")]  # fmt: skip
    assert passes[-1].max_side == 150 and passes[-1].region == (10, 20, 100, 150)
    assert passes[1].region is None
    quick = preview.plan_passes(_state(make_dng, "fast"), view, with_surround=True)
    assert [(p.role, p.drawn_by) for p in quick] == [(VIEW, "fast"), (SURROUND, "fast")]
    fit = preview.plan_passes(_state(make_dng, "fast"), preview.ViewGeometry(None, 400), False)
    assert [(p.role, p.region, p.max_side) for p in fit] == [(VIEW, None, 400)]


def test_a_stand_in_keeps_to_its_pixel_budget() -> None:
    region = (0, 0, 2848, 4256)
    side = preview.network_side(region)
    assert side * side * 2848 / 4256 <= preview.CPU_STAND_IN_PIXELS * 1.01
