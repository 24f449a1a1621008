"""RAW frame -> finished image: the one path the CLI, the GUI and the benchmarks all use."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from engine.device import select_device
from engine.io import XYZ_TO_SRGB, RawFrame, Rect, clip_rect, orient_rect
from engine.jobs import CancelToken, ProgressCallback, no_progress
from engine.models import ModelCard, load_model, resolve_model
from engine.noise import PROFILES, NoiseLevel, NoiseProfile, card_noise_profile, noise_level_for
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
        srgb: ``(H, W, 3)`` float32 sRGB-encoded display image in [0, 1]: the picture, i.e.
            cropped to the frame's default crop, then oriented.
        linear_sensor: ``(H', W', 3)`` float32 linear RGB in [0, 1] on the sensor grid (not yet
            oriented), the whole rendered area (a DNG export keeps the borders and says where
            the picture is); camera RGB unless the model outputs sRGB, then linear sRGB.
        orientation: LibRaw flip code that :attr:`linear` applies.
        crop: the picture within ``linear_sensor`` (``(top, left, height, width)``), or
            ``None`` for all of it.
        covers: the part of the picture (the frame's default crop, unrotated coordinates)
            that ``srgb`` shows: all of it for :meth:`Enhancer.render`, a region for previews
            (at ``srgb``'s size times the preview's binning factor).
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
    crop: Rect | None = None
    covers: Rect | None = None

    @property
    def linear(self) -> np.ndarray:
        """``(H', W', 3)`` linear RGB, oriented, for DNG export (the whole rendered area).

        Built on demand: only DNG export needs it, and at 12 MP the oriented copy is 144 MB.
        """
        return apply_orientation(self.linear_sensor, self.orientation)

    @property
    def linear_crop(self) -> Rect | None:
        """Where the picture lies in :attr:`linear` (a DNG's DefaultCrop), or ``None``."""
        if self.crop is None:
            return None
        height, width = self.linear_sensor.shape[:2]
        return orient_rect(self.crop, height, width, self.orientation)


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


def preview_frame(frame: RawFrame, region: Rect | None) -> tuple[RawFrame, Rect]:
    """The part of ``frame`` a preview of ``region`` renders.

    Args:
        region: ``(top, left, height, width)`` in pixels of the picture (the default crop,
            unrotated); ``None``: the whole picture.

    Returns:
        ``(sub_frame, picture_rect)``: the mosaic cut to whole CFA periods around the region,
        with its ``default_crop`` set to exactly the region (so odd edges cost no
        misregistration; ``frame`` itself when that is all of it), and the region clipped to
        the picture, in picture coordinates.
    """
    v_top, v_left, v_height, v_width = wanted = frame.visible_rect
    inside = clip_rect(region, v_height, v_width) if region is not None else None
    inside = inside or (0, 0, v_height, v_width)
    wanted = (v_top + inside[0], v_left + inside[1], inside[2], inside[3])
    t0, l0 = wanted[0] - wanted[0] % 2, wanted[1] - wanted[1] % 2
    t1 = min(frame.height, -(-(wanted[0] + wanted[2]) // 2) * 2)
    l1 = min(frame.width, -(-(wanted[1] + wanted[3]) // 2) * 2)
    if (t0, l0, t1, l1) == (0, 0, frame.height, frame.width) and frame.default_crop is None:
        return frame, inside
    sub = frame.crop(t0, l0, t1 - t0, l1 - l0)
    exact = (wanted[0] - t0, wanted[1] - l0, wanted[2], wanted[3])
    sub = replace(sub, default_crop=None if exact == (0, 0, sub.height, sub.width) else exact)
    return sub, inside


def _scaled(crop: Rect | None, factor: int, height: int, width: int) -> Rect | None:
    """``crop`` on a grid ``factor`` times coarser (a binned preview's output), covering it."""
    if crop is None:
        return None
    top, left, h, w = crop
    t0, l0 = top // factor, left // factor
    t1, l1 = -(-(top + h) // factor), -(-(left + w) // factor)
    return clip_rect((t0, l0, t1 - t0, l1 - l0), height, width)


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
        self.noise_profiles: list[NoiseProfile] = list(PROFILES.values())
        self._levels: OrderedDict[int, tuple[RawFrame, NoiseLevel]] = OrderedDict()
        if model != CLASSICAL:
            net, self.card = load_model(resolve_model(model, model_dirs))
            self.runner = TiledRunner(net, self.device, tile=tile, precision=precision)
            fitted = card_noise_profile(self.card)
            if fitted is not None:  # a fine-tuned model knows its camera best
                self.noise_profiles.insert(0, fitted)

    @property
    def takes_noise(self) -> bool:
        """Whether the network takes the noise map (its card's ``noise_input``)."""
        return self.runner is not None and self.runner.model.noise_input

    def noise_level(self, frame: RawFrame) -> NoiseLevel:
        """The frame's noise level (:func:`engine.noise.noise_level_for` with this model's
        profiles first), remembered for the last few frames: a preview drag re-renders the
        same frame many times."""
        key = id(frame)
        if key in self._levels and self._levels[key][0] is frame:
            self._levels.move_to_end(key)
            return self._levels[key][1]
        level = noise_level_for(frame, self.noise_profiles)
        self._levels[key] = (frame, level)
        while len(self._levels) > 4:
            self._levels.popitem(last=False)
        return level

    def network_input(
        self, packed: np.ndarray, ratio: float, level: NoiseLevel | None, binning: int = 1
    ) -> np.ndarray:
        """What the network takes: ``packed`` ``(4, h, w)``, and for a noise-aware model its
        noise map after it (``(8, h, w)``); ``binning`` x ``binning`` averaged pixels carry
        ``1 / binning`` of the noise."""
        if level is None or not self.takes_noise:
            return packed
        sigma = level.scaled(1.0 / binning).sigma_map(packed, ratio)
        return np.concatenate([packed, sigma])

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

        The visible ``region`` (``top, left, height, width`` in pixels of the picture, i.e. of
        the frame's default crop, unrotated; ``None`` = the whole picture) is cut out of the
        mosaic on whole CFA periods, then its packed form is binned so the output's longer side
        is at most ``max_side``, and the output is cropped to exactly the region. Binning
        averages noise away, so the proxy looks a little cleaner than the full render; it is
        for judging exposure and colour live.
        """
        level = self.noise_level(frame) if self.takes_noise else None  # the whole frame's
        frame, picture = preview_frame(frame, region)
        used = estimate_ratio(frame) if ratio is None else float(ratio)
        # The region's own size sets the binning: the sub-frame's extra edge pixels (whole
        # CFA periods around an odd region) must not push a 100 % view into binning by 2.
        factor = max(1, preview_factor(picture[2], picture[3], max_side))
        if factor == 1 and self.runner is None:
            return replace(self.render(frame, used, progress, cancel), covers=picture)
        if factor == 1:  # the whole frame's noise level, not the region's
            packed, mirror = pack_rggb(frame, used)
            rendered = self._finish(frame, used, packed, mirror, progress, cancel,
                                    frame.default_crop, level)  # fmt: skip
            return replace(rendered, covers=picture)
        # Crop to whole bins first: binning drops the remainder at the mirrored frame's bottom
        # and right, which would be the top and left once the output is mirrored back.
        bins = 2 * factor
        h, w = frame.height - frame.height % bins, frame.width - frame.width % bins
        frame = frame.crop(0, 0, h, w)
        packed, mirror = pack_rggb(frame, used)
        kept = frame.visible_rect  # the region, less what the bins dropped
        crop = _scaled(frame.default_crop, factor, h // factor, w // factor)
        rendered = self._finish(frame, used, bin_packed(packed, factor), mirror, progress,
                                cancel, crop, level, factor)  # fmt: skip
        return replace(rendered, covers=(picture[0], picture[1], kept[2], kept[3]))

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
            return self._package(frame, used, linear, True, cancel, frame.default_crop)
        packed, mirror = pack_rggb(frame, used)
        level = self.noise_level(frame) if self.takes_noise else None
        return self._finish(frame, used, packed, mirror, progress, cancel, frame.default_crop,
                            level)  # fmt: skip

    def _finish(
        self,
        frame: RawFrame,
        ratio: float,
        packed: np.ndarray,
        mirror: Mirror,
        progress: ProgressCallback,
        cancel: CancelToken | None,
        crop: Rect | None,
        level: NoiseLevel | None = None,
        binning: int = 1,
    ) -> Rendered:
        """Packed ``(4, h, w)`` in RGGB geometry (:func:`~engine.render.packing.pack_rggb`) ->
        finished image at ``(2h, 2w)`` on the frame's own grid (``mirror`` undone), ``crop``
        (on that grid) the picture; ``level`` the frame's noise (noise-aware models), the
        packed pixels averages of ``binning`` x ``binning``."""
        if self.runner is None:  # classical proxy: nearest-neighbour "demosaic" of the bins
            r, g1, b, g2 = (torch.from_numpy(c) for c in packed)
            rgb = torch.stack([r, (g1 + g2) / 2, b])
            linear = rgb.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)
            linear = mirror_image(linear, mirror)
            return self._package(frame, ratio, linear, True, cancel, crop)
        x = self.network_input(packed, ratio, level, binning)
        out = mirror_image(torch.from_numpy(self.runner.run(x, progress, cancel)), mirror)
        assert self.card is not None
        return self._package(frame, ratio, out, self.card.output_space != "srgb", cancel, crop)

    def _package(
        self,
        frame: RawFrame,
        ratio: float,
        out: torch.Tensor,
        camera_space: bool,
        cancel: CancelToken | None,
        crop: Rect | None,
    ) -> Rendered:
        """Model/classical output ``(3, H, W)`` -> :class:`Rendered`: colour, then the picture
        cut out (``crop``, on the output grid), then the orientation."""
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
        if crop is not None:
            top, left, height, width = crop
            srgb_hwc = srgb_hwc[top : top + height, left : left + width]
        covers = (0, 0, frame.visible_height, frame.visible_width)
        return Rendered(
            srgb=apply_orientation(srgb_hwc, frame.orientation),
            linear_sensor=linear_hwc,
            orientation=frame.orientation,
            xyz_to_cam=xyz_to_cam,
            wb_gains=np.asarray(gains, dtype=np.float32),
            ratio=ratio,
            model=self.model_name,
            crop=crop,
            covers=covers,
        )
