"""Property tests: whatever a RAW header or a model card says, Darkroom answers with a frame or
a card, or with one line of DarkroomError; never another exception, a warning or a file.

Seeded (``derandomize``) and small, so they run the same in CI every time; longer, random
fuzzing of real file bytes is ``tools/fuzz_headers.py``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import DarkroomError
from engine.io import ExifInfo, write_cfa_dng

PROPERTY = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)
matrices = st.one_of(
    st.lists(finite, min_size=9, max_size=9).map(lambda v: np.array(v).reshape(3, 3)),
    st.sampled_from([np.ones((3, 3)), np.zeros((3, 3)), np.eye(3) * 1e-9, np.eye(3)]),
)
gains = st.tuples(*[st.floats(min_value=1e-4, max_value=1e4) for _ in range(3)])
dates = st.one_of(
    st.none(),
    st.text(alphabet="0123456789: -x", max_size=22),
    st.sampled_from(["9999:99:99 99:99:99", "0000:00:00 00:00:00", "2024:02:30 25:61:61"]),
)


@st.composite
def headers(draw: st.DrawFn) -> dict[str, object]:
    white = draw(st.integers(min_value=2, max_value=65535))
    return {
        "height": draw(st.integers(min_value=22, max_value=40)),
        "width": draw(st.integers(min_value=22, max_value=40)),
        "cfa": draw(st.sampled_from(["RGGB", "BGGR", "GRBG", "GBRG"])),
        "white": white,
        "black": draw(st.integers(min_value=0, max_value=white - 1)),
        "wb": draw(gains),
        "matrix": draw(matrices),
        "orientation": draw(st.integers(min_value=1, max_value=8)),
        "date": draw(dates),
        "iso": draw(st.one_of(st.none(), st.floats(min_value=1, max_value=1e7))),
        "flat": draw(st.booleans()),
    }


@PROPERTY
@given(header=headers())
def test_any_header_gives_a_frame_or_one_line(tmp_path_factory, header: dict) -> None:
    from engine.io import read_raw
    from engine.render import Enhancer

    folder = tmp_path_factory.mktemp("h")
    path = folder / "h.dng"
    rng = np.random.default_rng(0)
    h, w, black, white = header["height"], header["width"], header["black"], header["white"]
    mosaic = (
        rng.integers(black, white + 1, (h, w)) if not header["flat"] else np.full((h, w), black)
    )
    try:
        write_cfa_dng(path, mosaic.astype(np.uint16), header["cfa"], black_level=black,
                      white_level=white, wb_gains=header["wb"], xyz_to_cam=header["matrix"],
                      orientation=header["orientation"],
                      exif=ExifInfo(make="Fuzz", model="Cam", iso=header["iso"],
                                    datetime=header["date"]))  # fmt: skip
    except ValueError:
        return  # the writer's own check: not a file anyone could make with it
    try:
        frame = read_raw(path)
    except DarkroomError as exc:
        assert "\n" not in str(exc)
        return
    assert np.isfinite(frame.cam_to_srgb).all() and abs(np.linalg.det(frame.cam_to_srgb)) > 0
    assert np.isfinite(frame.wb_gains).all() and (frame.wb_gains > 0).all()
    assert all("\n" not in warning for warning in frame.warnings)
    rendered = Enhancer("none", device="cpu").render(frame, None)
    assert np.isfinite(rendered.srgb).all()
    assert sorted(p.name for p in folder.iterdir()) == ["h.dng"]


json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
card_fields = ["name", "architecture", "config", "output_space", "training_data",
               "noise_profile", "noise_fit", "noise_fit_sets_level", "iterations", "hardware",
               "training_time_s", "metrics", "licence", "notes", "base_model",
               "format_version"]  # fmt: skip


@PROPERTY
@given(changes=st.dictionaries(st.sampled_from(card_fields), json_values, max_size=4))
def test_any_card_gives_a_card_or_one_line(tmp_path_factory, changes: dict) -> None:
    import torch

    from engine.models import ModelCard, create_model, load_model, model_entries, save_model

    folder = tmp_path_factory.mktemp("c")
    model = create_model("baseline", base_features=4, levels=2)
    path = folder / "m.safetensors"
    save_model(model, ModelCard(name="m", architecture="baseline", config=model.config), path,
               dtype=torch.float32)  # fmt: skip
    card = path.with_suffix(".json")
    card.write_text(json.dumps({**json.loads(card.read_text()), **changes}))
    try:
        _, loaded = load_model(path)
    except DarkroomError as exc:
        assert "\n" not in str(exc)
        (entry,) = [e for e in model_entries([folder]) if e.name == "m"]
        assert entry.problem is not None or entry.has_weights  # listed either way
        return
    assert isinstance(loaded.iterations, int) and math.isfinite(loaded.training_time_s)
    loaded.summary()  # what menus and tooltips show


@pytest.mark.parametrize("depth", [17, 10_000])
def test_deep_cards_are_refused_not_recursed(tmp_path: Path, depth: int) -> None:
    from engine.errors import ModelError
    from engine.models import read_card

    (tmp_path / "d.json").write_text("[" * depth + "]" * depth)
    with pytest.raises(ModelError):
        read_card(tmp_path / "d.safetensors")
