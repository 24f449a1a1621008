"""Fine-tuning on tiny generated tripod pairs (seconds on a CPU)."""

from __future__ import annotations

import argparse
import errno
import json
import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from engine.cli.finetune import add_finetune_parser
from engine.errors import Cancelled, DarkroomError, ModelError
from engine.finetune import (
    RUN_STATE_VERSION,
    FinetuneProgress,
    FinetuneRequest,
    FinetuneResult,
    FinetuneSettings,
    MixedCamerasError,
    NameTakenError,
    NoBaseModelError,
    NoPairsError,
    PauseToken,
    RunState,
    card_noise_profile,
    check_start,
    collect_pairs,
    discard_interrupted_run,
    find_interrupted_run,
    finetune,
    list_interrupted_runs,
)
from engine.jobs import CancelToken
from engine.models import ModelCard, create_model, list_library, load_model, save_model
from tests.test_pairing import shoot, textured_scene

pytestmark = pytest.mark.usefixtures("one_torch_thread")


TINY = {"base_features": 4, "levels": 2}
#: Fast settings for tiny data: a high learning rate moves a random model within 40 steps.
FAST = {"lr": 1e-2, "patch": 64}


def _run(base: str | Path, pairs: list, name: str, library: Path | None = None, *,
         progress=None, cancel=None, pause=None, **settings: object) -> FinetuneResult:  # fmt: skip
    """:func:`finetune` on the CPU with ``settings`` (FinetuneSettings fields) and ``FAST``."""
    request = FinetuneRequest(str(base), pairs, name, FinetuneSettings(**{**FAST, **settings}),
                              library=library, device="cpu")  # fmt: skip
    return finetune(request, progress=progress, cancel=cancel, pause=pause)


def _interrupt(base: str | Path, pairs: list, name: str, library: Path, step: int,
               **settings: object) -> None:  # fmt: skip
    """Start a fine-tune and cancel it at training step ``step``, as the window's Cancel does."""
    cancel = CancelToken()

    def stop(p: FinetuneProgress) -> None:
        if p.phase == "training" and p.iteration == step:
            cancel.cancel()

    with pytest.raises(Cancelled):
        _run(base, pairs, name, library, progress=stop, cancel=cancel, **settings)


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

    result = _run(_base(tmp_path), pairs, "my camera", lib, progress=progress, pause=pause,
                  iterations=40, validate_every=20)  # fmt: skip
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
    settings = dict(iterations=12, validate_every=6, synthetic=False)
    _interrupt(base, pairs, "resumed", lib, 7, **settings)
    assert (lib / ".work" / "resumed" / "finetune.ckpt").is_file()
    assert list_library(lib) == []
    with pytest.raises(DarkroomError, match="another pairs"):
        _run(base, pairs[:2], "resumed", lib, **settings)
    result = _run(base, pairs, "resumed", lib, **settings)
    assert len(result.losses) == 12  # trained to the end; the best validation's weights kept
    assert result.iterations == max(result.history, key=lambda h: (h[1], -h[0]))[0]
    assert [i for i, _ in result.history] == [0, 6, 12]
    assert any(note.startswith("resumed from step 7") for note in result.notes)
    assert [m.name for m in list_library(lib)] == ["resumed"]


def test_disk_full_while_checkpointing_keeps_earlier_models(
    tmp_path: Path, shot, monkeypatch
) -> None:
    _, pairs = shot
    lib = tmp_path / "lib"
    base = _base(tmp_path)
    first = _run(base, pairs, "first", lib, iterations=2, synthetic=False)
    before = {p.name: p.read_bytes() for p in lib.iterdir() if p.is_file()}

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(DarkroomError, match=r"could not write the checkpoint.*No space") as err:
        _run(base, pairs, "second", lib, iterations=4, synthetic=False)
    assert "\n" not in str(err.value)
    assert {p.name: p.read_bytes() for p in lib.iterdir() if p.is_file()} == before
    assert [m.name for m in list_library(lib)] == ["first"]
    assert not list(lib.rglob("*part"))
    load_model(first.weights_path)
    with pytest.raises(DarkroomError, match="already exists"):
        _run(base, pairs, "first", lib, iterations=2)
    monkeypatch.undo()

    # The disk fills up while the finished model is saved: nothing half-saved, and the same
    # call afterwards saves it from the kept checkpoint without training again.
    import engine.files as files

    real_publish = files._publish

    def card_fails(tmp: Path, final: Path, overwrite: bool) -> None:
        if final.name.endswith("third.json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_publish(tmp, final, overwrite)

    monkeypatch.setattr(files, "_publish", card_fails)
    with pytest.raises(DarkroomError, match=r"could not save model 'third'.*No space"):
        _run(base, pairs, "third", lib, iterations=3, synthetic=False)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in lib.iterdir() if p.is_file()} == before
    third = _run(base, pairs, "third", lib, iterations=3, synthetic=False)
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
                 "--patience", "0",
                 "--dark-frames", str(darks), "--library", str(lib), "--device", "cpu",
                 "--print-every", "0"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "3 valid pair(s), 0 invalid" in err and "it 6/6" in err
    assert "note: noise model: Sony ILCE-7S" in err
    assert "validation (1 held-out pair): PSNR before" in out and "after" in out
    card = json.loads((lib / "cli model.json").read_text())
    best = max(card["metrics"]["history"], key=lambda h: (h[1], -h[0]))
    assert card["iterations"] == best[0] and card["base_model"] == "tiny-base"  # best kept


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


def _shoot_two_cameras(folder: Path) -> Path:
    """Two valid pairs: one shot with a Sony, one with a Nikon, an hour apart."""
    _shoot_pairs(folder, n=1)
    scene = textured_scene(seed=40)
    shoot(folder / "NIK00010.dng", 0.01, scene=scene, make="Nikon", model="Z6",
          when="2024:05:01 22:00:00")  # fmt: skip
    shoot(folder / "NIK00011.dng", 1.0, scene=scene, make="Nikon", model="Z6",
          when="2024:05:01 22:00:05")  # fmt: skip
    return folder


def test_cli_refuses_pairs_from_two_cameras(tmp_path: Path, capsys) -> None:
    """The one-camera rule is the engine's: the CLI obeys it as the window does."""
    folder = _shoot_two_cameras(tmp_path / "shoot")
    assert len(collect_pairs(folder).valid_pairs) == 2  # each pair is fine on its own
    code = _cli(["finetune", "--base", str(_base(tmp_path)), "--pairs", str(folder),
                 "--name", "mixed", "--iterations", "1", "--library", str(tmp_path / "lib"),
                 "--device", "cpu"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith("darkroom-cli: error: the pairs come from 2 cameras")
    assert "Nikon Z6" in err[-1] and "Sony ILCE-7S" in err[-1]
    assert not (tmp_path / "lib").exists()


def test_pair_files_from_two_cameras_are_refused_once_loaded(tmp_path: Path) -> None:
    """Plain file pairs carry no camera until read: the rule applies after loading them."""
    folder = _shoot_two_cameras(tmp_path / "shoot")
    files = [p.to_files() for p in collect_pairs(folder).valid_pairs]
    with pytest.raises(MixedCamerasError, match="2 cameras"):
        _run(_base(tmp_path), files, "mixed", tmp_path / "lib", iterations=1)
    assert not (tmp_path / "lib").exists() or not list((tmp_path / "lib").glob("*.safetensors"))


def test_check_start_names_each_problem(tmp_path: Path, shot) -> None:
    _, pairs = shot
    lib = tmp_path / "lib"
    base = str(_base(tmp_path))

    def request(**changes: object) -> FinetuneRequest:
        return replace(FinetuneRequest(base, pairs, "ok name", library=lib), **changes)

    assert check_start(request()) == "ok name"
    with pytest.raises(NoPairsError):
        check_start(request(pairs=[]))
    with pytest.raises(NoBaseModelError):
        check_start(request(base=""))
    with pytest.raises(ModelError, match="invalid model name"):
        check_start(request(name="../escape"))
    lib.mkdir()
    (lib / "ok name.safetensors").write_bytes(b"taken")
    with pytest.raises(NameTakenError, match="already exists"):
        check_start(request())
    assert check_start(request(overwrite=True)) == "ok name"


def test_run_state_round_trip_migration_and_refusals(tmp_path: Path) -> None:
    state = RunState(base="/m/base.safetensors", pairs=[("/a/s.dng", "/a/l.dng")],
                     variant="uunet", strategy="frozen-first-net", model_config={"levels": 2},
                     batch_size=1, seed=0, lr=5e-5, step_size=10, gamma=0.8,
                     epoch_iterations=20, patch=512, validation_pairs=1, done=40,
                     history=[(0, 20.5), (40, float("nan"))], psnr_before=20.5)  # fmt: skip
    path = tmp_path / "run.json"
    state.write(path)
    back = RunState.read(path)
    assert back.pairs == state.pairs and back.history[0] == (0, 20.5)
    assert back.version == RUN_STATE_VERSION and back.step == 40
    # Version 1: no version key and no strategy; the trainer's variant was stored as run.
    v1 = {k: v for k, v in state.to_json().items() if k not in ("version", "strategy")}
    assert RunState.from_json({**v1, "variant": "baseline"}, "v1").strategy == "plain"
    assert RunState.from_json(v1, "v1").strategy == "frozen-first-net"
    with pytest.raises(DarkroomError, match="newer Darkroom"):
        RunState.from_json({**state.to_json(), "version": 99}, "future")
    with pytest.raises(DarkroomError, match="invalid run state"):
        RunState.from_json({**state.to_json(), "done": "forty"}, "bad")
    assert state.resume_conflict(replace(state, pairs=[("/b/s.dng", "/b/l.dng")])) == "pairs"
    assert state.resume_conflict(replace(state, lr=1.0, done=0)) is None


def test_interrupted_runs_are_listed_matched_and_discarded(tmp_path: Path, shot) -> None:
    _, pairs = shot
    lib, base = tmp_path / "lib", _base(tmp_path)
    _interrupt(base, pairs, "later", lib, 2, iterations=6, synthetic=False)
    (run,) = list_interrupted_runs(lib)
    assert run.name == "later" and run.step == 2 and Path(run.base).name == base.name
    assert run.matches(pairs) and not run.matches(pairs[::-1])
    assert find_interrupted_run("later", lib) == run
    assert find_interrupted_run("other", lib) is None
    discard_interrupted_run("later", lib)
    assert list_interrupted_runs(lib) == []


@pytest.mark.parametrize("damage", ["truncated", "pickle"])
def test_a_damaged_checkpoint_is_one_line_with_a_fresh_start(
    tmp_path: Path, shot, damage: str
) -> None:
    _, pairs = shot
    lib, base = tmp_path / "lib", _base(tmp_path)
    settings = dict(iterations=4, synthetic=False)
    _interrupt(base, pairs, "hurt", lib, 2, **settings)
    ckpt = lib / ".work" / "hurt" / "finetune.ckpt"
    if damage == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:1000])
    else:
        import pickle

        ckpt.write_bytes(pickle.dumps(Path("/"), protocol=2))
    with pytest.raises(DarkroomError, match="--restart") as info:
        _run(base, pairs, "hurt", lib, **settings)
    assert "\n" not in str(info.value) and "checkpoint" in str(info.value)
    request = FinetuneRequest(str(base), pairs, "hurt", FinetuneSettings(**{**FAST, **settings}),
                              library=lib, device="cpu", resume=False)  # fmt: skip
    assert finetune(request).iterations == 4  # the fresh start it offered


def test_a_run_killed_after_saving_finishes_when_run_again(
    tmp_path: Path, shot, monkeypatch
) -> None:
    """Killed between installing the model and clearing its work folder: the same command
    finishes instead of refusing the name it took itself."""
    import engine.finetune.run as run_module

    _, pairs = shot
    lib, base = tmp_path / "lib", _base(tmp_path)

    real_save = run_module.save_to_library

    def killed(*args: object, **kwargs: object) -> None:
        real_save(*args, **kwargs)
        raise KeyboardInterrupt  # stands for kill -9 right after the install

    monkeypatch.setattr(run_module, "save_to_library", killed)
    with pytest.raises(KeyboardInterrupt):
        _run(base, pairs, "twice", lib, iterations=3, synthetic=False)
    monkeypatch.undo()
    assert [m.name for m in list_library(lib)] == ["twice"] and (lib / ".work" / "twice").is_dir()
    again = _run(base, pairs, "twice", lib, iterations=3, synthetic=False)
    assert again.iterations == 3 and [m.name for m in list_library(lib)] == ["twice"]
    assert not (lib / ".work" / "twice").exists()
    # A model of that name that is not this run's stays protected.
    with pytest.raises(NameTakenError):
        _run(base, pairs, "twice", lib, iterations=3, synthetic=False)


def test_validation_pairs_that_look_wrong_are_flagged(tmp_path: Path, shot) -> None:
    _, pairs = shot  # three scenes; the last pair is held out for validation
    lib = tmp_path / "lib"
    wrong = replace(pairs[-1], long=pairs[0].long)  # the short paired with another scene's long
    seen: list[FinetuneProgress] = []
    flagged = _run("fast", [*pairs[:-1], wrong], "wrong", lib, iterations=0, progress=seen.append)
    (suspect,) = flagged.suspects
    assert (Path(suspect.short), Path(suspect.long)) == (wrong.short, wrong.long)
    assert suspect.correlation < 0.5  # fast still beats gain here: the scene test catches it
    note = "suspicious validation pair DSC00005.dng + DSC00002.dng: the two frames do not look"
    assert any(n.startswith(note) for n in flagged.notes)
    assert any(p.suspects == (suspect,) for p in seen)  # the window marks the row from this

    # An untrained base loses to plain gain on the right pair: flagged for that reason.
    (below,) = _run(_base(tmp_path), pairs, "untrained", lib, iterations=0).suspects
    assert below.correlation > 0.9 and below.psnr_model < below.psnr_gain
    assert "below plain gain" in below.describe()


def test_cli_warns_about_a_suspicious_validation_pair_once(tmp_path: Path, shot, capsys) -> None:
    folder, _ = shot  # right pairs, but an untrained base loses to plain gain on them
    code = _cli(["finetune", "--base", str(_base(tmp_path)), "--pairs", str(folder),
                 "--iterations", "0", "--name", "sus", "--library", str(tmp_path / "lib"),
                 "--device", "cpu", "-q"])  # fmt: skip
    _out, err = capsys.readouterr()
    assert code == 0, err
    assert err.count("suspicious validation pair DSC00005.dng + DSC00006.dng") == 1
    assert "darkroom-cli: warning: suspicious validation pair" in err and "below plain gain" in err
