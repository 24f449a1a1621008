"""Tiled inference: any frame size, any device, bounded memory, cancellable.

The packed frame is cut into a grid of *cores*. Each tile is its core plus a margin of at least
the network's receptive radius, so every output pixel inside a core sees the same context it
would see in a whole-frame pass; margins and cores start on multiples of the model's size
multiple, so pooling grids line up with the whole-frame pass too. (One packed pixel is one CFA
period, so every tile is CFA-aligned by construction.) Neighbouring outputs are cross-faded over
a narrow band with weights that sum to exactly one, which hides any residual difference.

The frame's own borders are mirrored outwards by one size multiple first, the bottom and right a
little further, up to a whole size multiple (:func:`pad_frame_border`): a network sees
real-looking context there instead of its convolutions' zero padding, and pads nothing itself.
On ten held-out synthetic pairs at x100 that cut ``baseline``'s mean absolute sRGB error in the
outermost two pixel columns/rows from 0.070/0.053/0.066/0.061 (left/right/top/bottom) to
0.058/0.043/0.051/0.044 (interior 0.043), and on a real Kodak DC50 file it removed a green
line along the right border (G - R in the last two columns: +17 -> +1 levels of 255).

The runner reads what it needs from the model's contract (:class:`~engine.models.EnhanceNet`:
size multiple, receptive radius, activation memory, supported dtypes); device and precision come
from :mod:`engine.device`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from engine.device import autocast_dtype, available_bytes, select_device
from engine.errors import DarkroomError
from engine.jobs import CancelToken, ProgressCallback, no_progress
from engine.models import EnhanceNet
from engine.render.packing import ImageT

#: Half-width, in packed pixels, of the band over which neighbouring tiles are cross-faded.
BLEND = 8


def _round_up(value: int, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


@dataclass(frozen=True)
class TilePlan:
    """The grid of a tiled pass, in packed pixels: cores of ``core_h`` x ``core_w``."""

    core_h: int
    core_w: int
    margin: int
    height: int
    width: int

    def cores(self) -> list[tuple[int, int, int, int]]:
        """``(top, left, bottom, right)`` of every core, row-major."""
        rows = range(0, self.height, self.core_h)
        cols = range(0, self.width, self.core_w)
        return [
            (t, lft, min(t + self.core_h, self.height), min(lft + self.core_w, self.width))
            for t in rows
            for lft in cols
        ]

    @property
    def computed_pixels(self) -> int:
        """Packed pixels the network processes, margins included."""
        total = 0
        for t, lft, b, r in self.cores():
            th = min(self.height, b + self.margin) - max(0, t - self.margin)
            tw = min(self.width, r + self.margin) - max(0, lft - self.margin)
            total += th * tw
        return total


def plan_tiles(height: int, width: int, margin: int, multiple: int, budget_px: int) -> TilePlan:
    """The grid that computes the fewest pixels with no tile over ``budget_px``.

    Rectangular cores matter: a 12 MP frame in two tall tiles carries one margin, in sixteen
    small square ones it carries six, and margins of ~110 px are pure overhead.
    """
    best: TilePlan | None = None
    for ny in range(1, max(2, math.ceil(height / multiple)) + 1):
        core_h = _round_up(math.ceil(height / ny), multiple)
        tile_h = min(height, core_h + margin * min(2, ny - 1))
        if tile_h * multiple * 4 > budget_px and ny > 1 and best is not None:
            break
        for nx in range(1, max(2, math.ceil(width / multiple)) + 1):
            core_w = _round_up(math.ceil(width / nx), multiple)
            tile_w = min(width, core_w + margin * min(2, nx - 1))
            if tile_h * tile_w > budget_px:
                continue
            plan = TilePlan(core_h, core_w, margin, height, width)
            key = (plan.computed_pixels, len(plan.cores()))
            if best is None or key < (best.computed_pixels, len(best.cores())):
                best = plan
            break  # more columns only add margins
    if best is None:  # even the smallest tiles exceed the budget: use them anyway
        side = multiple * 4
        best = TilePlan(side, side, margin, height, width)
    return best


def frame_border(model: EnhanceNet) -> int:
    """Packed pixels to mirror on every side of a frame before ``model`` sees it.

    One size multiple keeps the pooling grid on the frame's own origin, so only pixels within
    the receptive radius of a border change; 8 packed pixels did as well as 32.
    """
    return model.size_multiple


def border_sizes(height: int, width: int, pad: int, multiple: int = 1) -> tuple[int, int]:
    """``(bottom, right)`` of :func:`pad_frame_border`: ``pad`` plus whatever makes each
    padded size a multiple of ``multiple`` (its top and left are ``pad``)."""
    return pad + (-(height + 2 * pad)) % multiple, pad + (-(width + 2 * pad)) % multiple


def mirrors_in_place(height: int, width: int, pad: int, multiple: int = 1) -> bool:
    """Whether :func:`mirror_border` can fill that border: each side narrower than the frame."""
    bottom, right = border_sizes(height, width, pad, multiple)
    return max(pad, bottom) < height and max(pad, right) < width


def bordered_buffer(
    channels: int, height: int, width: int, pad: int, multiple: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """An empty float32 frame with room for :func:`pad_frame_border`'s border, and a view of
    its interior: write the ``(channels, height, width)`` frame into the view, then call
    :func:`mirror_border`. Building a network's input this way skips one full copy of it.

    Returns:
        ``(buffer, interior)``: ``buffer`` ``(channels, pad + height + bottom, pad + width +
        right)``, ``bottom``/``right`` being ``pad`` plus whatever makes each size a multiple
        of ``multiple``; ``interior`` the ``(channels, height, width)`` view at ``(pad, pad)``.
    """
    bottom, right = border_sizes(height, width, pad, multiple)
    buffer = np.empty((channels, pad + height + bottom, pad + width + right), np.float32)
    return buffer, buffer[:, pad : pad + height, pad : pad + width]


def mirror_border(buffer: np.ndarray, pad: int, height: int, width: int) -> np.ndarray:
    """Fill a :func:`bordered_buffer`'s border by reflecting its ``height`` x ``width``
    interior (without repeating the edge, as ``np.pad(mode="reflect")``), in place; returns
    ``buffer``. Each border must be narrower than the frame (use :func:`pad_frame_border` for
    any size)."""
    bottom = buffer.shape[1] - pad - height
    right = buffer.shape[2] - pad - width
    if max(pad, bottom) >= height or max(pad, right) >= width:  # not mirrors_in_place
        raise ValueError(
            f"a {height} x {width} frame cannot be mirrored {pad}/{bottom}/{right} wide"
        )
    rows = buffer[:, :, pad : pad + width]
    end = pad + height
    rows[:, :pad] = rows[:, pad + 1 : 2 * pad + 1][:, ::-1]
    rows[:, end:] = rows[:, end - 1 - bottom : end - 1][:, ::-1]
    end = pad + width  # columns over the whole height: the corners mirror the mirrored rows
    buffer[:, :, :pad] = buffer[:, :, pad + 1 : 2 * pad + 1][:, :, ::-1]
    buffer[:, :, end:] = buffer[:, :, end - 1 - right : end - 1][:, :, ::-1]
    return buffer


def pad_frame_border(packed: np.ndarray, pad: int, multiple: int = 1) -> np.ndarray:
    """Mirror a packed frame's borders outwards (reflection without repeating the edge).

    Args:
        packed: ``(C, h, w)`` packed frame, float32 (or, at sizes too small to mirror in
            place, any float dtype).
        pad: packed pixels added on every side (0 and ``multiple`` 1: returned unchanged).
        multiple: the bottom and right get as many more as make each padded size a multiple
            of it (a network's size multiple): the network then pads nothing itself, which
            at 12 MP was one more copy of its 20 input planes (265 MB, 0.3 s).

    Returns:
        ``(C, h + 2 pad + extra_h, w + 2 pad + extra_w)``; each channel plane is reflected on
        its own, so the CFA phase of every packed pixel is kept, and the frame starts at
        ``(pad, pad)``.
    """
    channels, h, w = packed.shape
    bottom, right = border_sizes(h, w, pad, multiple)
    if not (pad or bottom or right):
        return packed
    if not mirrors_in_place(h, w, pad, multiple):  # borders wider than the frame
        return np.pad(packed, ((0, 0), (pad, bottom), (pad, right)), mode="reflect")
    buffer, interior = bordered_buffer(channels, h, w, pad, multiple)
    # On every core; torch takes no negative strides (a mirrored view).
    torch.from_numpy(interior).copy_(torch.from_numpy(np.ascontiguousarray(packed)))
    return mirror_border(buffer, pad, h, w)


def crop_frame_border(out: ImageT, pad: int, height: int, width: int) -> ImageT:
    """A network's full-resolution output of a :func:`pad_frame_border` input, cropped back
    to the ``height`` x ``width`` packed frame's ``(..., 2 height, 2 width)`` (a view; numpy
    or torch)."""
    return out[..., 2 * pad : 2 * (pad + height), 2 * pad : 2 * (pad + width)]


def _ramp(length: int, start: int, stop: int, lo_edge: bool, hi_edge: bool) -> np.ndarray:
    """1-D weights over ``[start, stop)`` of a tile output spanning ``length`` pixels.

    Weights rise linearly over ``2 * BLEND`` pixels centred on ``start`` unless that side is
    the image border, and fall likewise around ``stop``; a rising and a falling ramp of two
    neighbours sum to exactly 1.
    """
    pos = np.arange(length, dtype=np.float32) + 0.5
    w = np.ones(length, dtype=np.float32)
    if not lo_edge:
        w = np.minimum(w, np.clip((pos - (start - BLEND)) / (2 * BLEND), 0.0, 1.0))
    if not hi_edge:
        w = np.minimum(w, np.clip(((stop + BLEND) - pos) / (2 * BLEND), 0.0, 1.0))
    return w


class TiledRunner:
    """Runs an enhancement network over a packed frame tile by tile.

    Args:
        model: a registered variant; its contract (:class:`~engine.models.EnhanceNet`) sets the
            tile alignment, the overlap, the memory per pixel and the usable precisions.
        device: where to run; ``None`` chooses with :func:`engine.device.select_device`.
        tile: core tile side in packed pixels; ``None`` chooses from available memory.
        precision: ``"auto"``, ``"fp32"``, ``"bf16"`` or ``"fp16"``
            (see :func:`engine.device.autocast_dtype`); a dtype the model does not list in
            ``supported_dtypes`` runs in float32.
    """

    def __init__(
        self,
        model: EnhanceNet,
        device: torch.device | None = None,
        tile: int | None = None,
        precision: str = "auto",
    ) -> None:
        self.device = device or select_device("auto")
        self.model = model.eval().to(self.device)
        if self.device.type in ("cpu", "cuda"):
            # NHWC: oneDNN's blocked layouts are about twice as fast on CPUs, and cuDNN's
            # tensor-core kernels for bf16/fp16 convolutions want channels last too.
            self.model = self.model.to(memory_format=torch.channels_last)
        if self.device.type == "cuda":
            # Tile shapes repeat across a frame and a batch; let cuDNN pick the fastest kernels.
            torch.backends.cudnn.benchmark = True
        self.multiple = model.size_multiple
        # A tile's output is kept over its core and a BLEND band beyond it: every kept pixel
        # needs the whole receptive radius inside the tile, so the tiles' blend equals the
        # whole frame's output (and a full-resolution preview region, the export's pixels).
        self.margin = _round_up(model.receptive_radius + BLEND, self.multiple)
        amp = autocast_dtype(self.device, precision)
        self.amp_dtype = amp if amp in model.supported_dtypes else None
        self.tile = tile
        self.border = frame_border(model)
        self.activation_bytes = model.activation_bytes

    def bytes_per_pixel(self) -> int:
        """Estimated peak activation bytes per packed input pixel at the runner's precision."""
        return max(1, self.activation_bytes // (2 if self.amp_dtype else 1))

    def plan(self, height: int, width: int) -> TilePlan:
        """The tile grid :meth:`run` uses for a packed frame of ``height`` x ``width``: it
        covers the frame with its mirrored border (:func:`border_sizes`: ``border`` packed
        pixels on the top and left, up to a size multiple more on the bottom and right)."""
        bottom, right = border_sizes(height, width, self.border, self.multiple)
        height, width = height + self.border + bottom, width + self.border + right
        if self.tile is not None:
            side = max(self.multiple, _round_up(int(self.tile), self.multiple))
            return TilePlan(side, side, self.margin, height, width)
        budget = available_bytes(self.device) // self.bytes_per_pixel()
        return plan_tiles(height, width, self.margin, self.multiple, budget)

    @torch.inference_mode()
    def _infer(self, x: torch.Tensor) -> torch.Tensor:
        if self.device.type == "cuda":
            # Page-locked memory lets the copy run asynchronously (DMA) instead of staging.
            x = x.contiguous().pin_memory()
        x = x.to(self.device, non_blocking=True)
        if self.device.type in ("cpu", "cuda") and self.model.channels_last_input:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.amp_dtype is not None:
            with torch.autocast(self.device.type, dtype=self.amp_dtype):
                y = self.model(x)
        else:
            y = self.model(x)
        return y.float()

    def run(
        self,
        packed: np.ndarray,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        frame_size: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """Enhance a packed frame.

        Args:
            packed: ``(C, h, w)`` float32, the network's input planes
                (:func:`~engine.render.inputs.network_channels`).
            frame_size: ``(h, w)`` of the frame when ``packed`` already carries this
                runner's mirrored border (``pad_frame_border(planes, self.border,
                self.multiple)``, or ``network_channels(..., border=, multiple=)``).

        Returns:
            ``(3, 2h, 2w)`` float32 for the ``h`` x ``w`` frame (``frame_size`` when given) in
            the model's output space (not clipped); a view into the output of the
            border-padded frame (:func:`pad_frame_border`).

        Raises:
            Cancelled: ``cancel`` was set; checked between tiles.
        """
        if frame_size is None:
            frame_h, frame_w = packed.shape[1:]
            packed = pad_frame_border(packed, self.border, self.multiple)
        else:
            frame_h, frame_w = frame_size
        plan = self.plan(frame_h, frame_w)
        if (plan.height, plan.width) != packed.shape[1:]:
            raise ValueError(f"a bordered {frame_h} x {frame_w} frame must be "
                             f"{plan.height} x {plan.width}, got {packed.shape[1:]}")  # fmt: skip
        _, h, w = packed.shape
        smallest = self.multiple * 4
        while True:
            try:
                out = self._run_plan(packed, plan, progress, cancel)
                return crop_frame_border(out, self.border, frame_h, frame_w)
            except torch.OutOfMemoryError:
                # A GPU shared with other programs can have less free memory than it reported.
                if self.device.type != "cuda" or max(plan.core_h, plan.core_w) <= smallest:
                    raise DarkroomError("out of memory even with the smallest tiles") from None
                torch.cuda.empty_cache()
                half_h = max(smallest, _round_up(plan.core_h // 2, self.multiple))
                half_w = max(smallest, _round_up(plan.core_w // 2, self.multiple))
                plan = TilePlan(half_h, half_w, self.margin, h, w)

    def _run_plan(
        self,
        packed: np.ndarray,
        plan: TilePlan,
        progress: ProgressCallback,
        cancel: CancelToken | None,
    ) -> np.ndarray:
        _, h, w = packed.shape
        src = torch.from_numpy(np.ascontiguousarray(packed, dtype=np.float32))
        cores = plan.cores()
        # A whole frame in one tile is its own output: no blending, no second 150 MB buffer.
        out = np.zeros((3, 2 * h, 2 * w), dtype=np.float32) if len(cores) > 1 else None
        for i, (top, left, bottom, right) in enumerate(cores):
            if cancel is not None:
                cancel.raise_if_cancelled()
            progress(i, len(cores), f"tile {i + 1}/{len(cores)}")
            t0, l0 = max(0, top - plan.margin), max(0, left - plan.margin)
            t1, l1 = min(h, bottom + plan.margin), min(w, right + plan.margin)
            y = self._infer(src[None, :, t0:t1, l0:l1])[0].cpu().numpy()
            if out is None:
                progress(1, 1, "done")
                return y
            # Output span kept from this tile: the core plus the blend band where it has one.
            a0, b0 = max(t0, top - BLEND), max(l0, left - BLEND)
            a1, b1 = min(t1, bottom + BLEND), min(l1, right + BLEND)
            wy = _ramp(a1 - a0, top - a0, bottom - a0, top == 0, bottom == h)
            wx = _ramp(b1 - b0, left - b0, right - b0, left == 0, right == w)
            weight = np.repeat(np.repeat(np.outer(wy, wx), 2, axis=0), 2, axis=1)
            patch = y[:, 2 * (a0 - t0) : 2 * (a1 - t0), 2 * (b0 - l0) : 2 * (b1 - l0)]
            out[:, 2 * a0 : 2 * a1, 2 * b0 : 2 * b1] += patch * weight
        progress(len(cores), len(cores), "done")
        return out
