"""Live-preview geometry: which part of a frame a preview renders, and how it is binned.

The preview path (:meth:`engine.render.Enhancer.render_preview`) cuts the visible region out of
the mosaic on whole CFA periods and averages packed pixels in blocks so a preview costs what
the screen shows, not what the sensor holds.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from engine.io import RawFrame, Rect, clip_rect, tile_pattern, xtrans_pattern


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


def bin_xtrans(mosaic: np.ndarray, pattern: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Average an X-Trans mosaic in ``size`` x ``size`` blocks, each colour on its own.

    Args:
        mosaic: ``(H, W)`` float32 normalised mosaic, ``H`` and ``W`` multiples of
            ``lcm(size, 6)`` (whole blocks and whole tiles).
        pattern: its ``(6, 6)`` CFA pattern (0 = R, 1 = G, 2 = B).
        size: a multiple of 3 (every 3x3 quarter of the tile holds every colour).

    Returns:
        ``(rgb, block_max)``: ``(3, H / size, W / size)`` float32 means of each colour's
        samples in each block, and ``(H / size, W / size)`` the largest sample of each block
        clipped to [0, 1] (for the highlight rule).
    """
    h, w = mosaic.shape
    tile = math.lcm(size, 6)  # blocks repeat their colour layout every `tile` pixels
    n = tile // size
    # (tile rows, block in tile, row in block, ...): the colour of a pixel depends on its
    # place in the tile only, so one small mask per colour weighs every tile at once.
    blocks = mosaic.reshape(h // tile, n, size, w // tile, n, size)
    layout = tile_pattern(pattern, tile, tile).reshape(n, size, n, size)
    planes = []
    for colour in range(3):
        mask = (layout == colour).astype(np.float32)
        total = np.einsum("ipajqb,paqb->ipjq", blocks, mask)
        planes.append(
            (total / mask.sum(axis=(1, 3))[None, :, None, :]).reshape(h // size, w // size)
        )
    block_max = np.clip(blocks.max(axis=(2, 5)).reshape(h // size, w // size), 0.0, 1.0)
    return np.stack(planes).astype(np.float32), block_max


def remosaic(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lay binned colours out again as an X-Trans mosaic (each pixel keeps the colour its
    place in the pattern passes), for a network that takes X-Trans input.

    Args:
        rgb: ``(3, h, w)`` float32 (:func:`bin_xtrans`).

    Returns:
        ``(mosaic, pattern)``: ``(h, w)`` float32 and the ``(6, 6)`` X-Trans pattern of its
        top-left pixel (:func:`engine.io.xtrans_pattern`).
    """
    pattern = xtrans_pattern(0, 0)
    _, h, w = rgb.shape
    index = tile_pattern(pattern, h, w).astype(np.intp)
    return np.take_along_axis(rgb, index[None], axis=0)[0], pattern


def preview_factor(height: int, width: int, max_side: int) -> int:
    """Binning factor so a ``height`` x ``width`` frame renders at most ``max_side`` px."""
    longest = max(height, width)
    return max(1, int(np.ceil(longest / max(max_side, 16))))


def picture_region(frame: RawFrame, region: Rect | None) -> Rect:
    """``region`` (``top, left, height, width`` in pixels of the picture, unrotated; ``None``:
    all of it) clipped to the picture."""
    _, _, v_height, v_width = frame.visible_rect
    inside = clip_rect(region, v_height, v_width) if region is not None else None
    return inside or (0, 0, v_height, v_width)


def preview_frame(
    frame: RawFrame, region: Rect | None, context: int = 0, align: int = 2
) -> tuple[RawFrame, Rect]:
    """The part of ``frame`` a preview of ``region`` renders.

    Args:
        region: ``(top, left, height, width)`` in pixels of the picture (the default crop,
            unrotated); ``None``: the whole picture.
        context: mosaic pixels kept around the region on every side (where the frame has
            them): a network's output there depends on them.
        align: the cut's top and left are multiples of ``align`` from the mosaic's top-left,
            and its bottom and right from the mosaic's bottom-right, so a network's pooling
            grid falls where it falls on the whole frame whichever way the packing mirrors
            it (always a whole number of CFA periods).

    Returns:
        ``(sub_frame, picture_rect)``: the mosaic cut around the region, with its
        ``default_crop`` set to exactly the region (so odd edges cost no misregistration;
        ``frame`` itself when that is all of it), and the region clipped to the picture, in
        picture coordinates.
    """
    align = math.lcm(align, frame.period)  # whole CFA periods whatever is asked
    v_top, v_left, _, _ = frame.visible_rect
    inside = picture_region(frame, region)
    wanted = (v_top + inside[0], v_left + inside[1], inside[2], inside[3])
    top, left = max(0, wanted[0] - context), max(0, wanted[1] - context)
    t0, l0 = top - top % align, left - left % align
    below = max(0, frame.height - (wanted[0] + wanted[2] + context))
    right = max(0, frame.width - (wanted[1] + wanted[3] + context))
    t1, l1 = frame.height - below + below % align, frame.width - right + right % align
    t1, l1 = min(t1, frame.height), min(l1, frame.width)
    exact = (wanted[0] - t0, wanted[1] - l0, wanted[2], wanted[3])
    if (t0, l0, t1, l1) == (0, 0, frame.height, frame.width):
        if exact == frame.visible_rect:
            return frame, inside  # all of it: the frame itself (its caches stay valid)
        sub = frame
    else:
        sub = frame.crop(t0, l0, t1 - t0, l1 - l0)
    sub = replace(sub, default_crop=None if exact == (0, 0, sub.height, sub.width) else exact)
    return sub, inside


def scaled_crop(crop: Rect | None, factor: int, height: int, width: int) -> Rect | None:
    """``crop`` on a grid ``factor`` times coarser (a binned preview's output), covering it."""
    if crop is None:
        return None
    top, left, h, w = crop
    t0, l0 = top // factor, left // factor
    t1, l1 = -(-(top + h) // factor), -(-(left + w) // factor)
    return clip_rect((t0, l0, t1 - t0, l1 - l0), height, width)
