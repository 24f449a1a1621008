"""``darkroom-cli train`` and ``evaluate`` end to end on tiny generated photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main


def test_train_then_evaluate_with_card_update(photo_folder: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "tiny.safetensors"
    code = main(["train", "--variant", "baseline", "--data", str(photo_folder), "--iterations",
                 "3", "--out", str(out), "--config", '{"base_features": 4, "levels": 2}',
                 "--crop", "64", "--device", "cpu", "--precision", "bf16"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["architecture"] == "baseline" and card["iterations"] == 3
    assert "bf16 autocast" in card["notes"]
    assert "2 clean photos" in card["training_data"] and card["hardware"]
    assert out.with_suffix(".ckpt").is_file()

    report = tmp_path / "report"
    models = f"{out},none"  # "none" (the classical gain) beside a weights file
    argv = ["evaluate", "--data", str(photo_folder), "--models", models, "--out", str(report)]
    code = main([*argv, "--ratios", "100", "--device", "cpu", "-q", "--update-cards"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "gain + NLM" in captured.out and "tiny" in captured.out
    assert (report / "table.md").is_file() and (report / "contact_sheet.png").is_file()
    card = json.loads(out.with_suffix(".json").read_text())
    assert np.isfinite(card["metrics"]["psnr"]) and "x100" in card["metrics"]["by_ratio"]


def test_train_bad_arguments(photo_folder: Path, tmp_path: Path, capsys) -> None:
    bad = [
        ["--variant", "baseline", "--data", str(tmp_path / "nope"), "--iterations", "1"],
        ["--variant", "baseline", "--data", str(photo_folder), "--iterations", "0"],
        ["--variant", "transformer", "--data", str(photo_folder), "--iterations", "1"],
        ["--variant", "baseline", "--data", str(photo_folder), "--iterations", "1", "--config",
         "{oops"],
    ]  # fmt: skip
    for argv in bad:
        code = main(["train", *argv, "--out", str(tmp_path / "m.safetensors")])
        err = capsys.readouterr().err
        assert code != 0 and "Traceback" not in err and err.count("\n") == 1, err
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_train_refuses_bad_warm_start_files_in_one_line(
    photo_folder: Path, tmp_path: Path, capsys, suffix: str
) -> None:
    evil = tmp_path / f"evil{suffix}"
    evil.write_bytes(b"\x80\x04not what it claims")
    code = main(["train", "--variant", "baseline", "--data", str(photo_folder), "--iterations",
                 "1", "--out", str(tmp_path / "m.safetensors"), "--init", str(evil),
                 "--config", '{"base_features": 4, "levels": 2}', "--device", "cpu"])  # fmt: skip
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "pickle" in err if suffix == ".pth" else "unreadable weights" in err
