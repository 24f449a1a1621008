"""Every Bayer layout reaches the networks with RGGB sub-pixel geometry and comes back aligned.

Channel order (R, G1, B, G2) alone leaves the red sample at a different corner of its 2x2
block per layout; these tests pin where the samples go in and where the output lands.
"""

import numpy as np
import pytest
import torch

from engine.io import RED, RawFrame, cfa_from_name
from engine.models import EnhanceNet, ModelCard
from engine.render import (
    Enhancer,
    TiledRunner,
    mirror_frame,
    mirror_image,
    normalise_mosaic,
    pack_rggb,
    rggb_mirror,
    unpack_bayer,
)
from engine.train import TrainingPair, random_crop_and_flip, synthesise_pair, to_rggb
from tests.conftest import LAYOUTS

RGGB = cfa_from_name("RGGB")


def _frame(cfa: str, h: int = 12, w: int = 16, seed: int = 0, high: int = 4000) -> RawFrame:
    rng = np.random.default_rng(seed)
    return RawFrame(
        mosaic=rng.integers(100, high, (h, w)).astype(np.uint16),
        cfa_pattern=cfa_from_name(cfa),
        black_level=np.array([[10.0, 20.0], [30.0, 40.0]], np.float32),
        white_level=4095.0,
        wb_gains=np.array([2.0, 1.0, 1.5], np.float32),
        cam_to_srgb=np.eye(3, dtype=np.float32),
    )


@pytest.mark.parametrize("cfa", LAYOUTS)
def test_mirror_gives_rggb_and_is_its_own_inverse(cfa: str) -> None:
    frame = _frame(cfa)
    mirror = rggb_mirror(frame.cfa_pattern)
    assert (mirror == (False, False)) == (cfa == "RGGB")
    mirrored = mirror_frame(frame, mirror)
    np.testing.assert_array_equal(mirrored.cfa_pattern, RGGB)
    # Every pixel keeps its colour: the mirrored pattern tiled matches the mirrored colours.
    colours = np.tile(frame.cfa_pattern, (6, 8))
    np.testing.assert_array_equal(mirror_image(colours, mirror), np.tile(RGGB, (6, 8)))
    np.testing.assert_array_equal(mirror_frame(mirrored, mirror).mosaic, frame.mosaic)
    t = torch.arange(24.0).reshape(2, 3, 4)
    assert torch.equal(mirror_image(mirror_image(t, mirror), mirror), t)


@pytest.mark.parametrize("cfa", LAYOUTS)
def test_packed_samples_sit_where_rggb_puts_them(cfa: str) -> None:
    # Unpacking as RGGB and mirroring back must reproduce the frame pixel for pixel: the
    # packed R plane's sample (i, j) is the red pixel at RGGB position (2i, 2j) of the
    # mirrored frame, not one pixel off as plain pack_bayer gives for BGGR/GRBG/GBRG.
    frame = _frame(cfa)
    packed, mirror = pack_rggb(frame, 1.0, clip=False)
    back = mirror_image(unpack_bayer(packed, RGGB), mirror)
    np.testing.assert_allclose(back, normalise_mosaic(frame, 1.0, clip=False), rtol=1e-6)


def test_odd_sized_frames_are_cropped_before_mirroring() -> None:
    frame = _frame("BGGR")
    odd = RawFrame(**{**frame.__dict__, "mosaic": frame.mosaic[:11, :15]})
    mirrored = mirror_frame(odd, rggb_mirror(odd.cfa_pattern))
    assert mirrored.mosaic.shape == (10, 14)
    np.testing.assert_array_equal(mirrored.cfa_pattern, RGGB)


class _RedAtTopLeft(EnhanceNet):
    """Packed ``(B, 4, h, w)`` -> ``(B, 3, 2h, 2w)``: the R plane at sub-pixel (0, 0) only.

    A network trained on RGGB geometry puts each packed red sample back on the top-left
    pixel of its block; where that lands in the rendered image shows the pipeline's geometry.
    """

    def __init__(self) -> None:
        super().__init__()
        self.activation_bytes = 4

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        out = torch.zeros(b, 3, 2 * h, 2 * w, dtype=x.dtype)
        out[:, 0, 0::2, 0::2] = x[:, 0]
        return out


@pytest.mark.parametrize("cfa", LAYOUTS)
def test_render_puts_red_output_on_the_red_photosites(cfa: str) -> None:
    frame = _frame(cfa, 16, 24, high=3400)  # below the highlight fade (engine.render.highlights)
    enhancer = Enhancer("none", device="cpu")
    enhancer.runner = TiledRunner(_RedAtTopLeft(), torch.device("cpu"), tile=64)
    enhancer.card = ModelCard(name="probe", architecture="probe", config={})
    rendered = enhancer.render(frame, 1.0)
    red_out = rendered.linear_sensor[..., 0] > 0
    red_sites = np.tile(frame.cfa_pattern, (8, 12)) == RED
    np.testing.assert_array_equal(red_out, red_sites)
    # And the value there is that photosite's own normalised reading.
    expected = normalise_mosaic(frame, 1.0)
    np.testing.assert_allclose(rendered.linear_sensor[..., 0][red_sites], expected[red_sites])


def test_training_pairs_are_mirrored_and_network_input_refuses_other_layouts() -> None:
    rng = np.random.default_rng(3)
    photo = rng.random((32, 32, 3)).astype(np.float32)
    seen = set()
    for _ in range(12):
        pair = random_crop_and_flip(synthesise_pair(photo, rng, ratio=100.0), 16, rng)
        seen.add(pair.dark.cfa_name)
        mirrored = to_rggb(pair)
        assert mirrored.dark.cfa_name == "RGGB"
        assert mirrored.network_input().shape == (4, 8, 8)
        # The target moved with the mosaic: its flipped form is the original's mirror.
        mirror = rggb_mirror(pair.dark.cfa_pattern)
        tgt = np.moveaxis(mirrored.target, -1, 0)
        np.testing.assert_array_equal(mirror_image(tgt, mirror), np.moveaxis(pair.target, -1, 0))
    assert len(seen) > 1
    bggr = TrainingPair("t", _frame("BGGR"), 1.0, np.zeros((12, 16, 3), np.float32))
    with pytest.raises(ValueError, match="BGGR pair"):
        bggr.network_input()
