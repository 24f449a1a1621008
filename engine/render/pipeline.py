"""RAW frame -> finished image: the one path the CLI, the GUI and the benchmarks all use."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from engine.device import select_device
from engine.errors import ModelError, UnsupportedSensorError
from engine.io import (
    XYZ_TO_SRGB,
    RawFrame,
    Rect,
    demosaic_below_black,
    estimate_ratio,
    normalise_mosaic,
    take_made_ahead,
)
from engine.jobs import CancelToken, ProgressCallback, no_progress
from engine.models import (
    DEFAULT_MODEL,
    NO_FINISHING,
    Finishing,
    ModelCard,
    load_model,
    model_for_sensor,
    resolve_model,
)
from engine.noise import PROFILES, NoiseLevel, NoiseProfile, card_noise_profile, noise_level_for
from engine.render.colour import (
    apply_orientation,
    develop,
    pack_with_below_black,
    srgb_decode,
)
from engine.render.enhancer_previews import PreviewRendering
from engine.render.finishing import finish_output
from engine.render.highlights import (
    neighbourhood_max,
    neutralise_highlights,
    packed_max,
)
from engine.render.inputs import demosaic_of_input, network_channels
from engine.render.packing import (
    Mirror,
    mirror_image,
)
from engine.render.render_pass import (
    RenderPass,
    binned_classical,
    camera_xyz_matrix,
    check_amount,
    classical_of,
)
from engine.render.rendered import Rendered
from engine.render.tiling import TiledRunner
from engine.resources import SENSOR_NAMES, detail_from_input

#: Name of the classical (network-free) pipeline wherever a model name is expected.
CLASSICAL = "none"


def _photo_name(frame: RawFrame) -> str:
    return Path(frame.path).name if frame.path else "this photo"


class Enhancer(PreviewRendering):
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
        self._options = (device, tile, model_dirs, precision)  # for a CFA sibling
        self._sibling: Enhancer | None = None
        self._sibling_error: str | None = None
        self._sibling_lock = threading.Lock()
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
            # A fine-tuned model knows its camera best, unless its fine-tune measured that
            # the frame's own level serves the network better (card.noise_fit_sets_level).
            if fitted is not None and self.card.noise_fit_sets_level:
                self.noise_profiles.insert(0, fitted)

    @property
    def takes_noise(self) -> bool:
        """Whether the network takes the noise map (its card's ``noise_input``)."""
        return self.runner is not None and self.runner.model.noise_input

    @property
    def finishing(self) -> Finishing:
        """The steps full-resolution renders take after the network (its card's
        :attr:`~engine.models.ModelCard.finishing`, :func:`finish_output`); none without one."""
        if self.runner is None or self.card is None:
            return NO_FINISHING
        return self.card.finishing

    @property
    def restores_detail(self) -> bool:
        """Whether full-resolution renders add back the classical render's detail that stands
        above the noise (:func:`~engine.render.restore_detail`)."""
        return self.finishing.restores_detail

    @property
    def smooths_chroma(self) -> bool:
        """Whether full-resolution renders replace the output's chroma by its guided filter
        on the luminance (:func:`~engine.render.smooth_chroma`)."""
        return self.finishing.smooths_chroma

    @property
    def needs_level(self) -> bool:
        """Whether renders need the frame's noise level: for the network's noise map, or for
        the steps after it (the restoration's allowance, the chroma step's gate)."""
        return self.takes_noise or any(self.finishing)

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
        self,
        packed: np.ndarray,
        ratio: float,
        level: NoiseLevel | None,
        binning: float | np.ndarray = 1,
        pattern: np.ndarray | None = None,
        origin: tuple[int, int] = (0, 0),
        below_black: np.ndarray | None = None,
    ) -> np.ndarray:
        """What the network takes (:func:`~engine.render.inputs.network_channels`): ``packed``
        ``(4, h, w)``, the noise map for a noise-aware model (a pixel averaged over
        ``binning**2`` samples of its colour carries ``1 / binning`` of the noise; ``binning``
        is one number, or one per packed sample, ``(4, h, w)``), an X-Trans model's colour
        planes (``pattern``: the X-Trans pattern of ``packed``'s top-left pixel) and the
        demosaic for a model that starts from it (from ``below_black``, the same planes with
        the noise below black kept, for a model that takes its demosaic that way); already
        mirrored outwards for the runner (``self.runner.run(x, frame_size=packed's (h, w))``),
        a copy fewer than padding later."""
        model = self.runner.model if self.runner is not None else None
        noise = level if model is not None and model.noise_input else None
        wants_demosaic = model is not None and model.demosaic_input
        colours = pattern if model is not None and model.colour_input else None
        if model is None or not model.demosaic_below_black:
            below_black = None
        elif below_black is None:
            raise ValueError(f"{self.model_name} takes its demosaic with the noise below black")
        border, multiple = (self.runner.border, self.runner.multiple) if self.runner else (0, 1)
        return network_channels(packed, ratio, noise, demosaic=wants_demosaic, pattern=colours,
                                binning=binning, border=border, multiple=multiple,
                                origin=origin, below_black=below_black)  # fmt: skip

    def for_frame(self, frame: RawFrame) -> Enhancer:
        """The enhancer that renders ``frame``: this one, or, for a photo whose colour filter
        array this model does not take, the bundled version of it for that CFA
        (:func:`engine.models.model_for_sensor`: the default model's X-Trans version), loaded
        once. The result's :attr:`Rendered.model` names the model that really rendered it.

        Raises:
            UnsupportedSensorError: that version cannot be loaded (said once, then again for
                every frame that needs it, without trying again).
        """
        network = self.runner.model if self.runner is not None else None
        if network is None or frame.sensor in network.sensors:
            return self
        sibling = model_for_sensor(self.model_name, frame.sensor)
        if sibling == self.model_name:
            return self  # no version for this sensor: check_sensor says so
        with self._sibling_lock:  # the preview's and an export's threads share an Enhancer
            if self._sibling is None and self._sibling_error is None:
                device, tile, model_dirs, precision = self._options
                try:
                    self._sibling = Enhancer(sibling, device, tile, model_dirs, precision)
                except ModelError as exc:
                    kind = SENSOR_NAMES.get(frame.sensor, frame.sensor)
                    self._sibling_error = (f"{sibling}, the {kind} version of {self.model_name}, "
                                           f"cannot be used: {exc}")  # fmt: skip
            if self._sibling is None:
                raise UnsupportedSensorError(f"{_photo_name(frame)}: {self._sibling_error}")
            return self._sibling

    def check_sensor(self, frame: RawFrame, amount: float = 1.0) -> None:
        """Refuse, in one line, a frame this model cannot enhance: one whose colour filter
        array (Bayer, X-Trans) the network does not take and has no version for (see
        :meth:`for_frame`). At Amount 0 every frame renders (classically).

        Raises:
            UnsupportedSensorError: such a frame and a network at an Amount above 0.
        """
        network = self.runner.model if self.runner is not None else None
        if network is None or amount <= 0 or frame.sensor in network.sensors:
            return
        name = _photo_name(frame)
        if frame.is_xtrans:
            raise UnsupportedSensorError(
                f"{name}: no {self.model_name} model for X-Trans sensors; use {DEFAULT_MODEL} "
                "(its X-Trans version) or the classical render (no enhancement)"
            )
        raise UnsupportedSensorError(
            f"{name}: {self.model_name} takes X-Trans photos only and this one is Bayer; use "
            f"{DEFAULT_MODEL} or the classical render (no enhancement)"
        )

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
                classical render (the network does not run), 1 the network's (with, for a
                model whose card restores detail, the classical render's detail above the
                noise, :func:`restore_detail`).

        Raises:
            ValueError: ``amount`` outside [0, 1].
            Cancelled: ``cancel`` was set (checked between tiles).
        """
        if amount > 0 and (chosen := self.for_frame(frame)) is not self:
            return chosen.render(frame, ratio, progress, cancel, amount)
        used = estimate_ratio(frame) if ratio is None else float(ratio)
        amount = check_amount(amount)
        self.check_sensor(frame, amount)
        level = self.noise_level(frame) if self.needs_level and amount > 0 else None
        return self._render(RenderPass(frame, used, amount, level, progress, cancel))

    def _render(self, job: RenderPass) -> Rendered:
        """The full-resolution render of ``job``'s frame (see :meth:`render`)."""
        if job.cancel is not None:
            job.cancel.raise_if_cancelled()
        if self.runner is None or job.amount == 0:
            job.progress(0, 1, "demosaic")
            mosaic = normalise_mosaic(job.frame, job.ratio, clip=False)  # once, for both
            near_clip = neighbourhood_max(mosaic)
            linear = take_made_ahead(job.frame, job.ratio)
            if linear is None:
                linear = demosaic_below_black(mosaic, job.frame.cfa_pattern, job.frame.origin)
            job.progress(1, 1, "done")
            linear_chw = torch.from_numpy(linear).permute(2, 0, 1)
            return self._package(job, linear_chw, True, job.frame.default_crop, near_clip, True)
        below_black = self.runner.model.demosaic_below_black  # its demosaic's source too
        packed, mirror, below = pack_with_below_black(job.frame, job.ratio, below_black)
        pattern = job.frame.cfa_pattern if job.frame.is_xtrans else None
        return self._finish(job, packed, mirror, job.frame.default_crop, unclipped=below,
                            pattern=pattern)  # fmt: skip

    def _finish(
        self,
        job: RenderPass,
        packed: np.ndarray,
        mirror: Mirror,
        crop: Rect | None,
        binning: float | np.ndarray = 1,
        unclipped: np.ndarray | None = None,
        *,
        pattern: np.ndarray | None = None,
        proxy: tuple[torch.Tensor, torch.Tensor | None] | None = None,
    ) -> Rendered:
        """Packed ``(4, h, w)`` in RGGB geometry (:func:`~engine.render.packing.pack_rggb`),
        or an X-Trans mosaic packed by position whose top-left ``pattern`` is given, its pixels
        averages of ``binning``**2 samples (a number, or one per sample) -> finished image at
        ``(2h, 2w)`` on the frame's own grid (``mirror`` undone), ``crop`` (on that grid) the
        picture.
        ``unclipped``: the same bins with the noise below black kept (down to
        ``-NOISE_FLOOR``), for the classical proxy and the demosaic of a network that takes it
        that way (its ``demosaic_below_black``; at full resolution too). ``proxy``: a binned
        X-Trans preview's own classical proxy and highlight map, ``(3, 2h, 2w)`` and
        ``(2h, 2w)`` or ``None``."""
        is_proxy = proxy is not None or np.max(binning) > 1 or self.runner is None
        classical, near_clip = proxy if proxy is not None else (None, None)
        if classical is None and is_proxy:
            classical = binned_classical(packed if unclipped is None else unclipped, mirror)
        keep_negative = not is_proxy or unclipped is not None or proxy is not None
        if proxy is None:
            near_clip = packed_max(packed)
            if near_clip is not None:
                near_clip = mirror_image(near_clip, mirror)
        if self.runner is None or job.amount == 0:
            if classical is None:
                classical = classical_of(job)
            return self._package(job, classical, True, crop, near_clip, keep_negative)
        x = self.network_input(packed, job.ratio, job.level, binning, pattern, job.frame.origin,
                               below_black=unclipped)  # fmt: skip
        frame_size = packed.shape[1], packed.shape[2]
        out = self.runner.run(x, job.progress, job.cancel, frame_size=frame_size)
        # At full resolution only: a binned preview's bins have averaged the texture (and the
        # colour noise) away.
        finishing = NO_FINISHING if is_proxy or job.level is None else self.finishing
        detail = finishing.restores_detail
        source = None
        if detail and detail_from_input(job.frame.sensor, self.runner.model.demosaic_below_black):
            # The input's demosaic: below black, the classical render's DHT of the same mosaic
            # (for a frame packed without mirroring, exactly its pixels); for X-Trans, LibRaw's
            # X-Trans interpolation clipped at black, which serves as well. Read back, it saves
            # demosaicking the frame a second time (2-3 s at 12 MP).
            source = mirror_image(demosaic_of_input(x, self.runner.border, *frame_size,
                                                    spend_input=True), mirror)  # fmt: skip
        del x  # the input buffer, before the classical render is made beside the output
        out = mirror_image(torch.from_numpy(out), mirror)
        assert self.card is not None
        camera_space = self.card.output_space != "srgb"
        if camera_space and (any(finishing) or job.amount < 1):
            out = self._finish_and_blend(job, out.clamp_(0.0, 1.0), classical, source,
                                         finishing)  # fmt: skip
        del source  # it may hold the input's buffer (spend_input): free it before the colour
        return self._package(job, out, camera_space, crop, near_clip,
                             (job.amount < 1 or detail) and keep_negative)  # fmt: skip

    @staticmethod
    def _finish_and_blend(
        job: RenderPass,
        out: torch.Tensor,
        classical: torch.Tensor | None,
        source: torch.Tensor | None,
        finishing: Finishing,
    ) -> torch.Tensor:
        """The network's ``out`` (``(3, H, W)`` linear camera RGB in [0, 1], changed in place)
        after the steps ``finishing`` asks for (:func:`finish_output`; the detail restored
        from ``source``, the classical render when ``None``), then blended with the classical
        render (``classical``, made here when ``None``) by Amount."""
        if finishing.restores_detail:  # seconds more at 12 MP: say so, and stop here if asked
            job.progress(1, 1, "restoring detail")
            if job.cancel is not None:
                job.cancel.raise_if_cancelled()
            if source is None:
                classical = source = classical_of(job) if classical is None else classical
        out = finish_output(out, finishing, job.level, job.ratio, job.frame.wb_gains,
                            job.frame.sensor, source, job.cancel)  # fmt: skip
        if job.amount < 1:
            # Amount blends with the classical render itself, never a stand-in for it.
            classical = classical_of(job) if classical is None else classical
            out = classical + job.amount * (out - classical)
        return out

    def _package(
        self,
        job: RenderPass,
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
