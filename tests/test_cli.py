"""End-to-end tests of ``darkroom-cli`` on real generated DNG files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from engine.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


def _assert_one_line_error(err: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if "error" in ln]
    assert lines, err
    assert "Traceback" not in err
    assert all(len(ln) < 400 for ln in lines)


def test_enhance_classical_to_jpeg_folder(make_dng, tmp_path: Path, capsys) -> None:
    src = make_dng(name="night.dng", height=64, width=96, ratio=50.0)
    out = tmp_path / "out"
    none = ("--model", "none")
    code, err = _run(capsys, "enhance", str(src), *none, "--ratio", "50", "-o", f"{out}/")
    assert code == 0, err
    image = iio.imread(out / "night-darkroom.jpg")
    assert image.shape == (64, 96, 3) and image.dtype == np.uint8
    assert 40 < image.mean() < 220
    assert "night-darkroom.jpg" in err and "error" not in err


def test_enhance_16bit_tiff_and_png(make_dng, tmp_path: Path, capsys) -> None:
    src = make_dng(name="a.dng", ratio=20.0)
    tif = tmp_path / "ref.tif"
    code, err = _run(capsys, "enhance", str(src), "--model", "none", "--ratio", "20", "-o",
                     str(tif), "--bits", "16")  # fmt: skip
    assert code == 0, err
    data = tifffile.imread(tif)
    assert data.dtype == np.uint16 and data.shape == (64, 96, 3) and data.max() > 20000
    png = tmp_path / "ref.png"
    code, err = _run(capsys, "enhance", str(src), "--model", "none", "-o", str(png), "--bits", "16")
    assert code == 0, err
    import cv2  # imageio's Pillow plugin narrows 16-bit RGB PNGs to 8 bits on reading

    assert cv2.imread(str(png), cv2.IMREAD_UNCHANGED).dtype == np.uint16


def test_enhance_linear_dng_readable(make_dng, tmp_path: Path, capsys) -> None:
    import rawpy

    src = make_dng(name="b.dng", ratio=10.0)
    dst = tmp_path / "out.dng"
    code, err = _run(capsys, "enhance", str(src), "--model", "none", "--ratio=10", "-o", str(dst))
    assert code == 0, err
    with rawpy.imread(str(dst)) as raw:
        rgb = raw.postprocess()
    assert rgb.shape[:2] == (64, 96)


def test_batch_with_model_file_continues_after_failure(make_dng, tmp_path: Path, capsys) -> None:
    from engine.models import ModelCard, create_model, save_model

    model = create_model("baseline", base_features=4)
    weights = tmp_path / "tiny.safetensors"
    save_model(model, ModelCard(name="tiny", architecture="baseline", config=model.config), weights)
    good1 = make_dng(name="g1.dng", cfa="BGGR", height=40, width=50)
    good2 = make_dng(name="g2.dng", cfa="GBRG", height=42, width=58)
    bad = tmp_path / "bad.ARW"
    bad.write_bytes(b"\x00" * 1000)
    out = tmp_path / "batch"
    argv = ["enhance", str(good1), str(bad), str(good2), "--model", str(weights), "--ratio=auto"]
    code, err = _run(capsys, *argv, "--format", "png", "-o", str(out), "--tile", "16")
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["g1-darkroom.png", "g2-darkroom.png"]
    assert iio.imread(out / "g2-darkroom.png").shape == (42, 58, 3)
    assert "2 written, 1 failed" in err
    _assert_one_line_error(err)


def test_existing_output_needs_overwrite_and_only_darkroom_exports_are_replaced(
    make_dng, tmp_path: Path, capsys
) -> None:
    src = make_dng(name="c.dng")
    dst = tmp_path / "c.jpg"
    dst.write_bytes(b"keep me")
    for extra in ([], ["--overwrite"]):  # not Darkroom's file: refused either way
        code, err = _run(capsys, "enhance", str(src), "--model", "none", "-o", str(dst), *extra)
        assert code != 0 and dst.read_bytes() == b"keep me"
        assert "is not a Darkroom export; it is never replaced" in err
        _assert_one_line_error(err)
    dst.unlink()
    code, err = _run(capsys, "enhance", str(src), "--model", "none", "-o", str(dst))
    assert code == 0, err
    first = dst.read_bytes()
    code, err = _run(capsys, "enhance", str(src), "--model", "none", "-o", str(dst), "--ratio", "3")
    assert code != 0 and "file exists (use --overwrite to replace it)" in err
    code, err = _run(capsys, "enhance", str(src), "--model", "none", "-o", str(dst), "--ratio", "3",
                     "--overwrite")  # fmt: skip
    assert code == 0, err
    assert dst.read_bytes() != first  # Darkroom's own export was replaced


def test_raw_plus_jpeg_keeps_the_cameras_jpeg(make_dng, tmp_path: Path, capsys) -> None:
    from PIL import Image

    src = make_dng(name="DSC01234.dng")
    camera_jpeg = tmp_path / "DSC01234.jpg"
    exif = Image.Exif()
    exif[305] = "ILCE-7M3 v2.00"  # what a camera writes as Software
    Image.new("RGB", (32, 24), (90, 120, 40)).save(camera_jpeg, exif=exif)
    original = camera_jpeg.read_bytes()
    for extra in ([], ["--overwrite"]):
        code, err = _run(capsys, "enhance", str(src), "--model", "none", *extra)
        assert code == 0, err
        assert camera_jpeg.read_bytes() == original
    assert (tmp_path / "DSC01234-darkroom.jpg").is_file()
    # Even a template that names the camera's file cannot replace it.
    code, err = _run(capsys, "enhance", str(src), "--model", "none", "--name", "{stem}",
                     "--overwrite")  # fmt: skip
    assert code != 0 and camera_jpeg.read_bytes() == original
    assert "DSC01234.jpg: exists and is not a Darkroom export" in err


def test_names_templates_formats_and_unknown_suffixes(make_dng, tmp_path: Path, capsys) -> None:
    src = make_dng(name="IMG_7.dng")
    out = tmp_path / "out"
    code, err = _run(capsys, "enhance", str(src), "--model", "none", "--ratio", "4",
                     "--amount", "60", "--format", "jpg", "-o", str(out),
                     "--name", "{stem}-{model}-x{ratio}-{amount}")  # fmt: skip
    assert code == 0, err
    code, err = _run(capsys, "enhance", str(src), "--model", "none", "--format", "TIF",
                     "-o", str(out))  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["IMG_7-darkroom.tif", "IMG_7-none-x4-60.jpg"]
    code, err = _run(capsys, "enhance", str(src), "--model", "none", "-o", str(tmp_path / "x.webp"))
    assert code != 0 and ".webp is not an export format" in err
    assert not (tmp_path / "x.webp").exists()
    code, err = _run(capsys, "enhance", str(src), "--model", "none", "--name", "{stem}/{iso}")
    assert code != 0 and "unknown field {iso}" in err
    code, err = _run(capsys, "enhance", str(src), "--model", "none", "--format", "webp")
    assert code != 0 and "unknown export format 'webp'" in err
    code, err = _run(capsys, "enhance", str(src), "--model", "none", "-o",
                     str(tmp_path / "night.2024"))  # a folder name with a dot  # fmt: skip
    assert code == 0 and (tmp_path / "night.2024" / "IMG_7-darkroom.jpg").is_file(), err


def _bad_inputs(tmp_path: Path, make_dng) -> dict[str, list[str]]:
    good = make_dng(name="good.dng")
    empty = tmp_path / "empty.NEF"
    empty.write_bytes(b"")
    truncated = tmp_path / "cut.dng"
    truncated.write_bytes(good.read_bytes()[:3000])
    junk = tmp_path / "junk.ARW"
    junk.write_bytes(np.random.default_rng(0).bytes(20000))
    jpeg = tmp_path / "photo.NEF"
    jpeg.write_bytes(iio.imwrite("<bytes>", np.zeros((32, 32, 3), np.uint8), extension=".jpg"))
    from engine.io import write_linear_dng

    linear = tmp_path / "linear.dng"
    write_linear_dng(linear, np.full((32, 32, 3), 0.3, np.float32))
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    none = ["--model", "none"]
    return {
        "missing": ["enhance", str(tmp_path / "missing.ARW"), *none],
        "folder": ["enhance", str(tmp_path), *none],
        "zero-byte": ["enhance", str(empty), *none],
        "truncated": ["enhance", str(truncated), *none],
        "random": ["enhance", str(junk), *none],
        "jpeg-renamed": ["enhance", str(jpeg), *none],
        "unsupported": ["enhance", str(linear), *none],
        "ratio-zero": ["enhance", str(good), "--ratio", "0", *none],
        "ratio-negative": ["enhance", str(good), "--ratio=-3", *none],
        "ratio-nan": ["enhance", str(good), "--ratio", "nan", *none],
        "ratio-text": ["enhance", str(good), "--ratio", "bright", *none],
        "unwritable": ["enhance", str(good), "-o", str(blocker / "sub"), *none],
        "same-as-input": ["enhance", str(good), "-o", str(good), *none],
        "no-weights": ["enhance", str(good), "--model", "baseline"],
        "pickle": ["enhance", str(good), "--model", str(tmp_path / "x.pth")],
        "bad-device": ["enhance", str(good), "--device", "tpu", *none],
        "jpeg-16": ["enhance", str(good), "--bits", "16", *none],
        "amount-high": ["enhance", str(good), "--amount", "150", *none],
        "amount-text": ["enhance", str(good), "--amount", "lots", *none],
        "path-too-long": [
            "enhance",
            str(good),
            "-o",
            str(tmp_path / ("x" * 260 + ".jpg")),
            *none,
        ],
    }


@pytest.mark.parametrize(
    "case",
    ["missing", "folder", "zero-byte", "truncated", "random", "jpeg-renamed", "unsupported",
     "ratio-zero", "ratio-negative", "ratio-nan", "ratio-text", "unwritable", "same-as-input",
     "no-weights", "pickle", "bad-device", "jpeg-16", "path-too-long", "amount-high",
     "amount-text"],
)  # fmt: skip
def test_bad_input_one_line_error_nothing_written(
    case, make_dng, tmp_path: Path, capsys, monkeypatch
) -> None:
    # No bundled weights, whatever ships: "no-weights" must meet a variant without any.
    empty = tmp_path / "no-bundled-models"
    empty.mkdir()
    monkeypatch.setattr("engine.models.weights.bundled_models_dir", lambda: empty)
    argv = _bad_inputs(tmp_path, make_dng)[case]
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    code, err = _run(capsys, *argv)
    assert code != 0
    _assert_one_line_error(err)
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert after == before, f"files changed: {set(after) ^ set(before)}"


def test_amount_zero_is_exactly_the_classical_render(make_dng, tmp_path: Path, capsys) -> None:
    src = make_dng(name="a.dng")
    none, zero = tmp_path / "none.png", tmp_path / "zero.png"
    assert _run(capsys, "enhance", str(src), "--model", "none", "--ratio", "20",
                "--bits", "16", "-o", str(none))[0] == 0  # fmt: skip
    code, err = _run(capsys, "enhance", str(src), "--model", "lite", "--amount", "0%",
                     "--ratio", "20", "--bits", "16", "-o", str(zero))  # fmt: skip
    assert code == 0, err
    np.testing.assert_array_equal(iio.imread(zero), iio.imread(none))


def test_the_input_problem_is_named_before_the_output_one(tmp_path: Path, capsys) -> None:
    """A missing input with an existing output says the input is missing, not --overwrite."""
    (tmp_path / "gone.jpg").write_bytes(b"keep")
    code, err = _run(capsys, "enhance", str(tmp_path / "gone.dng"), "--model", "none")
    assert code == 1 and "no such file" in err and "--overwrite" not in err
    assert (tmp_path / "gone.jpg").read_bytes() == b"keep"


def test_models_command_lists_variants(capsys) -> None:
    import json

    code, _ = _run(capsys, "models")

    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == [
        "baseline",
        "attention",
        "gan",
        "uunet",
        "deep",
        "lite",
        "fast",
        "fast-xtrans",  # a bundled version of a variant, after the variants
    ]
    assert all(r["source"] == "bundled" for r in rows)
    assert code == 0


def test_models_lists_the_library_and_says_why_a_model_is_disabled(
    capsys, private_model_library: Path
) -> None:
    """A damaged card in the user's library disables that model only, with its reason."""
    import json

    import torch

    from engine.models import ModelCard, create_model, save_model

    model = create_model("baseline", base_features=4)
    for name in ("mine", "broken"):
        save_model(model, ModelCard(name=name, architecture="baseline", config=model.config),
                   private_model_library / f"{name}.safetensors", dtype=torch.float32)  # fmt: skip
    card = private_model_library / "broken.json"
    card.write_text(json.dumps({**json.loads(card.read_text()), "metrics": [1, 2]}))
    assert main(["models"]) == 0
    table = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "disabled: " in table["broken"] and "metrics must be an object" in table["broken"]
    assert "disabled" not in table["mine"]
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["mine"]["parameters"] and rows["mine"]["problem"] is None
    assert "metrics must be an object" in rows["broken"]["problem"]


@pytest.mark.slow  # starts subprocesses
def test_console_script_runs_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "enhance", str(tmp_path / "no.CR2"), "--model=none"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "no such file" in result.stderr


def test_a_single_file_shows_a_moving_bar_on_a_terminal(
    make_dng, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    src = make_dng(name="one.dng", height=64, width=96, ratio=20.0)
    code = main(["enhance", str(src), "--ratio", "20", "--tile", "16", "-o", str(tmp_path)])
    text = terminal.getvalue()
    assert code == 0, text
    bars = [part for part in text.split("\r") if part.startswith("[")]
    assert len(bars) >= 3 and "100.0%" in bars[-1]  # several tiles reported, then done
    assert text.rstrip().splitlines()[-1].startswith("one.dng -> ")  # on its own line


def test_models_lists_the_users_library_apart(tmp_path: Path, capsys) -> None:
    from engine.models import ModelCard, create_model, save_model

    library = tmp_path / "lib"
    assert main(["models", "--library", str(library)]) == 0
    assert f"your models ({library}): none yet" in capsys.readouterr().out
    model = create_model("lite")
    save_model(model, ModelCard(name="my camera", architecture="lite", config=model.config),
               library / "my camera.safetensors")  # fmt: skip
    code = main(["models", "--library", str(library)])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    mine = out.index(f"your models ({library}):")
    assert out[mine - 1].startswith("none ") and out[mine + 1].startswith("my camera")
    assert all(not line.startswith("my camera") for line in out[:mine])


def test_saved_settings_render_each_photo_as_the_window_left_it(
    make_dng, tmp_path: Path, capsys
) -> None:
    from engine.render import PhotoSettings, save_photo_settings

    a = make_dng("a.dng", ratio=10.0)
    b = make_dng("b.dng", ratio=10.0)
    data = tmp_path / "data"
    save_photo_settings(a, PhotoSettings(3.0, "none", 1.0), data)  # beside a.dng
    out = tmp_path / "out"
    code, err = _run(
        capsys,
        "enhance",
        str(a),
        str(b),
        "-o",
        str(out),
        "--model",
        "none",
        "--ratio",
        "10",
        "--saved-settings",
        "--format",
        "png",
        "--bits",
        "16",
    )
    assert code == 0, err
    dim, bright = (iio.imread(out / f"{n}-darkroom.png").mean() for n in ("a", "b"))
    assert dim < bright * 0.6  # a.dng at its saved x3, b.dng at --ratio 10
    code, err = _run(capsys, "enhance", str(a), "--engine", "ray", "--saved-settings")
    assert code != 0 and "local engine only" in err


def test_the_parser_is_built_without_torch() -> None:
    # `darkroom-cli --help` and argument errors answer at once: building the parser loaded
    # torch for the fine-tuning defaults (4.7 s for --help on a 2-core CPU).
    code = (
        "import sys; from engine.cli.main import build_parser; build_parser(); "
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
