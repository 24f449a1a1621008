"""RAW frame -> finished image: the one path the CLI, the GUI and the benchmarks all use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.colour import apply_orientation, classical_linear, develop, srgb_decode
from engine.jobs import CancelToken, ProgressCallback, no_progress
from engine.packing import pack_bayer
from engine.ratio import estimate_ratio
from engine.raw_io import XYZ_TO_SRGB, RawFrame
from engine.runner import TiledRunner, select_device
from engine.weights import ModelCard, load_model, resolve_model

#: Name of the classical (network-free) pipeline wherever a model name is expected.
CLASSICAL = "none"


@dataclass
class Rendered:
    """A finished image, orientation applied.

    Attributes:
        srgb: ``(H, W, 3)`` float32 sRGB-encoded display image in [0, 1].
        linear: ``(H, W, 3)`` float32 linear RGB in [0, 1] for DNG export; camera RGB unless
            the model outputs sRGB, in which case it is linear sRGB.
        xyz_to_cam: ``(3, 3)`` XYZ -> the space of ``linear`` (DNG ColorMatrix1).
        wb_gains: ``(3,)`` white balance that neutralises ``linear`` (DNG AsShotNeutral = 1/x).
        ratio: exposure ratio used.
        model: model name, or ``"none"``.
    """

    srgb: np.ndarray
    linear: np.ndarray
    xyz_to_cam: np.ndarray
    wb_gains: np.ndarray
    ratio: float
    model: str


def camera_xyz_matrix(frame: RawFrame) -> np.ndarray:
    """XYZ -> unbalanced camera RGB implied by the frame's white balance and colour matrix."""
    cam_from_srgb = np.linalg.inv(frame.cam_to_srgb.astype(np.float64))
    return (np.diag(1.0 / frame.wb_gains.astype(np.float64)) @ cam_from_srgb @ XYZ_TO_SRGB).astype(
        np.float32
    )


class Enhancer:
    """A loaded model (or the classical pipeline) ready to render frames.

    Args:
        model: a variant name, a user model name, a ``.safetensors`` path, or ``"none"``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
        tile: core tile side in packed pixels (``None``: from available memory).
        model_dirs: extra folders with user models.
    """

    def __init__(
        self,
        model: str = "baseline",
        device: str = "auto",
        tile: int | None = None,
        model_dirs: list[Path] | None = None,
    ) -> None:
        self.model_name = model
        self.device = select_device(device)
        self.card: ModelCard | None = None
        self.runner: TiledRunner | None = None
        if model != CLASSICAL:
            net, self.card = load_model(resolve_model(model, model_dirs))
            self.runner = TiledRunner(net, self.device, tile=tile)

    def render(
        self,
        frame: RawFrame,
        ratio: float | None,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> Rendered:
        """Enhance one frame at ``ratio`` (``None``: estimate it)."""
        used = estimate_ratio(frame) if ratio is None else float(ratio)
        if cancel is not None:
            cancel.raise_if_cancelled()
        xyz_to_cam, gains = camera_xyz_matrix(frame), frame.wb_gains
        if self.runner is None:
            progress(0, 1, "demosaic")
            linear_hwc = classical_linear(frame, used)
            chw = torch.from_numpy(linear_hwc).permute(2, 0, 1)
            srgb = develop(chw, frame.wb_gains, frame.cam_to_srgb)
            progress(1, 1, "done")
        else:
            packed = pack_bayer(frame, used)
            out = torch.from_numpy(self.runner.run(packed, progress, cancel))
            assert self.card is not None
            if self.card.output_space == "srgb":
                srgb = out.clamp(0.0, 1.0)
                out = srgb_decode(srgb)
                xyz_to_cam, gains = XYZ_TO_SRGB.astype(np.float32), np.ones(3, np.float32)
            else:
                out = out.clamp_(0.0, 1.0)
                srgb = develop(out, frame.wb_gains, frame.cam_to_srgb)
            linear_hwc = out.permute(1, 2, 0).numpy()
        if cancel is not None:
            cancel.raise_if_cancelled()
        srgb_hwc = srgb.permute(1, 2, 0).numpy()
        return Rendered(
            srgb=apply_orientation(srgb_hwc, frame.orientation),
            linear=apply_orientation(linear_hwc, frame.orientation),
            xyz_to_cam=xyz_to_cam,
            wb_gains=np.asarray(gains, dtype=np.float32),
            ratio=used,
            model=self.model_name,
        )
