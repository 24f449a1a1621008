"""Shared fixtures: tiny real DNG files written with the engine's own DNG writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.io import cfa_from_name

LAYOUTS = ("RGGB", "BGGR", "GRBG", "GBRG")


@pytest.fixture(autouse=True)
def private_model_library(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> Path:
    """No test reads or writes the developer's own model library."""
    folder = tmp_path_factory.mktemp("library")
    monkeypatch.setenv("DARKROOM_MODELS_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> Path:
    """No test writes photo settings into the developer's own data folder."""
    folder = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("DARKROOM_DATA_DIR", str(folder))
    return folder


def smooth_scene(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like linear RGB scene: gradients plus soft coloured blobs.

    Returns:
        ``(height, width, 3)`` float32 in [0, 1].
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy /= max(height - 1, 1)
    xx /= max(width - 1, 1)
    img = np.empty((height, width, 3), np.float32)
    for c in range(3):
        a, b, base = rng.uniform(-0.3, 0.3, 3)
        img[..., c] = 0.35 + base * 0.5 + a * xx + b * yy
    for _ in range(6):
        cy, cx = rng.uniform(0, 1, 2)
        radius = rng.uniform(0.05, 0.3)
        colour = rng.uniform(-0.25, 0.35, 3)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
        img += blob[..., None] * colour
    return np.clip(img, 0.0, 1.0)


def mosaic_from_rgb(rgb: np.ndarray, cfa: str) -> np.ndarray:
    """Sample an ``(H, W, 3)`` image through a Bayer CFA; returns ``(H, W)`` of rgb's dtype."""
    pattern = cfa_from_name(cfa)
    h, w, _ = rgb.shape
    idx = np.tile(pattern, ((h + 1) // 2, (w + 1) // 2))[:h, :w]
    return np.take_along_axis(rgb, idx[..., None].astype(np.intp), axis=2)[..., 0]


@pytest.fixture
def make_dng(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_dng(name, height, width, cfa, ratio, ...)`` -> path of a real CFA DNG.

    The scene is :func:`smooth_scene` in linear camera RGB, divided by ``ratio`` (a dark
    exposure), with optional Gaussian read noise, scaled between black and white level.
    """
    from engine.io import write_cfa_dng

    def factory(
        name: str = "frame.dng",
        height: int = 64,
        width: int = 96,
        cfa: str = "RGGB",
        ratio: float = 1.0,
        black: float | list[float] = 512,
        white: int = 16383,
        noise: float = 0.0,
        seed: int = 0,
        wb_gains: tuple[float, float, float] = (2.0, 1.0, 1.6),
        scene: np.ndarray | None = None,
        **kwargs: object,
    ) -> Path:
        rgb = smooth_scene(height, width, seed) if scene is None else scene
        # Undo the white balance so the developed image comes out neutral where the scene is.
        cam = rgb / np.asarray(wb_gains, np.float32) * np.float32(min(wb_gains))
        mosaic = mosaic_from_rgb(cam, cfa) / np.float32(ratio)
        blacks = np.asarray(black, np.float32).reshape(-1)
        black_map = np.tile(
            (blacks if blacks.size == 4 else np.repeat(blacks, 4)).reshape(2, 2),
            ((height + 1) // 2, (width + 1) // 2),
        )[:height, :width]
        dn = black_map + mosaic * (white - black_map)
        if noise:
            dn = dn + np.random.default_rng(seed + 1).normal(0, noise, dn.shape)
        dn = np.clip(np.rint(dn), 0, 65535).astype(np.uint16)
        path = tmp_path / name
        write_cfa_dng(
            path, dn, cfa=cfa, black_level=black, white_level=white, wb_gains=wb_gains, **kwargs
        )
        return path

    return factory


@pytest.fixture
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a busy CPU they oversubscribe it
    (modules of tiny fine-tunes use it for every test: ``pytestmark``)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """Tiny PNG photos for `darkroom-cli train`/`evaluate`: two trained on, one held out."""
    import imageio.v3 as iio

    from engine.train import is_held_out

    folder = tmp_path / "photos"
    folder.mkdir()
    held = train = 0
    for i in range(200):
        name = f"photo{i}.png"
        if (is_held_out(name) and held < 1) or (not is_held_out(name) and train < 2):
            image = (smooth_scene(64, 64, i) ** (1 / 2.2) * 255).astype(np.uint8)
            iio.imwrite(folder / name, image)
            held += is_held_out(name)
            train += not is_held_out(name)
    assert held == 1 and train == 2
    return folder
