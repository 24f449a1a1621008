import json
from pathlib import Path

import pytest
import torch

from engine.errors import ModelError
from engine.models import (
    ModelCard,
    create_model,
    load_model,
    model_entries,
    resolve_model,
    save_model,
)


def _save(tmp_path: Path, name: str = "tiny", **cfg: object) -> Path:
    model = create_model("baseline", base_features=4, **cfg)
    card = ModelCard(name=name, architecture="baseline", config=model.config, iterations=3)
    path = tmp_path / f"{name}.safetensors"
    save_model(model, card, path)
    return path


def test_round_trip_is_strict_and_fp16(tmp_path: Path) -> None:
    path = _save(tmp_path)
    model, card = load_model(path)
    assert card.architecture == "baseline" and card.iterations == 3
    reference = create_model("baseline", base_features=4)
    assert set(model.state_dict()) == set(reference.state_dict())
    from safetensors.torch import load_file

    assert all(t.dtype == torch.float16 for t in load_file(str(path)).values())
    assert not list(tmp_path.glob("*part"))


def test_mismatched_weights_rejected(tmp_path: Path) -> None:
    path = _save(tmp_path)
    card = json.loads(path.with_suffix(".json").read_text())
    card["config"]["base_features"] = 8  # card now disagrees with the tensors
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="do not match"):
        load_model(path)


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".ckpt"])
def test_pickle_checkpoints_refused_without_unpickling(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"evil{suffix}"
    torch.save({"x": torch.zeros(1)}, path)
    with pytest.raises(ModelError, match="refusing"):
        load_model(path)


def test_missing_card_and_corrupt_weights(tmp_path: Path) -> None:
    path = _save(tmp_path)
    path.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match="card"):
        load_model(path)
    path2 = _save(tmp_path, "other")
    path2.write_bytes(b"not safetensors at all")
    with pytest.raises(ModelError, match="unreadable"):
        load_model(path2)


def test_unknown_architecture_in_card(tmp_path: Path) -> None:
    path = _save(tmp_path)
    card = json.loads(path.with_suffix(".json").read_text())
    card["architecture"] = "transformer9000"
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="unknown architecture"):
        load_model(path)


def test_every_variant_listed_and_unknown_name_errors(tmp_path: Path, monkeypatch) -> None:
    names = [e.name for e in model_entries()]
    assert names[:6] == ["baseline", "attention", "gan", "uunet", "deep", "lite"]
    empty = tmp_path / "no-bundled-models"
    empty.mkdir()
    monkeypatch.setattr("engine.models.weights.bundled_models_dir", lambda: empty)
    with pytest.raises(ModelError, match="unknown model"):
        resolve_model("nonsense")
    for entry in model_entries():
        assert not entry.has_weights
        with pytest.raises(ModelError, match="no trained weights"):
            resolve_model(entry.name)
    user = _save(tmp_path, "my-camera")
    assert resolve_model("my-camera", [tmp_path]) == user


def test_five_shipped_variants_load_strictly_fp16_within_80_mb() -> None:
    from safetensors import safe_open

    from engine.resources import bundled_models_dir

    variants = ["baseline", "attention", "gan", "uunet", "deep"]
    total = 0
    for name in variants:
        path = resolve_model(name)
        assert path.parent == bundled_models_dir(), path
        total += path.stat().st_size
        with safe_open(str(path), framework="pt") as fh:
            assert all(fh.get_tensor(k).dtype == torch.float16 for k in fh.keys()), name
        _model, card = load_model(path)  # strict=True inside
        assert card.architecture == name and card.iterations > 0 and card.hardware
        assert card.metrics.get("psnr"), f"{name}: card has no measured row"
    assert total <= 80e6, f"shipped variants take {total / 1e6:.1f} MB"


def _card_json(tmp_path: Path, **changes: object) -> Path:
    path = _save(tmp_path)
    card = json.loads(path.with_suffix(".json").read_text())
    card.update(changes)
    path.with_suffix(".json").write_text(json.dumps(card))
    return path


def test_version_1_card_is_migrated(tmp_path: Path) -> None:
    """Format 1 kept a fitted noise profile as a JSON string in ``noise_profile``."""
    from engine.models import CARD_FORMAT_VERSION, read_card

    fitted = {"camera": "Sony ILCE-7S", "k_range": [0.1, 2.0]}
    path = _card_json(tmp_path, format_version=1, noise_profile=json.dumps(fitted))
    card = read_card(path)
    assert card.format_version == CARD_FORMAT_VERSION == 2
    assert card.noise_fit == fitted and "Sony ILCE-7S" in card.noise_profile
    plain = _card_json(tmp_path / "b", noise_profile="ELD calibrations")
    plain.with_suffix(".json").write_text(
        json.dumps({k: v for k, v in json.loads(plain.with_suffix(".json").read_text()).items()
                    if k not in ("format_version", "noise_fit")})
    )  # fmt: skip
    card = read_card(plain)
    assert card.noise_profile == "ELD calibrations" and card.noise_fit is None
    assert card.noise_fit_sets_level  # cards from before the field: the fitted profile's level
    assert card.restores_detail is False  # ...and their renders exactly as before
    load_model(plain)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format_version": 9}, "newer than this Darkroom"),
        ({"format_version": "2"}, "format_version"),
        ({"iterations": "many"}, "iterations must be a whole number"),
        ({"training_time_s": "long"}, "training_time_s must be a number"),
        ({"metrics": [1, 2]}, "metrics must be an object"),
        ({"config": "big"}, "config must be an object"),
        ({"name": 3}, "name must be text"),
        ({"noise_fit_sets_level": "no"}, "noise_fit_sets_level must be true or false"),
        ({"restores_detail": 1}, "restores_detail must be true or false"),
    ],
)
def test_bad_cards_are_one_line_model_errors(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    path = _card_json(tmp_path, **changes)
    with pytest.raises(ModelError, match=message) as info:
        load_model(path)
    assert "\n" not in str(info.value)


def test_deeply_nested_card_is_a_model_error(tmp_path: Path) -> None:
    path = _save(tmp_path)
    path.with_suffix(".json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelError, match="not a model card"):
        load_model(path)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"base_features": 2048}, "parameters; refusing"),
        ({"levels": 60}, "parameters|invalid config|do not match"),
        ({"base_features": 8}, "do not match"),
    ],
)
def test_a_card_cannot_make_the_app_build_a_giant_network(
    tmp_path: Path, config: dict[str, object], message: str
) -> None:
    """Checked on the meta device against the file's header: nothing big is allocated."""
    import resource
    import time

    path = _card_json(tmp_path, config={**json.loads(_save(tmp_path / "ok").with_suffix(
        ".json").read_text())["config"], **config})  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(ModelError, match=message) as info:
        load_model(path)
    assert "\n" not in str(info.value)
    assert time.perf_counter() - start < 10
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200  # a 2048-feature U-Net would take gigabytes


def test_damaged_cards_are_listed_disabled_with_their_reason(tmp_path: Path) -> None:
    good = _save(tmp_path, "good")
    bad = _save(tmp_path, "bad")
    bad.with_suffix(".json").write_text(json.dumps({"name": "bad", "architecture": "baseline",
                                                    "iterations": "many"}))  # fmt: skip
    (tmp_path / "nocard.safetensors").write_bytes(good.read_bytes())
    entries = {e.name: e for e in model_entries([tmp_path])}
    assert entries["good"].has_weights and entries["good"].problem is None
    assert not entries["bad"].has_weights and "iterations" in (entries["bad"].problem or "")
    assert not entries["nocard"].has_weights and "missing" in (entries["nocard"].problem or "")
    # Other models still resolve and load.
    load_model(resolve_model("good", [tmp_path]))
    with pytest.raises(ModelError, match="no trained weights"):
        resolve_model("bad", [tmp_path])
