"""RAW frame -> finished image: packing, colour, exposure ratio, tiling, the pipeline.

* :class:`Enhancer` (``Enhancer(model).render(frame, ratio)``) is the one path the CLI, the
  window, the evaluation and the benchmarks render with; :data:`CLASSICAL` (``"none"``) names
  the network-free classical pipeline wherever a model name is expected;
* :func:`export_frame` (render + write) and :func:`enhance_file` (decode + render + write):
  the one export path of the window and the CLI;
* :func:`process_file`: one file of a batch as a :class:`FileOutcome` (a bad file is an
  outcome, not an exception), called by the local batch and by :func:`enhance_on_ray`, the
  batch on a Ray cluster (:class:`RaySettings`, :class:`WorkerSpec`);
* :func:`pack_rggb` / :func:`pack_bayer`: mosaic -> ``(4, H/2, W/2)`` network input
  (:func:`pack_for_network`: or :func:`pack_xtrans` with :func:`colour_planes` for X-Trans);
* :func:`develop`, :func:`classical_linear`: the file's own colour pipeline and demosaic
  (the demosaic and the ratio's estimate live in :mod:`engine.io`, torch-free, and are
  re-exported here);
* :func:`restore_detail`: the classical render's fine detail that stands above the noise,
  added back to a network's output (models whose card sets ``restores_detail``);
* :func:`smooth_chroma`: false colour and colour noise out of a network's output, its
  luminance kept (models whose card sets ``smooths_chroma``);
* :func:`finish_output`: those steps in their order, as a card's ``finishing`` asks (the
  renderer and the fine-tune's validation both call it);
* :func:`estimate_ratio`, :func:`parse_ratio`: the exposure ratio;
* :class:`TiledRunner`: a network over a packed frame in overlapping, blended tiles;
* :class:`PhotoSettings`: a photo's own ratio, model, Amount and Before view, saved beside it
  (:func:`save_photo_settings`, :func:`load_photo_settings`; a per-user fallback folder,
  :func:`engine.resources.user_data_dir`, where its folder is read-only), never in it.
"""

from __future__ import annotations

from engine.io import (
    MAX_RATIO,
    MIN_RATIO,
    NOISE_FLOOR,
    classical_linear,
    demosaic,
    demosaic_below_black,
    estimate_ratio,
    normalise_mosaic,
    parse_ratio,
)
from engine.render.adjustments import Adjustments, parse_amount
from engine.render.batch import (
    BatchItem,
    BatchProgress,
    FileOutcome,
    format_eta,
    process_file,
    run_batch,
)
from engine.render.chroma import smooth_chroma
from engine.render.cluster import RaySettings, WorkerSpec, enhance_on_ray
from engine.render.colour import (
    apply_orientation,
    develop,
    develop_batch,
    develop_numpy,
    highlight_gains,
    leaky_clamp,
    pack_with_below_black,
    split_below_black,
    srgb_decode,
    srgb_encode,
)
from engine.render.detail import DETAIL_WINDOW, restore_detail
from engine.render.enhance import (
    RENDER_SHARE,
    WRITING,
    EnhancedFile,
    enhance_file,
    export_frame,
)
from engine.render.finishing import finish_output
from engine.render.inputs import demosaic_of_input, demosaic_planes, network_channels
from engine.render.packing import (
    Mirror,
    colour_planes,
    mirror_frame,
    mirror_image,
    pack_bayer,
    pack_for_network,
    pack_rggb,
    pack_xtrans,
    packed_positions,
    rggb_mirror,
    unpack_bayer,
)
from engine.render.photo_settings import (
    BEFORE_MODES,
    PhotoSettings,
    fallback_sidecar_path,
    load_photo_settings,
    save_photo_settings,
    sidecar_path,
)
from engine.render.pipeline import CLASSICAL, Enhancer
from engine.render.preview import bin_packed, preview_factor, preview_frame
from engine.render.render_pass import camera_xyz_matrix, check_amount
from engine.render.rendered import Rendered
from engine.render.tiling import (
    TiledRunner,
    TilePlan,
    crop_frame_border,
    frame_border,
    pad_frame_border,
    plan_tiles,
)

__all__ = [
    "BEFORE_MODES",
    "CLASSICAL",
    "DETAIL_WINDOW",
    "MAX_RATIO",
    "MIN_RATIO",
    "NOISE_FLOOR",
    "RENDER_SHARE",
    "WRITING",
    "Adjustments",
    "BatchItem",
    "BatchProgress",
    "EnhancedFile",
    "Enhancer",
    "FileOutcome",
    "Mirror",
    "PhotoSettings",
    "RaySettings",
    "Rendered",
    "TilePlan",
    "TiledRunner",
    "WorkerSpec",
    "apply_orientation",
    "bin_packed",
    "camera_xyz_matrix",
    "check_amount",
    "classical_linear",
    "colour_planes",
    "crop_frame_border",
    "demosaic",
    "demosaic_below_black",
    "demosaic_of_input",
    "demosaic_planes",
    "develop",
    "develop_batch",
    "develop_numpy",
    "enhance_file",
    "enhance_on_ray",
    "estimate_ratio",
    "export_frame",
    "fallback_sidecar_path",
    "finish_output",
    "format_eta",
    "frame_border",
    "highlight_gains",
    "leaky_clamp",
    "load_photo_settings",
    "mirror_frame",
    "mirror_image",
    "network_channels",
    "normalise_mosaic",
    "pack_bayer",
    "pack_for_network",
    "pack_rggb",
    "pack_with_below_black",
    "pack_xtrans",
    "packed_positions",
    "pad_frame_border",
    "parse_amount",
    "parse_ratio",
    "plan_tiles",
    "preview_factor",
    "preview_frame",
    "process_file",
    "restore_detail",
    "rggb_mirror",
    "run_batch",
    "save_photo_settings",
    "sidecar_path",
    "smooth_chroma",
    "split_below_black",
    "srgb_decode",
    "srgb_encode",
    "unpack_bayer",
]
