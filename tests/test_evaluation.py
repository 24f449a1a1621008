"""Evaluation: metrics against known values, the methods table, JSON and the contact sheet."""

from __future__ import annotations

import itertools
import json
import math
import warnings
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engine.errors import Cancelled, DarkroomError
from engine.evaluate import (
    BASELINE_METHODS,
    EvaluationResult,
    EvaluationSettings,
    contact_sheet,
    default_eval_pairs,
    estimate_noise,
    evaluate,
    metrics,
    psnr,
    ratio_label,
    ssim,
    write_report,
)
from engine.evaluate import results as evaluation
from engine.jobs import CancelToken
from engine.models import ModelCard, create_model, save_model
from engine.render import Enhancer, classical_linear, develop, mirror_image, pack_rggb
from engine.render.highlights import neutralise_highlights, packed_max
from engine.train import TrainingPair, is_held_out, synthesise_pair
from tests.conftest import smooth_scene

CPU = EvaluationSettings(device="cpu")


def _image(seed: int = 0, shape: tuple[int, int] = (20, 24)) -> np.ndarray:
    return smooth_scene(*shape, seed=seed)


# --------------------------------------------------------------------------------------------
# Metrics


def test_psnr_known_values_and_identical_images() -> None:
    a = np.full((8, 8, 3), 0.5, np.float32)
    assert psnr(a, a + 0.1) == pytest.approx(20.0, abs=1e-4)
    assert psnr(a * 255, a * 255 + 25.5, data_range=255) == pytest.approx(20.0, abs=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero RuntimeWarning allowed
        assert psnr(a, a) == math.inf
    with pytest.raises(ValueError, match="shape"):
        psnr(a, a[:4])


def _reference_ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Wang et al. 2004 written out: every valid 11x11 window, Gaussian weights, per channel."""
    x = np.arange(11) - 5.0
    g = np.exp(-(x**2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    channel_means = []
    for ch in range(a.shape[2]):
        values = []
        for i in range(a.shape[0] - 10):
            for j in range(a.shape[1] - 10):
                pa = a[i : i + 11, j : j + 11, ch].astype(np.float64)
                pb = b[i : i + 11, j : j + 11, ch].astype(np.float64)
                ma, mb = (window * pa).sum(), (window * pb).sum()
                va, vb = (window * (pa - ma) ** 2).sum(), (window * (pb - mb) ** 2).sum()
                cov = (window * (pa - ma) * (pb - mb)).sum()
                values.append(
                    ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
                )
        channel_means.append(np.mean(values))
    return float(np.mean(channel_means))


def test_ssim_matches_a_direct_implementation() -> None:
    a = _image(0)
    noisy = np.clip(a + np.random.default_rng(1).normal(0, 0.08, a.shape), 0, 1)
    b = noisy.astype(np.float32)
    assert ssim(a, b) == pytest.approx(_reference_ssim(a, b), abs=1e-6)
    assert ssim(a * 255, b * 255, data_range=255) == pytest.approx(ssim(a, b), abs=1e-6)


def test_ssim_identity_and_monotone_in_noise() -> None:
    a = _image(2, (48, 40))
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-9)
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1, a.shape)
    scores = [ssim(a, np.clip(a + s * noise, 0, 1)) for s in (0.01, 0.03, 0.1, 0.3)]
    assert all(x > y for x, y in itertools.pairwise(scores))
    assert scores[0] < 1.0


def test_ssim_strips_are_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    a = _image(3, (70, 30))
    b = np.clip(a + np.random.default_rng(2).normal(0, 0.05, a.shape), 0, 1)
    whole = ssim(a, b)
    monkeypatch.setattr(metrics, "_SSIM_STRIP", 16)  # forces four overlapping strips
    assert ssim(a, b) == pytest.approx(whole, abs=1e-12)


def test_noise_estimate_on_white_noise() -> None:
    flat = np.full((64, 64, 3), 0.5, np.float32)
    noisy = flat + np.random.default_rng(0).normal(0, 0.05, flat.shape).astype(np.float32)
    assert estimate_noise(noisy) == pytest.approx(0.05, rel=0.1)
    assert estimate_noise(flat) == 0.0


# --------------------------------------------------------------------------------------------
# Evaluation


def _synthetic_pairs(ratios: tuple[float, ...] = (100, 100, 100, 300)) -> list[TrainingPair]:
    return [
        synthesise_pair(
            smooth_scene(64, 64, seed), np.random.default_rng(seed), ratio=r, name=f"scene{seed}"
        )
        for seed, r in enumerate(ratios)
    ]


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    model = create_model("baseline", base_features=4)
    path = tmp_path / "tiny.safetensors"
    save_model(model, ModelCard(name="tiny", architecture="baseline", config=model.config), path)
    return path


def test_nlm_beats_plain_gain_and_table_shape(tiny_model: Path) -> None:
    pairs = _synthetic_pairs()
    calls: list[tuple[int, int, str]] = []
    result = evaluate(pairs, [str(tiny_model)], EvaluationSettings(device="cpu", sheet_pairs=3),
                      progress=lambda *a: calls.append(a))  # fmt: skip
    assert result.methods == [*BASELINE_METHODS, "tiny"]
    assert len(result.scores) == 4 * len(pairs)
    assert calls[-1][:2] == (16, 16) and len(calls) == 16

    gain, nlm = result.rows_for("gain"), result.rows_for("gain + NLM")
    assert nlm["by_ratio"]["x100"]["psnr"] > gain["by_ratio"]["x100"]["psnr"] + 3.0
    assert nlm["by_ratio"]["x100"]["ssim"] > gain["by_ratio"]["x100"]["ssim"]
    assert gain["by_ratio"]["x100"]["pairs"] == 3 and gain["pairs"] == 4
    # A model's row is found by the name it was given as, too (what training passes).
    assert result.rows_for(str(tiny_model)) == result.rows_for("tiny")

    table = result.table_markdown().splitlines()
    assert "4 pairs" in table[0] and evaluation.METRIC_NOTE in table[0]
    header = [c.strip() for c in table[2].strip("|").split("|")]
    assert header == ["Method", "x100 PSNR", "x100 SSIM", "x300 PSNR", "x300 SSIM",
                      "all PSNR", "all SSIM"]  # fmt: skip
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table[4:]]
    assert [r[0] for r in rows] == result.methods
    # Exactly one best per column here, and it is in bold; x100 PSNR of NLM is shown as computed.
    for col in range(1, 7):
        assert sum(r[col].startswith("**") for r in rows) >= 1
    nlm_row = rows[1]
    assert nlm_row[1].strip("*") == f"{nlm['by_ratio']['x100']['psnr']:.2f}"


def test_identical_output_gives_inf_and_strict_json() -> None:
    (pair,) = _synthetic_pairs((100,))
    # The target is exactly what plain gain produces, so "gain" equals the reference.
    exact = replace(pair, target=classical_linear(pair.dark, pair.ratio))
    result = evaluate([exact], [], CPU)
    assert result.rows_for("gain")["psnr"] == math.inf
    assert result.rows_for("gain")["ssim"] == pytest.approx(1.0)
    gain_row = next(line for line in result.table_markdown().splitlines() if "| gain |" in line)
    assert "**inf**" in gain_row
    data = json.loads(result.to_json())  # strict: allow_nan=False inside to_json
    assert "Infinity" not in result.to_json()
    assert data["summary"]["gain"]["psnr"] == "inf"
    assert data["per_pair"][0]["psnr"] == "inf" and data["per_pair"][0]["group"] == "x100"
    assert isinstance(data["summary"]["gain + NLM"]["psnr"], float)


@pytest.mark.parametrize("output_space", ["linear_camera", "srgb"])
def test_network_output_space_is_honoured(tmp_path: Path, output_space: str) -> None:
    model = create_model("baseline", base_features=4)
    path = tmp_path / f"net_{output_space}.safetensors"
    card = ModelCard(name="net", architecture="baseline", config=model.config,
                     output_space=output_space)  # fmt: skip
    save_model(model, card, path)
    (pair,) = _synthetic_pairs((100,))
    result = evaluate([pair], [str(path)], EvaluationSettings("cpu", include_baselines=False))
    assert result.methods == ["net"]

    packed, mirror = pack_rggb(pair.dark, pair.ratio)
    raw = Enhancer(str(path), device="cpu").runner.run(packed)
    out = mirror_image(torch.from_numpy(raw), mirror).clamp(0, 1)
    if output_space == "linear_camera":  # highlights fade to white, then the colour pipeline
        near_clip = packed_max(packed)
        if near_clip is not None:
            near_clip = mirror_image(near_clip, mirror)
            out = neutralise_highlights(out.contiguous(), near_clip, pair.dark.wb_gains)
        out = develop(out, pair.dark.wb_gains, pair.dark.cam_to_srgb)
    expected = out.permute(1, 2, 0).numpy()
    reference = develop(
        torch.from_numpy(pair.target).permute(2, 0, 1), pair.dark.wb_gains, pair.dark.cam_to_srgb
    ).permute(1, 2, 0)
    assert result.scores[0].psnr == pytest.approx(psnr(expected, reference.numpy()), abs=1e-6)


def test_cancel_and_empty_inputs() -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        evaluate(_synthetic_pairs((100,)), [], cancel=token)
    with pytest.raises(DarkroomError, match="no pairs"):
        evaluate([], [])
    with pytest.raises(DarkroomError, match="nothing to evaluate"):
        evaluate(_synthetic_pairs((100,)), [], EvaluationSettings(include_baselines=False))


def test_ratio_labels_group_exif_ratios() -> None:
    assert ratio_label(299.99998) == "x300" == ratio_label(300.2)
    assert ratio_label(2.5) == "x2.5"


def test_report_files_and_contact_sheet(tmp_path: Path) -> None:
    pairs = _synthetic_pairs((100, 300, 100))
    result = evaluate(pairs, [], EvaluationSettings("cpu", sheet_pairs=2, sheet_crop=47))
    assert len(result.sheet) == 2
    # Odd crop sizes become even (whole CFA periods), the same for every column.
    shapes = {im.shape for row in result.sheet for im in row.images.values()}
    assert shapes == {(46, 46, 3)}
    assert list(result.sheet[0].images) == ["input x1", *result.methods, "reference"]
    assert {ratio_label(r.ratio) for r in result.sheet} == {"x100", "x300"}  # both groups shown
    table, data, sheet = write_report(result, tmp_path / "report")
    assert table.read_text().startswith("Table: 3 pairs")
    assert json.loads(data.read_text())["pairs"] == 3
    image = cv2.imread(str(sheet))
    assert image is not None
    cols = 2 + len(result.methods)  # input, methods, reference
    assert image.shape[1] > cols * 46 and image.shape[0] > 2 * 46
    assert not list((tmp_path / "report").glob("*part"))

    # Smaller crops, one row: the sheet shrinks accordingly; the input column is near black
    # and the reference is not.
    small = contact_sheet(result, tmp_path / "one.png", crop=32, max_pairs=1)
    one = cv2.imread(str(small))[..., ::-1]
    assert one.shape[0] < image.shape[0] and one.shape[1] < image.shape[1]
    row = result.sheet[0]
    assert row.images["input x1"].mean() < 0.1 < row.images["reference"].mean()

    empty = EvaluationResult(methods=["gain"], scores=[], pair_count=0)
    with pytest.raises(DarkroomError, match="no crops"):
        contact_sheet(empty, tmp_path / "none.png")


def test_default_eval_pairs_uses_held_out_photos(tmp_path: Path) -> None:
    held = [n for n in (f"photo{i}.png" for i in range(400)) if is_held_out(n)][:2]
    train = next(n for n in (f"photo{i}.png" for i in range(400)) if not is_held_out(n))
    for i, name in enumerate([*held, train]):
        cv2.imwrite(str(tmp_path / name), (_image(i, (40, 36)) * 255).astype(np.uint8))
    pairs = default_eval_pairs(tmp_path, ratios=(100, 300), max_side=32)
    assert len(pairs) == 4
    assert {p.name.split("@")[0] for p in pairs} == {Path(n).stem for n in held}
    assert all(p.target.shape == (32, 32, 3) for p in pairs)
    assert len(default_eval_pairs(tmp_path, ratios=(100,), max_photos=1)) == 1
    with pytest.raises(DarkroomError, match="no such folder"):
        default_eval_pairs(tmp_path / "missing")


def test_detail_kept_counts_blur_not_noise() -> None:
    """Blurring loses detail in proportion; noise neither adds nor removes it on average."""
    from engine.evaluate.metrics import detail_kept

    rng = np.random.default_rng(0)
    ref = cv2.GaussianBlur(rng.random((128, 128, 3)).astype(np.float32), (0, 0), 0.7)
    assert detail_kept(ref, ref) == pytest.approx(1.0)
    blurred = cv2.GaussianBlur(ref, (0, 0), 1.5)
    assert detail_kept(blurred, ref) < 0.5
    noisy = ref + rng.normal(0, 0.1, ref.shape).astype(np.float32)
    assert detail_kept(noisy, ref) == pytest.approx(1.0, abs=0.05)


def test_hf_energy_ratio_counts_noise_as_energy() -> None:
    from engine.evaluate.metrics import hf_energy_ratio

    rng = np.random.default_rng(1)
    ref = cv2.GaussianBlur(rng.random((128, 128, 3)).astype(np.float32), (0, 0), 0.7)
    assert hf_energy_ratio(ref, ref) == pytest.approx(1.0)
    assert hf_energy_ratio(cv2.GaussianBlur(ref, (0, 0), 1.5), ref) < 0.3
    assert hf_energy_ratio(ref + rng.normal(0, 0.1, ref.shape).astype(np.float32), ref) > 1.5
