"""The camera's metadata in every export, with exiv2 (issue 21, part 2).

:func:`add_metadata` takes an encoded JPEG, TIFF, PNG or DNG (bytes, before the atomic write)
and gives it:

* **the RAW's own metadata**, read by exiv2 from the source file: every EXIF tag except those
  that describe the RAW file's structure or raw data (IFD0's strips, sizes, CFA and DNG colour
  tags, thumbnails: :func:`copyable`), so GPS, the 35 mm focal length, flash, lens, maker notes
  and the rest survive; all XMP; all IPTC. A source exiv2 cannot read (or none: a frame made in
  memory) falls back to the facts Darkroom decoded itself (:class:`~engine.io.ExifInfo`);
* **Darkroom's own tags**: ``Software`` "Darkroom <version>" (what
  :func:`~engine.io.written_by_darkroom` looks for), ``Orientation`` 1 (the pixels are already
  upright), the output's pixel size, ``ColorSpace`` sRGB for display formats, and the
  processing in XMP (``Xmp.darkroom.Model``, ``Ratio``, ``Amount``; ``Xmp.xmp.CreatorTool``);
* **an sRGB ICC profile** in JPEG, TIFF and PNG (LittleCMS's built-in sRGB, through Pillow).

exiv2 (the python-exiv2 binding, wheels for Linux, macOS and Windows) does the writing, so no
EXIF block, TIFF directory or PNG chunk is assembled by hand here.
"""

from __future__ import annotations

import functools
import os
import struct
from dataclasses import dataclass
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

from engine.io.raw_metadata import ExifInfo
from engine.io.tiff import exposure_fraction, positive_or_none

#: Exif.Image (IFD0) tags that describe the photo, not the RAW file: copied. Everything else in
#: IFD0 (strips, sizes, CFA, black/white levels, colour matrices, DNG private data) is not.
DESCRIPTIVE_IMAGE_TAGS = frozenset({
    "ImageDescription", "Make", "Model", "DateTime", "Artist", "Copyright", "HostComputer",
    "DocumentName", "PageName", "Rating", "RatingPercent", "XPTitle", "XPComment", "XPAuthor",
    "XPKeywords", "XPSubject", "CameraSerialNumber", "LensInfo", "ImageUniqueID",
    "TimeZoneOffset", "SelfTimerMode", "ImageHistory", "CameraLabel",
})  # fmt: skip
#: exiv2 groups of a RAW's file structure: its thumbnails and sub-images.
STRUCTURE_GROUPS = frozenset({"Thumbnail", "Image2", "Image3", "Image4", "Image5", "Image6",
                              "Image7", "Image8", "Image9", "SubImage1", "SubImage2",
                              "SubImage3", "SubImage4", "SubImage5", "SubImage6", "SubImage7",
                              "SubImage8", "SubImage9", "SubThumb1"})  # fmt: skip
#: Exif.Photo tags Darkroom sets for the output itself (never copied from the RAW).
OWN_PHOTO_TAGS = frozenset({"PixelXDimension", "PixelYDimension", "ColorSpace"})
#: Darkroom's XMP namespace for how a file was processed.
XMP_NAMESPACE = ("https://github.com/darkroom-photo/ns/1.0/", "darkroom")


@functools.cache
def software() -> str:
    """``"Darkroom <version>"``: the Software tag of every export (and About's title)."""
    try:
        return f"Darkroom {package_metadata.version('darkroom')}"
    except package_metadata.PackageNotFoundError:  # running from a bare checkout
        return "Darkroom"


@functools.cache
def srgb_icc_profile() -> bytes:
    """An sRGB ICC profile (LittleCMS's built-in, about 600 bytes), byte for byte the same in
    every process: LittleCMS stamps its header with the time it was made, which would make two
    exports of one photo differ."""
    from PIL import ImageCms

    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = struct.pack(">6H", 2026, 1, 1, 0, 0, 0)  # header dateTimeNumber
    profile[84:100] = bytes(16)  # profile ID: zero means "not computed", valid ICC
    return bytes(profile)


@dataclass(frozen=True)
class Processing:
    """How an export was made, for its XMP (``None``: not said)."""

    model: str | None = None
    ratio: float | None = None
    amount: float | None = None


def copyable(key: str) -> bool:
    """Whether the source's EXIF tag ``key`` (``"Exif.Group.Name"``) belongs in an export."""
    _, group, name = key.split(".", 2)
    if group == "Image":
        return name in DESCRIPTIVE_IMAGE_TAGS
    if group == "Photo":
        return name not in OWN_PHOTO_TAGS
    return group not in STRUCTURE_GROUPS


@functools.cache
def _exiv2() -> Any:
    """exiv2, set up once: quiet about maker-note quirks, Darkroom's XMP namespace known."""
    import exiv2

    exiv2.LogMsg.setLevel(exiv2.LogMsg.Level.error)
    if not exiv2.XmpProperties.prefix(XMP_NAMESPACE[0]):
        exiv2.XmpProperties.registerNs(*XMP_NAMESPACE)
    return exiv2


def read_source(path: str | os.PathLike[str] | None) -> Any | None:
    """The source RAW's metadata as an exiv2 image, or ``None`` when exiv2 cannot read it."""
    if path is None or not Path(path).is_file():
        return None
    exiv2 = _exiv2()
    try:
        image = exiv2.ImageFactory.open(str(path))
        image.readMetadata()
    except exiv2.Exiv2Error:
        return None
    return image


def software_tag(path: str | os.PathLike[str]) -> str | None:
    """The ``Exif.Image.Software`` of an image file (any format exiv2 reads), or ``None``."""
    image = read_source(path)
    if image is None:
        return None
    for datum in image.exifData():
        if datum.key() == "Exif.Image.Software":
            return str(datum.toString())
    return None


def add_metadata(
    encoded: bytes,
    fmt: str,
    size: tuple[int, int],
    *,
    source_path: str | os.PathLike[str] | None = None,
    facts: ExifInfo | None = None,
    keep: bool = True,
    processing: Processing | None = None,
    orientation: int = 1,
) -> bytes:
    """``encoded`` (a whole JPEG/TIFF/PNG/DNG file) with metadata; see the module docstring.

    Args:
        fmt: ``"jpeg"``, ``"tiff"``, ``"png"`` or ``"dng"``.
        size: the output's ``(width, height)`` in pixels.
        source_path: the RAW file the export comes from (its metadata is copied).
        facts: what Darkroom decoded itself, used when the source cannot be read.
        keep: carry the camera's metadata over; ``False`` writes Darkroom's own tags only.
        processing: how the export was made (XMP).
        orientation: the output's EXIF Orientation (1: its pixels are upright; a mosaic DNG
            keeps the sensor's grid and its source's orientation).
    """
    exiv2 = _exiv2()
    image = exiv2.ImageFactory.open(encoded)
    image.readMetadata()
    exif, xmp = image.exifData(), image.xmpData()
    source = read_source(source_path) if keep else None
    if source is not None:
        for datum in source.exifData():
            if copyable(datum.key()):
                exif.add(datum)
        for datum in source.xmpData():
            xmp.add(datum)
        image.setIptcData(source.iptcData())
    elif keep and facts is not None:
        _write_facts(exif, facts)
    _write_own(exif, xmp, fmt, size, processing or Processing(), orientation)
    if fmt != "dng":  # a DNG's colour is its ColorMatrix, not a display profile
        image.setIccProfile(exiv2.DataBuf(srgb_icc_profile()))
    image.writeMetadata()
    return bytes(image.io().mmap())


def _write_own(
    exif: Any, xmp: Any, fmt: str, size: tuple[int, int], how: Processing, orientation: int
) -> None:
    tool = software()
    exif["Exif.Image.Software"] = tool
    exif["Exif.Image.Orientation"] = orientation
    if fmt != "dng":
        exif["Exif.Photo.ColorSpace"] = 1  # sRGB
        exif["Exif.Photo.PixelXDimension"] = int(size[0])
        exif["Exif.Photo.PixelYDimension"] = int(size[1])
    xmp["Xmp.xmp.CreatorTool"] = tool
    if how.model:
        xmp["Xmp.darkroom.Model"] = Path(how.model).stem if how.model.endswith(
            ".safetensors") else how.model  # fmt: skip
    if how.ratio is not None:
        xmp["Xmp.darkroom.Ratio"] = f"{how.ratio:.4g}"
    if how.amount is not None:
        xmp["Xmp.darkroom.Amount"] = f"{round(how.amount * 100)}"


def _write_facts(exif: Any, facts: ExifInfo) -> None:
    """The decoded facts of a source exiv2 cannot read, as EXIF tags."""
    for key, text in (("Exif.Image.Make", facts.make), ("Exif.Image.Model", facts.model),
                      ("Exif.Photo.LensModel", facts.lens)):  # fmt: skip
        if text and text.strip():
            exif[key] = text.strip()
    if facts.datetime and facts.datetime.strip():
        exif["Exif.Image.DateTime"] = facts.datetime.strip()
        exif["Exif.Photo.DateTimeOriginal"] = facts.datetime.strip()
    exposure = positive_or_none(facts.exposure_time)
    rationals = {
        "Exif.Photo.ExposureTime": exposure and exposure_fraction(exposure),
        "Exif.Photo.FNumber": positive_or_none(facts.f_number),
        "Exif.Photo.FocalLength": positive_or_none(facts.focal_length),
    }
    for key, value in rationals.items():
        if value is not None:
            exif[key] = _rational(value)
    if (iso := positive_or_none(facts.iso)) is not None:
        exif["Exif.Photo.ISOSpeedRatings"] = min(65535, max(1, round(iso)))


def _rational(value: float) -> Any:
    from fractions import Fraction

    exiv2 = _exiv2()
    fraction = Fraction(value).limit_denominator(100000)
    return exiv2.URationalValue([(fraction.numerator, fraction.denominator)])
