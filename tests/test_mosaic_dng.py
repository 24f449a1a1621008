"""The CFA (Bayer mosaic) DNG export: read back through rawpy/LibRaw, and what it carries."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import rawpy
import tifffile

from engine.cli import main
from engine.errors import ExportError
from engine.io import ExportOptions, read_raw, write_rendered
from engine.render import Adjustments, Enhancer, enhance_file, normalise_mosaic


@pytest.mark.parametrize("cfa", ["RGGB", "GBRG"])
def test_mosaic_dng_round_trips_and_renders_like_the_export(
    make_dng, tmp_path: Path, cfa: str
) -> None:
    src = make_dng(name="night.dng", cfa=cfa, height=64, width=96, ratio=20.0, noise=3.0)
    enhancer = Enhancer("fast", device="cpu")
    jpeg, dng = tmp_path / "out.jpg", tmp_path / "out.dng"
    enhance_file(enhancer, src, jpeg, Adjustments(20.0), ExportOptions(fmt="jpeg"))
    enhance_file(enhancer, src, dng, Adjustments(20.0), ExportOptions(fmt="dng", dng_kind="cfa"))

    back = read_raw(dng)  # LibRaw through rawpy, as every raw converter reads it
    assert back.cfa_name == cfa and back.white_level == 65535
    rendered = enhancer.render(read_raw(src), 20.0)
    stored = normalise_mosaic(back, 1.0)
    colour = np.tile(back.cfa_pattern, (32, 48))
    expected = np.take_along_axis(rendered.linear_sensor, colour[..., None], axis=2)[..., 0]
    np.testing.assert_allclose(stored, np.clip(expected, 0, 1), atol=1 / 65535)
    np.testing.assert_allclose(
        back.wb_gains / back.wb_gains[1],
        read_raw(src).wb_gains / read_raw(src).wb_gains[1],
        rtol=1e-3,
    )

    # Its classical render (gain 1) is the JPEG's picture within a few levels.
    again = Enhancer("none").render(back, 1.0).srgb
    shown = np.asarray(iio.imread(jpeg), np.float32) / 255.0
    assert np.abs(again - shown).mean() * 255 < 2.0

    with tifffile.TiffFile(dng) as tif:
        tags = tif.pages[0].tags
        assert tags.get(51110).value == (1, 1)  # NoiseReductionApplied
        assert tags["CalibrationIlluminant1"].value == 21 and "ColorMatrix1" in tags
        assert tif.pages[1].compression == 7 and max(tif.pages[1].shape[:2]) <= 1024  # JPEG
    with rawpy.imread(str(dng)) as raw:
        thumb = raw.extract_thumb()
        assert thumb.format == rawpy.ThumbFormat.JPEG


def test_mosaic_dng_from_the_cli_and_refused_for_a_non_bayer_source(
    make_dng, tmp_path: Path, capsys
) -> None:
    src = make_dng(name="a.dng")
    code = main(["enhance", str(src), "--model", "none", "--format", "dng", "--dng", "cfa",
                 "-o", str(tmp_path / "out")])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert read_raw(tmp_path / "out" / "a-darkroom.dng").cfa_name == "RGGB"

    rendered = Enhancer("none").render(read_raw(src), 1.0)
    with pytest.raises(ExportError, match="needs a Bayer RAW"):
        write_rendered(rendered, tmp_path / "x.dng", ExportOptions(fmt="dng", dng_kind="cfa"))
