"""RAW frame -> finished image: the one path the CLI, the GUI and the benchmarks all use."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from engine.device import select_device
from engine.errors import UnsupportedSensorError
from engine.io import XYZ_TO_SRGB, RawFrame, Rect
from engine.jobs import CancelToken, ProgressCallback, no_progress
from engine.models import DEFAULT_MODEL, ModelCard, load_model, resolve_model
from engine.noise import PROFILES, NoiseLevel, NoiseProfile, card_noise_profile, noise_level_for
from engine.render.colour import (
    NOISE_FLOOR,
    apply_orientation,
    classical_linear,
    demosaic_below_black,
    develop,
    srgb_decode,
)
from engine.render.highlights import (
    CLIP_START,
    neighbourhood_max,
    neutralise_highlights,
    packed_max,
)
from engine.render.inputs import network_channels
from engine.render.packing import Mirror, mirror_image, normalise_mosaic, pack_rggb
from engine.render.preview import (
    bin_packed,
    bin_xtrans,
    picture_region,
    preview_factor,
    preview_frame,
    scaled_crop,
)
from engine.render.ratio import estimate_ratio
from engine.render.rendered import Rendered
from engine.render.tiling import TiledRunner

#: Name of the classical (network-free) pipeline wherever a model name is expected.
CLASSICAL = "none"
#: Mosaic pixels around a full-resolution region that its demosaic and highlight map read.
DEMOSAIC_CONTEXT = 16


def camera_xyz_matrix(frame: RawFrame) -> np.ndarray:
    """XYZ -> unbalanced camera RGB implied by the frame's white balance and colour matrix."""
    cam_from_srgb = np.linalg.inv(frame.cam_to_srgb.astype(np.float64))
    return (np.diag(1.0 / frame.wb_gains.astype(np.float64)) @ cam_from_srgb @ XYZ_TO_SRGB).astype(
        np.float32
    )


def check_amount(amount: float) -> float:
    """``amount`` as a float in [0, 1] (see :meth:`Enhancer.render`).

    Raises:
        ValueError: not a number in [0, 1].
    """
    value = float(amount)
    if not 0.0 <= value <= 1.0:  # NaN fails both comparisons
        raise ValueError(f"amount must be between 0 and 1 (0-100 %), got {amount!r}")
    return value


@dataclass(frozen=True)
class _Pass:
    """One render: the frame and what applies to it."""

    frame: RawFrame
    ratio: float
    amount: float
    level: NoiseLevel | None
    progress: ProgressCallback
    cancel: CancelToken | None


def _classical(job: _Pass) -> torch.Tensor:
    """The classical render's linear camera RGB of the whole frame, ``(3, H, W)``."""
    linear = classical_linear(job.frame, job.ratio, keep_negative=True)
    return torch.from_numpy(linear).permute(2, 0, 1)


def _binned_classical(packed: np.ndarray, mirror: Mirror) -> torch.Tensor:
    """The classical preview proxy of binned packed pixels: each bin's colour (greens
    averaged) repeated over its 2x2 output pixels, on the frame's grid; ``(3, 2h, 2w)``."""
    r, g1, b, g2 = (torch.from_numpy(c) for c in packed[:4])
    rgb = torch.stack([r, (g1 + g2) / 2, b])
    return mirror_image(rgb.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2), mirror)


class Enhancer:
    """A loaded model (or the classical pipeline) ready to render frames.

    Args:
        model: a variant name, a user model name, a ``.safetensors`` path, or ``"none"``
            (default: :data:`engine.models.DEFAULT_MODEL`).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
        tile: core tile side in packed pixels (``None``: from available memory).
        model_dirs: extra folders with user models.
        precision: network precision, see :func:`engine.device.autocast_dtype`.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
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
        self._levels_lock = threading.Lock()
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
        with self._levels_lock:  # the preview's and an export's threads share an Enhancer
            if key in self._levels and self._levels[key][0] is frame:
                self._levels.move_to_end(key)
                return self._levels[key][1]
        level = noise_level_for(frame, self.noise_profiles)
        with self._levels_lock:
            self._levels[key] = (frame, level)
            while len(self._levels) > 4:
                self._levels.popitem(last=False)
        return level

    def network_input(
        self, packed: np.ndarray, ratio: float, level: NoiseLevel | None, binning: int = 1
    ) -> np.ndarray:
        """What the network takes (:func:`~engine.render.inputs.network_channels`): ``packed``
        ``(4, h, w)``, the noise map for a noise-aware model (``binning`` x ``binning``
        averaged pixels carry ``1 / binning`` of the noise) and the demosaic for a model that
        starts from it."""
        model = self.runner.model if self.runner is not None else None
        noise = None
        if level is not None and model is not None and model.noise_input:
            noise = level.scaled(1.0 / binning)
        wants_demosaic = model is not None and model.demosaic_input
        return network_channels(packed, ratio, noise, demosaic=wants_demosaic)

    def render_preview(
        self,
        frame: RawFrame,
        ratio: float | None,
        max_side: int = 1600,
        region: tuple[int, int, int, int] | None = None,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        amount: float = 1.0,
    ) -> Rendered:
        """A fast proxy of :meth:`render` for live previews.

        The visible ``region`` (``top, left, height, width`` in pixels of the picture, i.e. of
        the frame's default crop, unrotated; ``None`` = the whole picture) is cut out of the
        mosaic on whole CFA periods, then its packed form is binned so the output's longer side
        is at most ``max_side``, and the output is cropped to exactly the region. Binning
        averages noise away, so the proxy looks a little cleaner than the full render; it is
        for judging exposure and colour live.
        """
        self.check_sensor(frame, amount)
        level = self.noise_level(frame) if self.takes_noise else None  # the whole frame's
        used = estimate_ratio(frame) if ratio is None else float(ratio)
        # The region's own size sets the binning: the sub-frame's extra edge pixels (whole
        # CFA periods around an odd region) must not push a 100 % view into binning by 2.
        _, _, height, width = picture_region(frame, region)
        factor = max(1, preview_factor(height, width, max_side))
        if factor == 1:
            # Full resolution: the export's own pixels. The network sees the region with its
            # whole receptive field around it, on the whole frame's pooling grid.
            context, align = self.region_context()
            frame, picture = preview_frame(frame, region, context, align)
            job = _Pass(frame, used, check_amount(amount), level, progress, cancel)
            return replace(self._render(job), covers=picture)
        frame, picture = preview_frame(frame, region)
        job = _Pass(frame, used, check_amount(amount), level, progress, cancel)
        if frame.is_xtrans:
            return self._xtrans_preview(job, factor, picture)
        # Crop to whole bins first: binning drops the remainder at the mirrored frame's bottom
        # and right, which would be the top and left once the output is mirrored back.
        bins = 2 * factor
        h, w = frame.height - frame.height % bins, frame.width - frame.width % bins
        job = replace(job, frame=frame.crop(0, 0, h, w))
        unclipped, mirror = pack_rggb(job.frame, used, clip=False)
        # Bin, then clip: clipping first kept the noise's positive bias in dark areas at a
        # binned noise level low enough for the network to trust it, and the fast model's
        # preview of the sample came out magenta ([105, 92, 107] against the export's
        # [88, 87, 79]; now [85, 87, 80]).
        binned = bin_packed(unclipped, factor)
        del unclipped
        packed = np.clip(binned, 0.0, 1.0)  # what the network sees
        # The classical proxy bins the noise below black too, as the full render keeps it.
        below = np.clip(binned, -NOISE_FLOOR, 1.0, out=binned)
        kept = job.frame.visible_rect  # the region, less what the bins dropped
        crop = scaled_crop(job.frame.default_crop, factor, h // factor, w // factor)
        rendered = self._finish(job, packed, mirror, crop, factor, below)
        return replace(rendered, covers=(picture[0], picture[1], kept[2], kept[3]))

    def check_sensor(self, frame: RawFrame, amount: float = 1.0) -> None:
        """Refuse, in one line, a frame this model cannot enhance: the networks are Bayer-only
        (an X-Trans frame renders classically, or with Amount 0).

        Raises:
            UnsupportedSensorError: an X-Trans frame and a network at an Amount above 0.
        """
        network = self.runner.model if self.runner is not None else None
        if (
            frame.is_xtrans
            and network is not None
            and "x-trans" not in network.sensors
            and amount > 0
        ):
            name = Path(frame.path).name if frame.path else "this photo"
            raise UnsupportedSensorError(
                f"{name}: no {self.model_name} model for X-Trans sensors yet; use the classical "
                "render (--model none)"
            )

    def _xtrans_preview(self, job: _Pass, factor: int, picture: Rect) -> Rendered:
        """The classical proxy of an X-Trans frame (:func:`bin_xtrans`), on the bins' grid."""
        size = 3 * -(-factor // 3)  # whole 3x3 quarters of the tile, each with every colour
        frame, whole = job.frame, math.lcm(size, 6)
        h, w = frame.height - frame.height % whole, frame.width - frame.width % whole
        job = replace(job, frame=frame.crop(0, 0, h, w))
        mosaic = normalise_mosaic(job.frame, job.ratio, clip=False)
        np.clip(mosaic, -NOISE_FLOOR, 1.0, out=mosaic)
        rgb, block_max = bin_xtrans(mosaic, job.frame.cfa_pattern, size)
        near_clip = torch.from_numpy(block_max) if block_max.max() >= CLIP_START else None
        crop = scaled_crop(job.frame.default_crop, size, h // size, w // size)
        rendered = self._package(job, torch.from_numpy(rgb), True, crop, near_clip, True)
        kept = job.frame.visible_rect
        return replace(rendered, covers=(picture[0], picture[1], kept[2], kept[3]))

    def region_context(self) -> tuple[int, int]:
        """``(context, align)`` in mosaic pixels for :func:`preview_frame`: what a region must
        carry around it so that its render equals the same pixels of the whole frame's."""
        if self.runner is None:
            return DEMOSAIC_CONTEXT, 2
        # The receptive radius is in packed pixels (2 mosaic pixels each); the network's input
        # planes (demosaic, noise map) and the highlight map read a few pixels further.
        radius = self.runner.model.receptive_radius
        return 2 * radius + DEMOSAIC_CONTEXT, 2 * self.runner.multiple

    def render(
        self,
        frame: RawFrame,
        ratio: float | None,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        amount: float = 1.0,
    ) -> Rendered:
        """Enhance one frame at ``ratio`` (``None``: estimate it).

        Args:
            amount: how much of the network's result to use, 0-1 (Lightroom's Denoise
                "Amount"): the output is the classical render plus ``amount`` times the
                network's difference from it, in linear camera RGB; 0 is exactly the
                classical render (the network does not run), 1 the network's.

        Raises:
            ValueError: ``amount`` outside [0, 1].
            Cancelled: ``cancel`` was set (checked between tiles).
        """
        used = estimate_ratio(frame) if ratio is None else float(ratio)
        amount = check_amount(amount)
        self.check_sensor(frame, amount)
        level = self.noise_level(frame) if self.takes_noise and amount > 0 else None
        return self._render(_Pass(frame, used, amount, level, progress, cancel))

    def _render(self, job: _Pass) -> Rendered:
        """The full-resolution render of ``job``'s frame (see :meth:`render`)."""
        if job.cancel is not None:
            job.cancel.raise_if_cancelled()
        if self.runner is None or job.amount == 0:
            job.progress(0, 1, "demosaic")
            mosaic = normalise_mosaic(job.frame, job.ratio, clip=False)  # once, for both
            near_clip = neighbourhood_max(mosaic)
            linear = demosaic_below_black(mosaic, job.frame.cfa_pattern)
            job.progress(1, 1, "done")
            linear_chw = torch.from_numpy(linear).permute(2, 0, 1)
            return self._package(job, linear_chw, True, job.frame.default_crop, near_clip, True)
        packed, mirror = pack_rggb(job.frame, job.ratio)
        return self._finish(job, packed, mirror, job.frame.default_crop)

    def _finish(
        self,
        job: _Pass,
        packed: np.ndarray,
        mirror: Mirror,
        crop: Rect | None,
        binning: int = 1,
        unclipped: np.ndarray | None = None,
    ) -> Rendered:
        """Packed ``(4, h, w)`` in RGGB geometry (:func:`~engine.render.packing.pack_rggb`),
        its pixels averages of ``binning`` x ``binning`` -> finished image at ``(2h, 2w)`` on
        the frame's own grid (``mirror`` undone), ``crop`` (on that grid) the picture.
        ``unclipped``: the same bins with the noise below black kept (down to
        ``-NOISE_FLOOR``), for the classical proxy."""
        proxy = binning > 1 or self.runner is None
        source = packed if unclipped is None else unclipped
        classical = _binned_classical(source, mirror) if proxy else None
        keep_negative = not proxy or unclipped is not None
        near_clip = packed_max(packed)
        if near_clip is not None:
            near_clip = mirror_image(near_clip, mirror)
        if self.runner is None or job.amount == 0:
            if classical is None:
                classical = _classical(job)
            return self._package(job, classical, True, crop, near_clip, keep_negative)
        x = self.network_input(packed, job.ratio, job.level, binning)
        out = mirror_image(torch.from_numpy(self.runner.run(x, job.progress, job.cancel)), mirror)
        assert self.card is not None
        camera_space = self.card.output_space != "srgb"
        if job.amount < 1 and camera_space:
            if classical is None:
                classical = _classical(job)
            out = classical + job.amount * (out.clamp_(0.0, 1.0) - classical)
        return self._package(job, out, camera_space, crop, near_clip,
                             job.amount < 1 and keep_negative)  # fmt: skip

    def _package(
        self,
        job: _Pass,
        out: torch.Tensor,
        camera_space: bool,
        crop: Rect | None,
        mosaic_max: torch.Tensor | None = None,
        keep_negative: bool = False,
    ) -> Rendered:
        """Model/classical output ``(3, H, W)`` -> :class:`Rendered`: highlights faded to white
        where ``mosaic_max`` (the amplified mosaic around each pixel, on the output grid) nears
        the clip point (:mod:`~engine.render.highlights`), colour, then the picture cut out
        (``crop``, on the output grid), then the orientation. ``keep_negative``: ``out`` holds
        the classical render's noise below black, which must reach the colour matrix."""
        frame, cancel = job.frame, job.cancel
        xyz_to_cam, gains = camera_xyz_matrix(frame), frame.wb_gains
        if camera_space:
            out = out.clamp_(min=None if keep_negative else 0.0, max=1.0)
            if mosaic_max is not None:  # one highlight rule for every model and the classical
                neutralise_highlights(out, mosaic_max, frame.wb_gains)
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
            ratio=job.ratio,
            model=self.model_name,
            crop=crop,
            covers=covers,
            amount=job.amount,
        )
