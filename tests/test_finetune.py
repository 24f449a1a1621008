"""Fine-tuning on tiny generated tripod pairs (seconds on a CPU)."""

from __future__ import annotations

import argparse
import errno
import json
import os
import threading
from pathlib import Path

import pytest
import torch

from engine.cli.finetune import add_finetune_parser
from engine.errors import Cancelled, DarkroomError
from engine.finetune import (
    FinetuneProgress,
    PauseToken,
    card_noise_profile,
    collect_pairs,
    finetune,
)
from engine.jobs import CancelToken
from engine.models import ModelCard, create_model, list_library, load_model, save_model
from tests.test_pairing import shoot, textured_scene

TINY = {"base_features": 4, "levels": 2}
#: Fast settings for tiny data: a high learning rate moves a random model within 40 steps.
FAST = {"lr": 1e-2, "patch": 64, "device": "cpu"}


def _shoot_pairs(folder: Path, n: int = 3) -> Path:
    """``n`` scenes, each a x100 short (0.01 s) and a long (1 s) exposure, ten minutes apart."""
    for i in range(n):
        scene = textured_scene(seed=10 + i)
        minute = 10 * i
        shoot(folder / f"DSC{2 * i + 1:05d}.dng", 0.01, scene=scene, seed=i,
              when=f"2024:05:01 20:{minute:02d}:00")  # fmt: skip
        shoot(folder / f"DSC{2 * i + 2:05d}.dng", 1.0, scene=scene, seed=i,
              when=f"2024:05:01 20:{minute:02d}:05")  # fmt: skip
    return folder


def _base(tmp_path: Path) -> Path:
    """An untrained tiny baseline: fine-tuning it must visibly help."""
    torch.manual_seed(0)
    model = create_model("baseline", **TINY)
    path = tmp_path / "tiny-base.safetensors"
    save_model(model, ModelCard(name="tiny-base", architecture="baseline", config=model.config),
               path, dtype=torch.float32)  # fmt: skip
    return path


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from threads, and on a busy CPU they oversubscribe it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def shot(tmp_path: Path) -> tuple[Path, list]:
    folder = _shoot_pairs(tmp_path / "shoot")
    return folder, collect_pairs(folder).valid_pairs


def test_finetune_raises_validation_psnr_and_saves_a_card(tmp_path: Path, shot) -> None:
    _, pairs = shot
    lib = tmp_path / "lib"
    reports: list[FinetuneProgress] = []
    pause = PauseToken()

    def progress(p: FinetuneProgress) -> None:
        reports.append(p)
        if p.phase == "training" and p.iteration == 3 and not pause.paused:
            pause.pause()
            threading.Timer(0.2, pause.resume).start()

    result = finetune(str(_base(tmp_path)), pairs, "my camera", iterations=40,
                      validate_every=20, library=lib, progress=progress, pause=pause,
                      **FAST)  # fmt: skip
    assert result.psnr_after > result.psnr_before + 1.0, (result.psnr_before, result.psnr_after)
    assert result.train_pairs == 2 and result.validation_pairs == 1
    assert result.validation == "1 held-out pair"
    assert [i for i, _ in result.history] == [0, 20, 40] and len(result.losses) == 40
    phases = {p.phase for p in reports}
    assert {"loading", "fitting noise", "validating", "training", "paused", "done"} <= phases
    last = [p for p in reports if p.phase == "training"][-1]
    assert last.iteration == 40 and last.psnr_before == pytest.approx(result.psnr_before)

    (entry,) = list_library(lib)
    assert entry.name == "my camera" and entry.weights_path == result.weights_path
    card = entry.card
    assert card is not None and card.base_model == "tiny-base" and card.iterations == 40
    assert card.metrics["psnr_before"] == pytest.approx(result.psnr_before)
    assert card.metrics["psnr"] == pytest.approx(result.psnr_after)
    assert "2 real pair(s) from a Sony ILCE-7S" in card.training_data
    profile = card_noise_profile(card)
    assert profile is not None and profile.camera == "Sony ILCE-7S"
    load_model(entry.weights_path)
    assert not (lib / ".work").exists() or not any((lib / ".work").iterdir())


def test_cancel_then_resume_finishes_the_same_run(tmp_path: Path, shot) -> None:
    _, pairs = shot
    lib, base = tmp_path / "lib", str(_base(tmp_path))
    cancel = CancelToken()

    def stop_at_7(p: FinetuneProgress) -> None:
        if p.phase == "training" and p.iteration == 7:
            cancel.cancel()

    settings = dict(iterations=12, validate_every=6, library=lib, synthetic=False, **FAST)
    with pytest.raises(Cancelled):
        finetune(base, pairs, "resumed", progress=stop_at_7, cancel=cancel, **settings)
    assert (lib / ".work" / "resumed" / "finetune.ckpt").is_file()
    assert list_library(lib) == []
    with pytest.raises(DarkroomError, match="another pairs"):
        finetune(base, pairs[:2], "resumed", **settings)
    result = finetune(base, pairs, "resumed", **settings)
    assert result.iterations == 12 and len(result.losses) == 12
    assert [i for i, _ in result.history] == [0, 6, 12]
    assert any(note.startswith("resumed from step 7") for note in result.notes)
    assert [m.name for m in list_library(lib)] == ["resumed"]


def test_disk_full_while_checkpointing_keeps_earlier_models(
    tmp_path: Path, shot, monkeypatch
) -> None:
    _, pairs = shot
    lib = tmp_path / "lib"
    base = _base(tmp_path)
    first = finetune(str(base), pairs, "first", iterations=2, library=lib, synthetic=False,
                     **FAST)  # fmt: skip
    before = {p.name: p.read_bytes() for p in lib.iterdir() if p.is_file()}

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(DarkroomError, match=r"could not write the checkpoint.*No space") as err:
        finetune(str(base), pairs, "second", iterations=4, library=lib, synthetic=False, **FAST)
    assert "\n" not in str(err.value)
    assert {p.name: p.read_bytes() for p in lib.iterdir() if p.is_file()} == before
    assert [m.name for m in list_library(lib)] == ["first"]
    assert not list(lib.rglob("*.part"))
    load_model(first.weights_path)
    with pytest.raises(DarkroomError, match="already exists"):
        finetune(str(base), pairs, "first", iterations=2, library=lib, **FAST)
    monkeypatch.undo()

    # The disk fills up while the finished model is saved: nothing half-saved, and the same
    # call afterwards saves it from the kept checkpoint without training again.
    real_replace = os.replace

    def card_fails(src: str, dst: str) -> None:
        if str(dst).endswith("third.json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", card_fails)
    with pytest.raises(DarkroomError, match=r"could not save model 'third'.*No space"):
        finetune(str(base), pairs, "third", iterations=3, library=lib, synthetic=False, **FAST)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in lib.iterdir() if p.is_file()} == before
    third = finetune(str(base), pairs, "third", iterations=3, library=lib, synthetic=False,
                     **FAST)  # fmt: skip
    assert third.iterations == 3 and [i for i, _ in third.history] == [0, 1, 2, 3]
    assert "resumed from step 3" in third.notes[0]
    assert [m.name for m in list_library(lib)] == ["first", "third"]


def _cli(argv: list[str]) -> int:
    """``darkroom-cli`` as engine.cli.main runs a command: DarkroomError -> one line, exit 1."""
    parser = argparse.ArgumentParser(prog="darkroom-cli")
    add_finetune_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except DarkroomError as exc:
        print(f"darkroom-cli: error: {exc}", file=__import__("sys").stderr)
        return 1


def test_cli_prints_pairing_and_psnr_before_and_after(tmp_path: Path, shot, capsys) -> None:
    folder, _ = shot
    lib, darks = tmp_path / "lib", tmp_path / "darks"
    for i in range(2):  # lens-cap shots: no light at all
        shoot(darks / f"DARK{i}.dng", 1.0, brightness=0.0, seed=i)
    code = _cli(["finetune", "--base", str(_base(tmp_path)), "--pairs", str(folder),
                 "--iterations", "6", "--name", "cli model", "--lr", "1e-2", "--patch", "64",
                 "--dark-frames", str(darks), "--library", str(lib), "--device", "cpu",
                 "--print-every", "0"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "3 valid pair(s), 0 invalid" in err and "it 6/6" in err
    assert "note: noise model: Sony ILCE-7S" in err
    assert "validation (1 held-out pair): PSNR before" in out and "after" in out
    card = json.loads((lib / "cli model.json").read_text())
    assert card["iterations"] == 6 and card["base_model"] == "tiny-base"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("empty", "no RAW files"),
        ("unpaired", "DSC00099.dng: no other frame of the same scene"),
        ("two cameras", "different cameras"),
        ("corrupt", "DSC00098.dng"),
    ],
)
def test_cli_rejects_bad_sets_with_one_line(tmp_path: Path, capsys, setup, message) -> None:
    folder = tmp_path / "shoot"
    folder.mkdir()
    if setup != "empty":
        _shoot_pairs(folder, n=1)
    if setup == "unpaired":
        shoot(folder / "DSC00099.dng", 0.01, when="2024:05:01 23:00:00")
    elif setup == "two cameras":
        shoot(folder / "DSC00003.dng", 0.01, when="2024:05:01 22:00:00")
        shoot(folder / "NIK00004.dng", 1.0, make="Nikon", model="Z6", when="2024:05:01 22:00:09")
    elif setup == "corrupt":
        (folder / "DSC00098.dng").write_bytes(b"\x00garbage" * 64)
    code = _cli(["finetune", "--pairs", str(folder), "--name", "x", "--iterations", "1",
                 "--library", str(tmp_path / "lib"), "--device", "cpu"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith("darkroom-cli: error:") and message in err[-1]
    assert not (tmp_path / "lib").exists()


def test_validation_scores_what_the_app_renders() -> None:
    """The fine-tuning panel's PSNR is the runner's (borders mirrored), not a bare forward."""
    import numpy as np

    from engine.evaluate import psnr
    from engine.finetune.data import Validation
    from engine.render import TiledRunner, develop_numpy
    from engine.train import synthesise_pair
    from tests.conftest import smooth_scene

    pairs = [synthesise_pair(smooth_scene(96, 96, s), np.random.default_rng(s), ratio=100.0)
             for s in range(2)]  # fmt: skip
    torch.manual_seed(0)
    model = create_model("baseline", **TINY).eval()
    validation = Validation.build(pairs, side=96, label="test")
    runner = TiledRunner(model, torch.device("cpu"), precision="fp32")
    expected = []
    for crop, ref in zip(validation.crops, validation.references, strict=True):
        out = np.clip(runner.run(crop.network_input()), 0.0, 1.0).transpose(1, 2, 0)
        expected.append(psnr(develop_numpy(np.ascontiguousarray(out), crop.dark), ref))
    score = validation.score(model, torch.device("cpu"))
    assert score == pytest.approx(np.mean(expected), abs=1e-4)  # a bare forward is 3e-3 off
