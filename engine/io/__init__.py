"""Files in and out: RAW decoding, DNG writing, TIFF/EXIF structures, image export.

* :func:`read_raw` -> a frozen :class:`RawFrame` (mosaic, CFA, black/white levels, white
  balance, colour matrix, orientation, EXIF), copied out of LibRaw inside ``with``;
* :func:`normalise_mosaic`, :func:`demosaic`, :func:`classical_linear`: the frame's mosaic,
  black-subtracted and amplified, and its classical demosaic (LibRaw's DHT), which every render
  stands on; :func:`estimate_ratio` / :func:`parse_ratio`: the exposure ratio. No torch:
  :class:`ClassicalAhead` makes a fresh process's first classical render while torch loads;
* :func:`write_rendered` (a render + :class:`ExportOptions`) and :func:`write_image`: JPEG,
  TIFF, PNG or linear DNG, atomically; :data:`FORMATS` is the one format/suffix table;
* :func:`embedded_thumbnail`: a RAW file's embedded preview, small and upright (a half-size
  render when it has none), for filmstrips; :func:`orient_image` applies LibRaw's ``flip``;
* :func:`write_cfa_dng`, :func:`write_linear_dng`: DNG writers (tests and tools make RAW files
  with them); :func:`write_synthetic_dng`: a deterministic dark DNG for benchmarks;
* :func:`output_name` / :func:`output_path_for` (``<stem>-darkroom.<ext>`` or a template),
  :func:`default_output_folder`, :func:`written_by_darkroom`: where exports go and which
  existing files may be replaced (only Darkroom's own).
"""

from __future__ import annotations

from engine.io.ahead import ClassicalAhead, take_made_ahead
from engine.io.cfa import (
    BAYER_LAYOUTS,
    BLUE,
    GREEN,
    RED,
    XTRANS_TILE,
    cfa_from_name,
    cfa_pattern_of,
    packed_positions,
    tile_pattern,
    xtrans_pattern,
)
from engine.io.demosaic import (
    NOISE_FLOOR,
    classical_linear,
    demosaic,
    demosaic_below_black,
    normalise_mosaic,
)
from engine.io.destination import check_destination, failure_reason
from engine.io.dng import MIN_LIBRAW_SIZE, write_cfa_dng, write_linear_dng
from engine.io.export import (
    ExportOptions,
    RenderedImage,
    write_dng,
    write_image,
    write_rendered,
)
from engine.io.exposure import MAX_RATIO, MIN_RATIO, estimate_ratio, parse_ratio
from engine.io.framing import (
    DngFraming,
    Rect,
    clip_rect,
    orient_image,
    orient_rect,
    read_dng_framing,
    unorient_rect,
)
from engine.io.libraw import DEMOSAIC_ALGORITHM, XTRANS_BAND_LEAD, libraw_demosaic
from engine.io.metadata import software
from engine.io.naming import (
    DEFAULT_NAME,
    FORMATS,
    NAME_FIELDS,
    SUFFIX_FORMATS,
    check_distinct_outputs,
    check_name_template,
    default_output_folder,
    format_for_path,
    is_inside_install,
    normalise_format,
    output_name,
    output_path_for,
    written_by_darkroom,
)
from engine.io.raw import RAW_EXTENSIONS, RawFrame, check_readable_file, raw_files_in, read_raw
from engine.io.raw_metadata import SRGB_TO_XYZ, XYZ_TO_SRGB, ExifInfo, cam_to_srgb_from_xyz
from engine.io.testdata import SONY_12MP, synthetic_scene, write_synthetic_dng
from engine.io.thumbnails import THUMBNAIL_SIDE, embedded_thumbnail

__all__ = [
    "BAYER_LAYOUTS",
    "BLUE",
    "DEFAULT_NAME",
    "DEMOSAIC_ALGORITHM",
    "FORMATS",
    "GREEN",
    "MAX_RATIO",
    "MIN_LIBRAW_SIZE",
    "MIN_RATIO",
    "NAME_FIELDS",
    "NOISE_FLOOR",
    "RAW_EXTENSIONS",
    "RED",
    "SONY_12MP",
    "SRGB_TO_XYZ",
    "SUFFIX_FORMATS",
    "THUMBNAIL_SIDE",
    "XTRANS_BAND_LEAD",
    "XTRANS_TILE",
    "XYZ_TO_SRGB",
    "ClassicalAhead",
    "DngFraming",
    "ExifInfo",
    "ExportOptions",
    "RawFrame",
    "Rect",
    "RenderedImage",
    "cam_to_srgb_from_xyz",
    "cfa_from_name",
    "cfa_pattern_of",
    "check_destination",
    "check_distinct_outputs",
    "check_name_template",
    "check_readable_file",
    "classical_linear",
    "clip_rect",
    "default_output_folder",
    "demosaic",
    "demosaic_below_black",
    "embedded_thumbnail",
    "estimate_ratio",
    "failure_reason",
    "format_for_path",
    "is_inside_install",
    "libraw_demosaic",
    "normalise_format",
    "normalise_mosaic",
    "orient_image",
    "orient_rect",
    "output_name",
    "output_path_for",
    "packed_positions",
    "parse_ratio",
    "raw_files_in",
    "read_dng_framing",
    "read_raw",
    "software",
    "synthetic_scene",
    "take_made_ahead",
    "tile_pattern",
    "unorient_rect",
    "write_cfa_dng",
    "write_dng",
    "write_image",
    "write_linear_dng",
    "write_rendered",
    "write_synthetic_dng",
    "written_by_darkroom",
    "xtrans_pattern",
]
