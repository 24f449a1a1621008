"""Every tag of the RAW into every export format, plus Darkroom's own and an sRGB ICC profile."""

from __future__ import annotations

import io
from pathlib import Path

import exiv2
import pytest
from PIL import ImageCms

from engine.io import ExportOptions
from engine.io.metadata import copyable, software, srgb_icc_profile
from engine.render import Adjustments, Enhancer, enhance_file

RICH_EXIF = {
    "Exif.Image.Artist": "Ada Lovelace",
    "Exif.Image.Copyright": "(c) 2026 Ada Lovelace",
    "Exif.Image.ImageDescription": "Harbour at night",
    "Exif.Photo.ExposureTime": "1/30",
    "Exif.Photo.FNumber": "28/10",
    "Exif.Photo.ISOSpeedRatings": "6400",
    "Exif.Photo.FocalLength": "35/1",
    "Exif.Photo.FocalLengthIn35mmFilm": "52",
    "Exif.Photo.Flash": "16",
    "Exif.Photo.ExposureProgram": "3",
    "Exif.Photo.MeteringMode": "5",
    "Exif.Photo.WhiteBalance": "1",
    "Exif.Photo.LensMake": "Sony",
    "Exif.Photo.LensModel": "FE 35mm F2.8 ZA",
    "Exif.Photo.BodySerialNumber": "4711",
    "Exif.Photo.DateTimeOriginal": "2026:11:30 21:14:05",
    "Exif.Photo.OffsetTimeOriginal": "+01:00",
    "Exif.GPSInfo.GPSVersionID": "2 3 0 0",
    "Exif.GPSInfo.GPSLatitudeRef": "N",
    "Exif.GPSInfo.GPSLatitude": "53/1 33/1 1234/100",
    "Exif.GPSInfo.GPSLongitudeRef": "E",
    "Exif.GPSInfo.GPSLongitude": "9/1 59/1 4321/100",
    "Exif.GPSInfo.GPSAltitude": "12/1",
}
RICH_XMP = {"Xmp.dc.title": "lang=\"x-default\" Harbour", "Xmp.xmp.Rating": "4",
            "Xmp.photoshop.City": "Hamburg"}  # fmt: skip
RICH_IPTC = {"Iptc.Application2.Keywords": "night", "Iptc.Application2.City": "Hamburg",
             "Iptc.Application2.Caption": "Harbour at night"}  # fmt: skip


@pytest.fixture
def rich_raw(make_dng) -> Path:
    """A real CFA DNG with a photographer's worth of EXIF, GPS, XMP and IPTC, written by exiv2."""
    path = make_dng(name="rich.dng", height=64, width=96, ratio=10.0, noise=2.0)
    image = exiv2.ImageFactory.open(str(path))
    image.readMetadata()
    exif, xmp, iptc = image.exifData(), image.xmpData(), image.iptcData()
    for key, value in RICH_EXIF.items():
        exif[key] = value
    for key, value in RICH_XMP.items():
        xmp[key] = value
    for key, value in RICH_IPTC.items():
        iptc[key] = value
    image.writeMetadata()
    return path


def _metadata(path: Path) -> exiv2.Image:
    image = exiv2.ImageFactory.open(str(path))
    image.readMetadata()
    return image


@pytest.mark.parametrize("fmt", ["jpeg", "tiff", "png", "dng"])
def test_every_tag_of_the_raw_survives(rich_raw: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"out.{fmt}"
    enhance_file(Enhancer("none"), rich_raw, out, Adjustments(10.0, 1.0),
                 ExportOptions(fmt=fmt, bits=8 if fmt == "jpeg" else 16))  # fmt: skip
    source, result = _metadata(rich_raw), _metadata(out)
    got = {d.key(): d.toString() for d in result.exifData()}
    wanted = {d.key(): d.toString() for d in source.exifData() if copyable(d.key())}
    assert set(RICH_EXIF) <= set(wanted)  # the source really is rich
    missing = {k: v for k, v in wanted.items() if got.get(k) != v}
    assert not missing, missing
    xmp = {d.key(): d.toString() for d in result.xmpData()}
    for key in RICH_XMP:
        assert xmp.get(key) == _metadata(rich_raw).xmpData()[key].toString(), key
    assert xmp["Xmp.darkroom.Model"] == "none" and xmp["Xmp.darkroom.Ratio"] == "10"
    iptc = {d.key(): d.toString() for d in result.iptcData()}
    assert {k: iptc.get(k) for k in RICH_IPTC} == RICH_IPTC
    assert got["Exif.Image.Software"] == software() and got["Exif.Image.Orientation"] == "1"
    assert result.iccProfileDefined() == (fmt != "dng")  # DNG colour is its ColorMatrix
    if fmt != "dng":
        icc = bytes(result.iccProfile().data())
        assert icc == srgb_icc_profile() and "sRGB" in ImageCms.getProfileDescription(
            ImageCms.ImageCmsProfile(io.BytesIO(icc)))  # fmt: skip
        assert got["Exif.Photo.ColorSpace"] == "1"
        assert got["Exif.Photo.PixelXDimension"] == "96"


def test_keep_metadata_off_writes_only_darkrooms_own(rich_raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "bare.jpg"
    enhance_file(Enhancer("none"), rich_raw, out, Adjustments(10.0, 1.0),
                 ExportOptions(fmt="jpeg", keep_metadata=False))  # fmt: skip
    result = _metadata(out)
    keys = {d.key() for d in result.exifData()}
    assert "Exif.GPSInfo.GPSLatitude" not in keys and "Exif.Image.Artist" not in keys
    assert "Exif.Image.Software" in keys and result.iptcData().count() == 0
