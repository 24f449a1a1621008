import numpy as np
import pytest

from engine.io import RawFrame, cfa_from_name
from engine.render import pack_bayer, packed_positions, unpack_bayer
from tests.conftest import LAYOUTS


def _frame(cfa: str, mosaic: np.ndarray, black: np.ndarray, white: float = 1000.0) -> RawFrame:
    return RawFrame(
        mosaic=mosaic,
        cfa_pattern=cfa_from_name(cfa),
        black_level=black.astype(np.float32),
        white_level=white,
        wb_gains=np.ones(3, np.float32),
        cam_to_srgb=np.eye(3, dtype=np.float32),
    )


@pytest.mark.parametrize("cfa", LAYOUTS)
def test_pack_gives_canonical_rgbg_order(cfa: str) -> None:
    # Each colour gets its own level; both greens differ so G1/G2 order is checked too.
    level = {"R": 300.0, "B": 700.0}
    pattern = cfa_from_name(cfa)
    mosaic = np.zeros((6, 8), np.uint16)
    black = np.array([[10.0, 20.0], [30.0, 40.0]])
    for dy in range(2):
        for dx in range(2):
            colour = "RGB"[pattern[dy, dx]]
            # G on the red row = 500, on the blue row = 600.
            red_row = "R" in [("RGB"[c]) for c in pattern[dy]]
            value = level.get(colour, 500.0 if red_row else 600.0)
            mosaic[dy::2, dx::2] = value + black[dy, dx]
    packed = pack_bayer(_frame(cfa, mosaic, black), ratio=1.0)
    assert packed.shape == (4, 3, 4) and packed.dtype == np.float32
    expected = []
    for ch, (dy, dx) in enumerate(packed_positions(pattern)):
        expected.append([300.0, 500.0, 700.0, 600.0][ch] / (1000.0 - black[dy, dx]))
    np.testing.assert_allclose(packed[:, 0, 0], expected, rtol=1e-6)
    assert np.all(packed == packed[:, :1, :1])


def test_ratio_amplifies_and_clips() -> None:
    mosaic = np.full((4, 4), 100 + 50, np.uint16)
    black = np.full((2, 2), 100.0)
    frame = _frame("RGGB", mosaic, black, white=1100.0)
    np.testing.assert_allclose(pack_bayer(frame, 1.0), 0.05, rtol=1e-6)
    np.testing.assert_allclose(pack_bayer(frame, 10.0), 0.5, rtol=1e-6)
    assert pack_bayer(frame, 100.0).max() == 1.0
    assert pack_bayer(frame, 100.0, clip=False).max() == pytest.approx(5.0)
    below = _frame("RGGB", np.full((4, 4), 90, np.uint16), black, white=1100.0)
    assert pack_bayer(below).min() == 0.0


@pytest.mark.parametrize("cfa", LAYOUTS)
def test_unpack_inverts_pack(cfa: str) -> None:
    rng = np.random.default_rng(1)
    mosaic = rng.integers(0, 1000, (10, 14)).astype(np.uint16)
    frame = _frame(cfa, mosaic, np.zeros((2, 2)))
    packed = pack_bayer(frame, clip=False)
    np.testing.assert_allclose(unpack_bayer(packed, frame.cfa_pattern) * 1000.0, mosaic, atol=1e-3)
