"""torchrun (DDP) training and fine-tuning: real 2-process gloo groups on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from engine.train import is_held_out, train
from tests.conftest import smooth_scene
from tests.ddp_train_worker import TinyPhotos, config
from tests.test_finetune import _base, _shoot_pairs

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]


def _torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``torchrun --standalone --nproc_per_node 2 ARGS`` with this checkout importable."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", *args]  # fmt: skip
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.parametrize("variant", ["baseline", "gan"])
def test_two_ranks_end_equal_and_match_one_process_with_the_same_global_batch(
    tmp_path: Path, variant: str, one_torch_thread
) -> None:
    _torchrun([str(ROOT / "tests" / "ddp_train_worker.py"), str(tmp_path), variant], ROOT)
    ranks = [load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1)]
    logs = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert logs[0]["world"] == 2
    assert any("data parallel: 2 torchrun processes (gloo" in n for n in logs[0]["notes"])
    for name, tensor in ranks[0].items():  # gradients were all-reduced: identical replicas
        torch.testing.assert_close(ranks[1][name], tensor, rtol=0, atol=0)
    assert logs[0]["losses"] == logs[1]["losses"]  # the logged loss is the global batch's

    single = train(config(variant, batch_size=2), TinyPhotos())  # the same crops, one process
    state = single.model.state_dict()
    for name, tensor in ranks[0].items():
        torch.testing.assert_close(tensor, state[name], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.tensor(logs[0]["losses"]), torch.tensor(single.losses),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def test_torchrun_train_and_finetune_write_once_from_rank_zero(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    names = [f"photo{i}.png" for i in range(40) if not is_held_out(f"photo{i}.png")][:3]
    for i, name in enumerate(names):
        iio.imwrite(photos / name, (smooth_scene(96, 96, i) ** (1 / 2.2) * 255).astype(np.uint8))
    done = _torchrun(["-m", "engine.cli", "train", "--variant", "lite", "--data", str(photos),
                      "--iterations", "3", "--batch", "2", "--crop", "64", "--device", "cpu",
                      "--precision", "fp32", "--print-every", "0",
                      "--out", "m.safetensors"], tmp_path)  # fmt: skip
    assert done.stderr.count("wrote m.safetensors") == 1, done.stderr
    assert done.stderr.count("it 3/3") == 1, done.stderr  # rank 1 trains silently
    card = json.loads((tmp_path / "m.json").read_text())
    assert "data parallel: 2 torchrun processes" in card["notes"] and card["iterations"] == 3
    # The same command with more iterations resumes from rank 0's checkpoint on every rank.
    done = _torchrun(["-m", "engine.cli", "train", "--variant", "lite", "--data", str(photos),
                      "--iterations", "5", "--batch", "2", "--crop", "64", "--device", "cpu",
                      "--precision", "fp32", "--print-every", "0", "--overwrite",
                      "--out", "m.safetensors"], tmp_path)  # fmt: skip
    assert "it 4/5" in done.stderr and "it 3/5" not in done.stderr, done.stderr
    assert json.loads((tmp_path / "m.json").read_text())["iterations"] == 5

    _shoot_pairs(tmp_path / "shoot")
    done = _torchrun(["-m", "engine.cli", "finetune", "--base", str(_base(tmp_path)),
                      "--pairs", "shoot", "--iterations", "4", "--validate-every", "2",
                      "--batch", "2", "--name", "ddp", "--library", "lib", "--device", "cpu",
                      "--lr", "1e-2", "--patch", "64", "--patience", "0"], tmp_path)  # fmt: skip
    assert done.stdout.count("saved ddp to") == 1, done.stdout + done.stderr
    assert done.stderr.count("valid pair(s)") == 1, done.stderr
    card = json.loads((tmp_path / "lib" / "ddp.json").read_text())
    assert [step for step, _ in card["metrics"]["history"]] == [0, 2, 4], card["metrics"]
    assert "data parallel: 2 torchrun processes" in card["notes"]
    assert sorted(p.name for p in (tmp_path / "lib").iterdir() if p.is_file()) == [
        "ddp.json", "ddp.safetensors"]  # fmt: skip
