"""``darkroom-cli enhance --engine ray``: a local Ray cluster against the local batch path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.errors import DarkroomError
from engine.io import ExportOptions
from engine.render import (
    Adjustments,
    Enhancer,
    RaySettings,
    WorkerSpec,
    enhance_on_ray,
    process_file,
)
from engine.render.cluster import INSTALL_HINT, plan_actors
from engine.resources import DEFAULT_MODEL

pytestmark = [
    pytest.mark.cluster,
    # Ray's own modules warn about Ray's own deprecated settings; ours stay errors.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray"),
]


def test_plan_actors_fits_every_actor_on_one_node() -> None:
    one_laptop = [{"CPU": 2.0}]
    assert plan_actors(RaySettings(), one_laptop) == (1, 2.0, 0.0)
    assert plan_actors(RaySettings(actors=2), one_laptop) == (2, 1.0, 0.0)
    gpu_nodes = [{"CPU": 8.0}, {"CPU": 16.0, "GPU": 1.0}, {"CPU": 16.0, "GPU": 1.0}]
    # One actor per GPU, each with a whole GPU node's CPUs (not the cluster's 40 / 2 = 20).
    assert plan_actors(RaySettings(), gpu_nodes) == (2, 16.0, 1.0)
    assert plan_actors(RaySettings(), [{"CPU": 16.0, "GPU": 4.0}]) == (4, 4.0, 1.0)
    assert plan_actors(RaySettings(actors=3, gpus_per_actor=0.5),
                       [{"CPU": 12.0, "GPU": 2.0}]) == (3, 4.0, 0.5)  # fmt: skip
    # CPU actors spread over unequal nodes: 8 CPUs each fit twice on 16 and once on 8.
    assert plan_actors(RaySettings(actors=3, gpus_per_actor=0), gpu_nodes) == (3, 8.0, 0.0)
    with pytest.raises(DarkroomError, match="at least 1"):
        plan_actors(RaySettings(actors=0), one_laptop)
    with pytest.raises(DarkroomError, match="room for 2 actor"):
        plan_actors(RaySettings(actors=3), gpu_nodes)


def test_without_ray_the_flag_says_how_to_install_it(
    make_dng, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    src = make_dng(name="a.dng")
    code = main(["enhance", str(src), "-o", str(tmp_path / "out"), "--engine", "ray", "-q"])
    err = capsys.readouterr().err
    assert code != 0 and err.strip() == f"darkroom-cli: error: {INSTALL_HINT}"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_address_and_actors_need_the_ray_engine(make_dng, tmp_path: Path, capsys) -> None:
    code = main(["enhance", str(make_dng()), "--actors", "2", "-o", str(tmp_path / "o")])
    assert code != 0 and "--address and --actors need --engine ray" in capsys.readouterr().err


@pytest.mark.slow
def test_ray_batch_writes_the_local_paths_bytes_and_reports_a_bad_file(
    make_dng, tmp_path: Path, capsys
) -> None:
    pytest.importorskip("ray")
    sources = [make_dng(name=f"n{i}.dng", cfa=cfa, height=48 + 2 * i, width=70, ratio=30.0,
                        noise=2.0, seed=i)
               for i, cfa in enumerate(("RGGB", "BGGR", "GRBG"))]  # fmt: skip
    bad = tmp_path / "bad.dng"
    bad.write_bytes(b"II*\x00 not really a raw file")
    adjustments, options = Adjustments(30.0), ExportOptions(fmt="jpeg")
    local, remote = tmp_path / "local", tmp_path / "ray"
    local.mkdir()
    enhancer = Enhancer(DEFAULT_MODEL, device="cpu")
    for src in sources:  # the local path's per-file function
        assert process_file(enhancer, src, local / f"{src.stem}.jpg", adjustments, options).ok

    code = main(["enhance", *map(str, [*sources, bad]), "-o", str(remote), "--ratio", "30",
                 "--device", "cpu", "--engine", "ray", "--actors", "2"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1, err  # one file failed, the others were written
    assert "3 written, 1 failed" in err and "files/min" in err and "on Ray" in err
    assert err.count("darkroom-cli: error:") == 1 and "bad.dng" in err
    assert sorted(p.name for p in remote.iterdir()) == [f"n{i}-darkroom.jpg" for i in range(3)]
    for src in sources:  # byte-identical to the local path, nothing partial left
        ours = (remote / f"{src.stem}-darkroom.jpg").read_bytes()
        assert ours == (local / f"{src.stem}.jpg").read_bytes()


@pytest.mark.slow
def test_enhance_on_ray_streams_outcomes_to_the_driver(make_dng, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    sources = [make_dng(name=f"s{i}.dng", seed=i, ratio=10.0) for i in range(2)]
    spec = WorkerSpec("none", "cpu", None, "auto", (), Adjustments(10.0),
                      ExportOptions(fmt="png", bits=16), threads=0)  # fmt: skip
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:  # a cluster that is already running is used, and left running
        seen: list[int] = []
        outcomes = enhance_on_ray(
            [(s, tmp_path / "out" / f"{s.stem}.png") for s in sources],
            spec,
            RaySettings(),
            lambda done, _o: seen.append(done),
        )
        assert ray.is_initialized()
    finally:
        ray.shutdown()
    assert seen == [1, 2] and all(o.ok and o.seconds > 0 for o in outcomes)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["s0.png", "s1.png"]
