"""The live previews of :class:`~engine.render.Enhancer`: the visible region at full
resolution (the export's own pixels), or the whole picture binned to the screen; X-Trans
photos binned by colour (:func:`~engine.render.preview.bin_xtrans`)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from engine.io import (
    GREEN,
    NOISE_FLOOR,
    XTRANS_BAND_LEAD,
    RawFrame,
    Rect,
    estimate_ratio,
    normalise_mosaic,
    tile_pattern,
)
from engine.jobs import CancelToken, ProgressCallback, no_progress
from engine.render.chroma import CHROMA_REACH
from engine.render.colour import split_below_black
from engine.render.detail import DETAIL_RADIUS
from engine.render.highlights import CLIP_START
from engine.render.packing import pack_rggb, pack_xtrans_mosaic
from engine.render.preview import (
    bin_packed,
    bin_xtrans,
    picture_region,
    preview_factor,
    preview_frame,
    remosaic,
    scaled_crop,
)
from engine.render.render_pass import RenderPass, check_amount
from engine.render.rendered import Rendered

#: Mosaic pixels around a full-resolution region that its demosaic and highlight map read.
DEMOSAIC_CONTEXT = 16


class PreviewRendering:
    """:class:`~engine.render.Enhancer`'s preview methods (a mixin: they render through its
    ``_render``, ``_finish`` and ``_package`` and read its ``runner``, ``needs_level``,
    ``restores_detail`` and ``smooths_chroma``)."""

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
        if amount > 0 and (chosen := self.for_frame(frame)) is not self:
            return chosen.render_preview(frame, ratio, max_side, region, progress, cancel, amount)
        self.check_sensor(frame, amount)
        level = self.noise_level(frame) if self.needs_level else None  # the whole frame's
        used = estimate_ratio(frame) if ratio is None else float(ratio)
        # The region's own size sets the binning: the sub-frame's extra edge pixels (whole
        # CFA periods around an odd region) must not push a 100 % view into binning by 2.
        _, _, height, width = picture_region(frame, region)
        factor = max(1, preview_factor(height, width, max_side))
        if factor == 1:
            # Full resolution: the export's own pixels. The network sees the region with its
            # whole receptive field around it, on the whole frame's pooling grid.
            context, align = self.region_context(frame.is_xtrans)
            frame, picture = preview_frame(frame, region, context, align)
            job = RenderPass(frame, used, check_amount(amount), level, progress, cancel)
            return replace(self._render(job), covers=picture)
        frame, picture = preview_frame(frame, region)
        job = RenderPass(frame, used, check_amount(amount), level, progress, cancel)
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
        # The network sees the bins clipped; the classical proxy keeps their noise below
        # black, as the full render does.
        packed, below = split_below_black(binned)
        kept = job.frame.visible_rect  # the region, less what the bins dropped
        crop = scaled_crop(job.frame.default_crop, factor, h // factor, w // factor)
        rendered = self._finish(job, packed, mirror, crop, factor, below)
        return replace(rendered, covers=(picture[0], picture[1], kept[2], kept[3]))

    def _xtrans_preview(self, job: RenderPass, factor: int, picture: Rect) -> Rendered:
        """A binned X-Trans preview (:func:`bin_xtrans`), on the bins' grid: the classical
        proxy, or the network's render of the bins laid out again as an X-Trans mosaic
        (:func:`remosaic`), its noise map told how many samples of each colour a bin
        averaged."""
        size = 3 * -(-factor // 3)  # whole 3x3 quarters of the tile, each with every colour
        frame, whole = job.frame, math.lcm(2 * size, 6)  # an even number of bins
        h, w = frame.height - frame.height % whole, frame.width - frame.width % whole
        job = replace(job, frame=frame.crop(0, 0, h, w))
        mosaic = normalise_mosaic(job.frame, job.ratio, clip=False)
        np.clip(mosaic, -NOISE_FLOOR, 1.0, out=mosaic)
        rgb, block_max = bin_xtrans(mosaic, job.frame.cfa_pattern, size)
        near_clip = torch.from_numpy(block_max) if block_max.max() >= CLIP_START else None
        crop = scaled_crop(job.frame.default_crop, size, h // size, w // size)
        if self.runner is None or job.amount == 0:
            rendered = self._package(job, torch.from_numpy(rgb), True, crop, near_clip, True)
        else:
            binned, pattern = remosaic(np.clip(rgb, 0.0, 1.0))
            # Each bin averages 2/9 of its pixels for red or blue, 5/9 for green.
            colours = tile_pattern(pattern, *rgb.shape[1:])
            samples = np.where(colours == GREEN, 5 / 9, 2 / 9) * size**2
            binning = pack_xtrans_mosaic(np.sqrt(samples).astype(np.float32))
            proxy = (torch.from_numpy(rgb), near_clip)
            rendered = self._finish(job, pack_xtrans_mosaic(binned), (False, False), crop,
                                    binning, pattern=pattern, proxy=proxy)  # fmt: skip
        kept = job.frame.visible_rect
        return replace(rendered, covers=(picture[0], picture[1], kept[2], kept[3]))

    def region_context(self, xtrans: bool = False) -> tuple[int, int]:
        """``(context, align)`` in mosaic pixels for :func:`preview_frame`: what a region must
        carry around it so that its render equals the same pixels of the whole frame's
        (:func:`preview_frame` makes the alignment whole CFA periods too). An X-Trans crop's
        demosaic differs from the whole frame's in its outer :data:`XTRANS_BAND_LEAD` lines."""
        demosaic_context = XTRANS_BAND_LEAD if xtrans else DEMOSAIC_CONTEXT
        if self.runner is None:
            return demosaic_context, 2
        # The receptive radius is in packed pixels (2 mosaic pixels each); the network's input
        # planes (demosaic, noise map) and the highlight map read a few pixels further.
        radius = self.runner.model.receptive_radius
        detail = DETAIL_RADIUS if self.restores_detail else 0  # it reads the output around
        detail += CHROMA_REACH if self.smooths_chroma else 0  # and so does this, after it
        return 2 * radius + demosaic_context + detail, 2 * self.runner.multiple
