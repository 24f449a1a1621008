"""RAW frame -> finished image: the one path the CLI, the GUI and the benchmarks all use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.device import select_device
from engine.io import XYZ_TO_SRGB, RawFrame
from engine.jobs import CancelToken, ProgressCallback, no_progress
from engine.models import ModelCard, load_model, resolve_model
from engine.render.colour import apply_orientation, classical_linear, develop, srgb_decode
from engine.render.packing import Mirror, mirror_image, pack_rggb
from engine.render.ratio import estimate_ratio
from engine.render.tiling import TiledRunner

#: Name of the classical (network-free) pipeline wherever a model name is expected.
CLASSICAL = "none"


@dataclass
class Rendered:
    """A finished image, orientation applied.

    Attributes:
        srgb: ``(H, W, 3)`` float32 sRGB-encoded display image in [0, 1].
        linear_sensor: ``(H, W, 3)`` float32 linear RGB in [0, 1] on the sensor grid (not yet
            oriented); camera RGB unless the model outputs sRGB, then linear sRGB.
        orientation: LibRaw flip code that :attr:`linear` applies.
        xyz_to_cam: ``(3, 3)`` XYZ -> the space of ``linear`` (DNG ColorMatrix1).
        wb_gains: ``(3,)`` white balance that neutralises ``linear`` (DNG AsShotNeutral = 1/x).
        ratio: exposure ratio used.
        model: model name, or ``"none"``.
    """

    srgb: np.ndarray
    linear_sensor: np.ndarray
    orientation: int
    xyz_to_cam: np.ndarray
    wb_gains: np.ndarray
    ratio: float
    model: str

    @property
    def linear(self) -> np.ndarray:
        """``(H, W, 3)`` linear RGB, oriented, for DNG export.

        Built on demand: only DNG export needs it, and at 12 MP the oriented copy is 144 MB.
        """
        return apply_orientation(self.linear_sensor, self.orientation)


def camera_xyz_matrix(frame: RawFrame) -> np.ndarray:
    """XYZ -> unbalanced camera RGB implied by the frame's white balance and colour matrix."""
    cam_from_srgb = np.linalg.inv(frame.cam_to_srgb.astype(np.float64))
    return (np.diag(1.0 / frame.wb_gains.astype(np.float64)) @ cam_from_srgb @ XYZ_TO_SRGB).astype(
        np.float32
    )


def bin_packed(packed: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor`` x ``factor`` blocks of a packed frame (a smaller packed frame).

    Args:
        packed: ``(C, h, w)`` float32.

    Returns:
        ``(C, h // factor, w // factor)`` float32.
    """
    if factor <= 1:
        return packed
    c, h, w = packed.shape
    hh, ww = h // factor, w // factor
    view = packed[:, : hh * factor, : ww * factor].reshape(c, hh, factor, ww, factor)
    return view.mean(axis=(2, 4), dtype=np.float32)


def preview_factor(height: int, width: int, max_side: int) -> int:
    """Binning factor so a ``height`` x ``width`` frame renders at most ``max_side`` px."""
    longest = max(height, width)
    return max(1, int(np.ceil(longest / max(max_side, 16))))


class Enhancer:
    """A loaded model (or the classical pipeline) ready to render frames.

    Args:
        model: a variant name, a user model name, a ``.safetensors`` path, or ``"none"``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
        tile: core tile side in packed pixels (``None``: from available memory).
        model_dirs: extra folders with user models.
        precision: network precision, see :func:`engine.device.autocast_dtype`.
    """

    def __init__(
        self,
        model: str = "baseline",
        device: str = "auto",
        tile: int | None = None,
        model_dirs: list[Path] | None = None,
        precision: str = "auto",
    ) -> None:
        self.model_name = model
        self.device = select_device(device)
        self.card: ModelCard | None = None
        self.runner: TiledRunner | None = None
        if model != CLASSICAL:
            net, self.card = load_model(resolve_model(model, model_dirs))
            self.runner = TiledRunner(net, self.device, tile=tile, precision=precision)

    def render_preview(
        self,
        frame: RawFrame,
        ratio: float | None,
        max_side: int = 1600,
        region: tuple[int, int, int, int] | None = None,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> Rendered:
        """A fast proxy of :meth:`render` for live previews.

        The visible ``region`` (``top, left, height, width`` in sensor pixels of the unrotated
        frame; ``None`` = whole frame) is cropped, then its packed form is binned so the output's
        longer side is at most ``max_side``. Binning averages noise away, so the proxy looks a
        little cleaner than the full render; it is for judging exposure and colour live.
        """
        if region is not None:
            frame = frame.crop(*region)
        used = estimate_ratio(frame) if ratio is None else float(ratio)
        factor = max(1, preview_factor(frame.height, frame.width, max_side))
        if factor == 1:
            return self.render(frame, used, progress, cancel)
        # Crop to whole bins first: binning drops the remainder at the mirrored frame's bottom
        # and right, which would be the top and left once the output is mirrored back.
        bins = 2 * factor
        h, w = frame.height - frame.height % bins, frame.width - frame.width % bins
        frame = frame.crop(0, 0, h, w)
        packed, mirror = pack_rggb(frame, used)
        return self._finish(frame, used, bin_packed(packed, factor), mirror, progress, cancel)

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
        if self.runner is None:
            progress(0, 1, "demosaic")
            linear = torch.from_numpy(classical_linear(frame, used)).permute(2, 0, 1)
            progress(1, 1, "done")
            return self._package(frame, used, linear, camera_space=True, cancel=cancel)
        packed, mirror = pack_rggb(frame, used)
        return self._finish(frame, used, packed, mirror, progress, cancel)

    def _finish(
        self,
        frame: RawFrame,
        ratio: float,
        packed: np.ndarray,
        mirror: Mirror,
        progress: ProgressCallback,
        cancel: CancelToken | None,
    ) -> Rendered:
        """Packed ``(4, h, w)`` in RGGB geometry (:func:`~engine.render.packing.pack_rggb`) ->
        finished image at ``(2h, 2w)`` on the frame's own grid (``mirror`` undone)."""
        if self.runner is None:  # classical proxy: nearest-neighbour "demosaic" of the bins
            r, g1, b, g2 = (torch.from_numpy(c) for c in packed)
            rgb = torch.stack([r, (g1 + g2) / 2, b])
            linear = rgb.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)
            linear = mirror_image(linear, mirror)
            return self._package(frame, ratio, linear, camera_space=True, cancel=cancel)
        out = mirror_image(torch.from_numpy(self.runner.run(packed, progress, cancel)), mirror)
        assert self.card is not None
        return self._package(
            frame, ratio, out, camera_space=self.card.output_space != "srgb", cancel=cancel
        )

    def _package(
        self,
        frame: RawFrame,
        ratio: float,
        out: torch.Tensor,
        camera_space: bool,
        cancel: CancelToken | None,
    ) -> Rendered:
        """Model/classical output ``(3, H, W)`` -> :class:`Rendered` (colour, orientation)."""
        xyz_to_cam, gains = camera_xyz_matrix(frame), frame.wb_gains
        if camera_space:
            out = out.clamp_(0.0, 1.0)
            srgb = develop(out, frame.wb_gains, frame.cam_to_srgb)
        else:
            srgb = out.clamp(0.0, 1.0)
            out = srgb_decode(srgb)
            xyz_to_cam, gains = XYZ_TO_SRGB.astype(np.float32), np.ones(3, np.float32)
        linear_hwc = out.permute(1, 2, 0).numpy()
        if cancel is not None:
            cancel.raise_if_cancelled()
        srgb_hwc = srgb.permute(1, 2, 0).numpy()
        return Rendered(
            srgb=apply_orientation(srgb_hwc, frame.orientation),
            linear_sensor=linear_hwc,
            orientation=frame.orientation,
            xyz_to_cam=xyz_to_cam,
            wb_gains=np.asarray(gains, dtype=np.float32),
            ratio=ratio,
            model=self.model_name,
        )
