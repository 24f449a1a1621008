"""Fine-tuning on pairs from a Fujifilm X-Trans camera (issue 23, part 4): pair checks, the
noise fit, X-Trans training crops, the X-Trans version of the default model as the base, and
the fine-tuned model rendering an X-Trans photo; tiny generated DNG pairs, seconds on a CPU."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.cli import main
from engine.finetune import (
    BaseSensorError,
    FinetuneRequest,
    FinetuneSettings,
    MixedSensorsError,
    collect_pairs,
    darken_frame,
    finetune,
    fit_noise_profile,
    measure_dark_frame,
)
from engine.finetune.data import FinetunePairSource, Validation, load_finetune_pair
from engine.finetune.pair_checks import clipped_fraction, green_thumbnail, read_summary
from engine.io import ExifInfo, read_raw, write_cfa_dng, xtrans_pattern
from engine.models import (
    DEFAULT_XTRANS_MODEL,
    FastUNet,
    ModelCard,
    count_parameters,
    load_model,
    save_model,
)
from engine.noise import NoiseParams, add_noise
from engine.render import Enhancer
from engine.train import PairFiles, RealPairSource
from tests.test_pairing import shoot, textured_scene

H, W = 120, 180
BLACK, WHITE = 1024, 16383
#: Moderate sensor noise (K in DN/e-, DN), as tests/test_pairing.py gives its Bayer pairs.
NOISE = NoiseParams(k=1.0, sigma_read=2.0, lam=0.0, sigma_row=0.5)
CAMERA = ("Fujifilm", "X-T3")
#: Fast settings for tiny data (tests/test_finetune.py's): a high rate, small crops.
FAST = {"lr": 1e-2, "patch": 96, "patience": 0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _mosaic(scene: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """``scene`` ``(h, w, 3)`` sampled through the X-Trans ``pattern`` (its top-left pixel's)."""
    h, w = scene.shape[:2]
    index = np.tile(pattern, (h // 6 + 1, w // 6 + 1))[:h, :w].astype(np.intp)
    return np.take_along_axis(scene, index[..., None], axis=2)[..., 0]


def shoot_xtrans(
    path: Path,
    seconds: float,
    *,
    scene: np.ndarray | None = None,
    phase: tuple[int, int] = (0, 0),
    when: str = "2024:05:01 20:00:00",
    shift: int = 0,
    offsets: tuple[float, float, float] = (0.0, 0.0, 0.0),
    seed: int = 0,
) -> Path:
    """An X-Trans DNG of ``scene`` exposed for ``seconds`` (1 s fills the range) with shot,
    read and row noise, the exposure in its EXIF, the view shifted ``shift`` pixels to the
    right and ``offsets`` DN added to red, green and blue (a colour bias)."""
    rgb = textured_scene(H, W, seed=0) if scene is None else scene
    if shift:
        rgb = np.roll(rgb, shift, axis=1)
    pattern = xtrans_pattern(*phase)
    expected = _mosaic(rgb, pattern) * (WHITE - BLACK) * seconds
    noisy = add_noise(expected, NOISE, np.random.default_rng([seed, int(seconds * 1e4)]),
                      cfa=pattern)  # fmt: skip
    noisy += _mosaic(np.broadcast_to(np.float32(offsets), (*rgb.shape[:2], 3)), pattern)
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = ExifInfo(make=CAMERA[0], model=CAMERA[1], iso=800, exposure_time=seconds,
                    datetime=when)  # fmt: skip
    write_cfa_dng(path, np.clip(noisy + BLACK, 0, WHITE).astype(np.uint16), pattern,
                  black_level=BLACK, white_level=WHITE, wb_gains=(1.9, 1.0, 1.5),
                  exif=exif)  # fmt: skip
    return path


def shoot_pairs(folder: Path) -> Path:
    """Three X-Trans scenes, each a x100 short (0.01 s) and a long (1 s), ten minutes apart
    (the last at another phase of the pattern, as a camera's crop may start)."""
    n = 3
    for i in range(n):
        scene = textured_scene(H, W, seed=10 + i)
        when = f"2024:05:01 20:{10 * i:02d}:0"
        phase = (1, 2) if i == n - 1 else (0, 0)
        shoot_xtrans(folder / f"DSCF{2 * i + 1:04d}.dng", 0.01, scene=scene, phase=phase,
                     when=f"{when}0", seed=i)  # fmt: skip
        shoot_xtrans(folder / f"DSCF{2 * i + 2:04d}.dng", 1.0, scene=scene, phase=phase,
                     when=f"{when}5", seed=i)  # fmt: skip
    return folder


def tiny_model(path: Path, sensor: str = "x-trans") -> Path:
    """A tiny, untrained fast network for ``sensor``, saved with its card at ``path``."""
    torch.manual_seed(0)
    model = FastUNet(widths=(8, 8), encoder_convs=(1, 1), decoder_convs=(1,), sensor=sensor)
    card = ModelCard(name=path.stem, architecture="fast", config=model.config)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, card, path, dtype=torch.float32)
    return path


@pytest.fixture
def shot(tmp_path: Path) -> tuple[Path, list]:
    folder = shoot_pairs(tmp_path / "shoot")
    return folder, collect_pairs(folder).valid_pairs


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A model library holding a tiny X-Trans version of the default model."""
    lib = tmp_path / "lib"
    tiny_model(lib / f"{DEFAULT_XTRANS_MODEL}.safetensors")
    return lib


# --------------------------------------------------------------------------------------------
# Pair checks


def test_x_trans_pairs_are_summarised_paired_and_checked(tmp_path: Path, shot) -> None:
    folder, pairs = shot
    assert len(pairs) == 3 and all(p.sensor == "x-trans" for p in pairs)
    assert all(p.shift_px is not None and p.shift_px < 1.0 for p in pairs)
    summary = read_summary(folder / "DSCF0002.dng")
    assert (summary.cfa, summary.sensor) == ("X-Trans", "x-trans")
    # The green of each 3x3 quarter of the tile: a third of the sensor's size, and the scene's.
    assert summary.green.shape == (H // 3, W // 3) and summary.thumb_scale == 3.0
    scene = textured_scene(H, W, seed=10)[..., 1].reshape(H // 3, 3, W // 3, 3).mean(axis=(1, 3))
    assert np.median(np.abs(summary.green - scene)) < 0.03
    assert summary.clipped_fraction == 0.0
    # A camera that moved 6 px between the frames is measured in sensor pixels.
    shoot_xtrans(tmp_path / "moved" / "DSCF0001.dng", 0.01, when="2024:05:01 21:00:00")
    shoot_xtrans(tmp_path / "moved" / "DSCF0002.dng", 1.0, shift=6, when="2024:05:01 21:00:05")
    (moved,) = collect_pairs(tmp_path / "moved").pairs
    assert not moved.valid and "misaligned by" in moved.reason
    assert moved.shift_px == pytest.approx(6.0, abs=1.0)
    # Clipping counts every position of the 6x6 period against its own black level: with a
    # higher black at one position of the tile, its pixels are not yet near white.
    frame = read_raw(folder / "DSCF0002.dng")
    near_white = frame.with_mosaic(np.full_like(frame.mosaic, WHITE - 50))
    assert clipped_fraction(near_white) == 1.0
    black = np.full((6, 6), BLACK, np.float32)
    black[2, 3] = WHITE - 100
    assert clipped_fraction(replace(near_white, black_level=black)) == pytest.approx(35 / 36)
    assert clipped_fraction(frame.with_mosaic(np.full_like(frame.mosaic, WHITE - 1000))) == 0.0
    thumb, scale = green_thumbnail(frame.with_mosaic(np.full_like(frame.mosaic, WHITE)))
    assert scale == 3.0 and np.allclose(thumb, 1.0)


# --------------------------------------------------------------------------------------------
# Noise fit


def test_the_noise_fit_measures_x_trans_frames_per_colour(tmp_path: Path, shot) -> None:
    _, pairs = shot
    dark = read_raw(shoot_xtrans(tmp_path / "DARK.dng", 0.0, offsets=(3.0, 0.0, -2.0)))
    measured = measure_dark_frame(dark)
    assert measured.bias == pytest.approx((3.0, 0.0, -2.0, 0.0), abs=0.3)
    assert measured.sigma_read == pytest.approx(NOISE.sigma_read, rel=0.15)
    frames = [(read_raw(p.short), read_raw(p.long), p.ratio) for p in pairs]
    fit = fit_noise_profile(frames, [dark])
    assert [m.k for m in fit.measurements[:3]] == pytest.approx([1.0] * 3, rel=0.3)
    assert fit.profile.colour_bias == pytest.approx((3.0, 0.0, -2.0, 0.0), abs=0.3)
    # Darkening a long exposure places that bias by each pixel's colour in the 6x6 tile.
    long = frames[0][1].with_mosaic(np.full_like(frames[0][1].mosaic, BLACK))
    dark_copy = darken_frame(long, 100.0, fit.profile, np.random.default_rng(0))
    assert dark_copy.is_xtrans and np.array_equal(dark_copy.cfa_pattern, long.cfa_pattern)
    tile = np.tile(long.cfa_pattern, (H // 6, W // 6))
    above = dark_copy.mosaic - BLACK
    means = [float(above[tile == c].mean()) for c in range(3)]
    assert means[0] - means[1] == pytest.approx(3.0, abs=0.6)
    assert means[2] - means[1] == pytest.approx(-2.0, abs=0.6)


# --------------------------------------------------------------------------------------------
# Training and validation crops


def test_x_trans_crops_are_whole_periods_with_x_trans_inputs(tmp_path: Path, shot) -> None:
    _, pairs = shot
    loaded = [load_finetune_pair(p.to_files(), keep_long=True) for p in pairs]
    frames = [read_raw(p.short) for p in pairs]
    fit = fit_noise_profile([(f, u.long, u.pair.ratio) for f, u in zip(frames, loaded,
                                                                      strict=True)])  # fmt: skip
    source = FinetunePairSource(loaded, crop=100, profile=fit.profile, synthetic_fraction=0.5)
    rng = np.random.default_rng(0)
    kinds = set()
    for _ in range(12):
        crop = source.sample(rng)
        assert crop.dark.is_xtrans and crop.dark.mosaic.shape == (96, 96)
        assert crop.target.shape == (96, 96, 3) and crop.target.dtype == np.float32
        kinds.add("synthetic" in crop.name)
        x = crop.network_input(crop.noise, demosaic=True)
        assert x.shape == (4 + 4 + 12 + 12, 48, 48) and np.isfinite(x).all()
    assert kinds == {True, False}  # real and synthetic crops, both X-Trans
    real = RealPairSource([p.to_files() for p in pairs], crop=100).sample(rng)
    assert real.dark.is_xtrans and real.dark.mosaic.shape == (96, 96)
    validation = Validation.build([u.pair for u in loaded], 100, "all")
    assert {c.dark.mosaic.shape for c in validation.crops} == {(96, 96)}
    model, _ = load_model(tiny_model(tmp_path / "tiny.safetensors"))
    assert all(np.isfinite(validation.scores(model, torch.device("cpu"))))


# --------------------------------------------------------------------------------------------
# The whole fine-tune


def test_cli_fine_tunes_the_x_trans_version_of_the_default(shot, library: Path, capsys) -> None:
    folder, _ = shot
    code = main(["finetune", "--pairs", str(folder), "--name", "my fuji", "--iterations", "4",
                 "--lr", "1e-2", "--patch", "96", "--patience", "0", "--library", str(library),
                 "--device", "cpu", "--print-every", "0"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "3 valid pair(s), 0 invalid" in err and "it 4/4" in err
    assert f"note: X-Trans pairs: fine-tuned {DEFAULT_XTRANS_MODEL}, the X-Trans version" in err
    assert "validation (1 held-out pair): PSNR before" in out
    card = json.loads((library / "my fuji.json").read_text())
    assert card["config"]["sensor"] == "x-trans" and card["architecture"] == "fast"
    assert card["base_model"] == DEFAULT_XTRANS_MODEL and card["noise_fit"] is not None
    model, _ = load_model(library / "my fuji.safetensors")
    assert model.sensors == ("x-trans",) and count_parameters(model) > 0
    # The fine-tuned model renders an X-Trans photo (another phase than most pairs).
    frame = read_raw(folder / "DSCF0005.dng")
    rendered = Enhancer("my fuji", device="cpu", model_dirs=[library]).render(frame, 100.0)
    assert rendered.srgb.shape[:2] == (H, W) and np.isfinite(rendered.srgb).all()


def test_a_bayer_only_base_is_refused_in_one_line(shot, library: Path, capsys) -> None:
    folder, _ = shot
    bayer = tiny_model(library / "bayer only.safetensors", sensor="bayer")
    code = main(["finetune", "--pairs", str(folder), "--name", "x", "--iterations", "1",
                 "--base", "bayer only", "--library", str(library), "--device", "cpu"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and "Traceback" not in "\n".join(err)
    assert err[-1] == (
        "darkroom-cli: error: bayer only takes Bayer photos only and these pairs are X-Trans; "
        f"fine-tune fast (its X-Trans version, {DEFAULT_XTRANS_MODEL}) or another X-Trans model"
    )
    # The same through the engine, with the weights file as the base.
    request = FinetuneRequest(str(bayer), pairs=shot[1], name="x", library=library,
                              settings=FinetuneSettings(iterations=1, **FAST),
                              device="cpu")  # fmt: skip
    with pytest.raises(BaseSensorError, match="takes Bayer photos only"):
        finetune(request)
    assert not (library / "x.safetensors").exists()


def test_the_default_without_its_x_trans_version_says_so(tmp_path: Path, shot, monkeypatch) -> None:
    monkeypatch.setattr("engine.models.weights.bundled_models_dir", lambda: tmp_path / "none")
    request = FinetuneRequest("fast", pairs=shot[1], name="x", library=tmp_path / "empty",
                              settings=FinetuneSettings(iterations=1, **FAST),
                              device="cpu")  # fmt: skip
    with pytest.raises(BaseSensorError, match=f"X-Trans pairs fine-tune {DEFAULT_XTRANS_MODEL}, "
                                              "the X-Trans version of fast, which cannot be "
                                              "used: unknown model"):  # fmt: skip
        finetune(request)


def test_bayer_and_x_trans_pairs_are_not_mixed(tmp_path: Path, shot, library: Path) -> None:
    _, xtrans = shot
    bayer_folder = tmp_path / "bayer"
    shoot(bayer_folder / "DSCF0101.dng", 0.01, make=CAMERA[0], model=CAMERA[1],
          when="2024:05:01 22:00:00")  # fmt: skip
    shoot(bayer_folder / "DSCF0102.dng", 1.0, make=CAMERA[0], model=CAMERA[1],
          when="2024:05:01 22:00:05")  # fmt: skip
    (bayer,) = collect_pairs(bayer_folder).valid_pairs
    assert bayer.sensor == "bayer"
    settings = FinetuneSettings(iterations=1, **FAST)
    checked = FinetuneRequest("fast", [*xtrans, bayer], "x", settings, library=library,
                              device="cpu")  # fmt: skip
    with pytest.raises(MixedSensorsError, match=r"mix Bayer \(DSCF0101.dng \+ DSCF0102.dng\) "
                                                r"and X-Trans \(DSCF0001.dng"):  # fmt: skip
        finetune(checked)
    # Plain files are judged by the first pair's sensor, then every pair once loaded.
    files = [p.to_files() for p in xtrans] + [PairFiles(bayer.short, bayer.long)]
    plain = FinetuneRequest("fast", files, "x", settings, library=library, device="cpu")
    with pytest.raises(MixedSensorsError, match="the pairs mix Bayer"):
        finetune(plain)
    assert not (library / "x.safetensors").exists()
