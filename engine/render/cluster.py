"""A batch on a Ray cluster: :func:`enhance_on_ray`.

The file list becomes a Ray Data dataset (one file per block, so files stream to idle actors);
an actor pool of :class:`RayEnhanceWorker` runs decode + render + write, each actor loading the
model once; every file goes through :func:`~engine.render.batch.process_file`, the function the
local batch calls, so a file comes out byte-identical whichever path ran it. Workers write the
outputs themselves, atomically (a temporary name, then a rename): the input and output folders
must be the same paths on every node (a shared filesystem), and paths are made absolute before
they leave the driver.

Ray is optional (``pip install "darkroom[cluster]"``); without it :func:`enhance_on_ray` raises
a one-line :class:`~engine.errors.DarkroomError` that says how to install it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import DarkroomError
from engine.io import ExportOptions
from engine.render.adjustments import Adjustments
from engine.render.batch import FileOutcome, process_file
from engine.render.pipeline import Enhancer

INSTALL_HINT = 'the Ray engine needs Ray: pip install "darkroom[cluster]"'


@dataclass(frozen=True)
class RaySettings:
    """How the batch uses the cluster.

    Attributes:
        address: a running cluster's address (``"auto"``, ``"ray://host:10001"``, ...); ``None``
            starts a local one-machine cluster for this run.
        actors: model replicas working at once (``None``: one per GPU when the cluster has GPUs,
            else one per 2 CPUs, at least 1).
        cpus_per_actor: CPUs each actor reserves and runs its threads on (``None``: the
            cluster's CPUs divided among the actors).
        gpus_per_actor: GPUs each actor reserves (``None``: 1 when the cluster has GPUs, else 0).

    An actor that crashes (out of memory, a lost node) is restarted and its file retried (Ray
    Data's own fault tolerance); a file that fails by itself (unreadable, a refused output) is
    an outcome with its error, never retried.
    """

    address: str | None = None
    actors: int | None = None
    cpus_per_actor: float | None = None
    gpus_per_actor: float | None = None


@dataclass(frozen=True)
class WorkerSpec:
    """What every actor needs to build its :class:`~engine.render.Enhancer` and write files."""

    model: str
    device: str
    tile: int | None
    precision: str
    model_dirs: tuple[str, ...]
    adjustments: Adjustments
    options: ExportOptions
    threads: int


class RayEnhanceWorker:
    """A Ray Data callable class: loads the model once, then enhances one batch of rows
    (``source``, ``output`` paths) at a time; returns one outcome row per input."""

    def __init__(self, spec: WorkerSpec) -> None:
        import torch

        if spec.threads > 0:  # the CPUs this actor reserved, not every core of the node
            torch.set_num_threads(spec.threads)
        self.spec = spec
        self.enhancer = Enhancer(spec.model, device=spec.device, tile=spec.tile,
                                 precision=spec.precision,
                                 model_dirs=[Path(d) for d in spec.model_dirs])  # fmt: skip

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        spec = self.spec
        outcomes = [
            process_file(self.enhancer, src, dst, spec.adjustments, spec.options)
            for src, dst in zip(batch["source"], batch["output"], strict=True)
        ]
        return _outcome_columns(outcomes)


def _outcome_columns(outcomes: Sequence[FileOutcome]) -> dict[str, np.ndarray]:
    return {
        "source": np.array([str(o.source) for o in outcomes]),
        "output": np.array([str(o.output) for o in outcomes]),
        "error": np.array([o.error for o in outcomes]),
        "ratio": np.array([o.ratio for o in outcomes], np.float64),
        "warnings": np.array([json.dumps(list(o.warnings)) for o in outcomes]),
        "seconds": np.array([o.seconds for o in outcomes], np.float64),
    }


def _outcome(row: dict[str, Any]) -> FileOutcome:
    return FileOutcome(Path(str(row["source"])), Path(str(row["output"])), str(row["error"]),
                       float(row["ratio"]), tuple(json.loads(str(row["warnings"]))),
                       float(row["seconds"]))  # fmt: skip


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise DarkroomError(INSTALL_HINT) from None
    return ray


def _start(ray: Any, address: str | None) -> bool:
    """Connect to ``address`` or start a local cluster; True when this call started Ray."""
    if ray.is_initialized():
        return False
    # Ray's own start-up chatter (token notice, actor-restart caveats) is not the user's news.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "configure_logging": False}  # fmt: skip
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "a local cluster"
        raise DarkroomError(f"could not start Ray on {where}: {exc}") from None
    return True


def _room(nodes: Sequence[dict[str, float]], cpus: float, gpus: float) -> int:
    """How many actors of ``cpus`` CPUs and ``gpus`` GPUs the ``nodes`` can host at once."""
    total = 0
    for node in nodes:
        fit = int(node.get("CPU", 0.0) // cpus)
        if gpus:
            fit = min(fit, int(node.get("GPU", 0.0) // gpus))
        total += fit
    return total


def plan_actors(
    settings: RaySettings, nodes: Sequence[dict[str, float]]
) -> tuple[int, float, float]:
    """``(actors, cpus_per_actor, gpus_per_actor)`` that the cluster's ``nodes`` (each node's
    resources, ``{"CPU": 16.0, "GPU": 2.0, ...}``) can all host at once: an actor lives on one
    node, so a plan by the cluster's totals could ask for more than any node has and wait for
    ever. Defaults: one actor per GPU (or per 2 CPUs without GPUs), each with the most CPUs
    the tightest fit allows.

    Raises:
        DarkroomError: fewer than 1 actor asked for, or more than the cluster can host.
    """
    has_gpus = any(n.get("GPU", 0.0) > 0 for n in nodes)
    gpa = settings.gpus_per_actor if settings.gpus_per_actor is not None else float(has_gpus)
    if settings.actors is not None:
        actors = settings.actors
    elif gpa:
        actors = _room(nodes, 1.0, gpa)
    else:
        actors = max(1, _room(nodes, 2.0, 0.0))
    if actors < 1:
        raise DarkroomError(f"--actors must be at least 1, not {actors}")
    if settings.cpus_per_actor is not None:
        cpa = settings.cpus_per_actor
    else:  # the most CPUs per actor at which all of them still fit
        most = int(max((n.get("CPU", 1.0) for n in nodes), default=1.0))
        cpa = next((float(c) for c in range(most, 0, -1) if _room(nodes, c, gpa) >= actors), 1.0)
    if _room(nodes, cpa, gpa) < actors:
        raise DarkroomError(f"the Ray cluster has room for {_room(nodes, cpa, gpa)} actor(s) of "
                            f"{cpa:g} CPU(s) and {gpa:g} GPU(s), not {actors}")  # fmt: skip
    return actors, cpa, gpa


def enhance_on_ray(
    pairs: Sequence[tuple[Path, Path]],
    spec: WorkerSpec,
    settings: RaySettings,
    on_outcome: Callable[[int, FileOutcome], None] | None = None,
) -> list[FileOutcome]:
    """Enhance every ``(source, output)`` pair on Ray; see the module docstring.

    ``spec.threads`` is replaced by the CPUs each actor reserves. ``on_outcome(done, outcome)``
    is called on the driver as each file finishes (in the order they finish).

    Returns:
        One outcome per pair, in the order they finished.

    Raises:
        DarkroomError: Ray is not installed, or the cluster cannot be reached.
    """
    ray = _import_ray()
    started_here = _start(ray, settings.address)
    try:
        return list(_stream(ray, pairs, spec, settings, on_outcome))
    except ray.exceptions.RayError as exc:  # a worker that could not start or died for good
        raise DarkroomError(f"the Ray workers failed: {_first_line(exc)}") from None
    finally:
        if started_here:
            ray.shutdown()


def _first_line(exc: BaseException) -> str:
    """The innermost cause's message, first line: Ray wraps errors in pages of traceback."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{exc.__class__.__name__}: {lines[0] if lines else ''}"


def _stream(
    ray: Any,
    pairs: Sequence[tuple[Path, Path]],
    spec: WorkerSpec,
    settings: RaySettings,
    on_outcome: Callable[[int, FileOutcome], None] | None,
) -> Iterator[FileOutcome]:
    from dataclasses import replace

    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    actors, cpa, gpa = plan_actors(settings, nodes)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the CLI draws its own
    context.print_on_execution_start = False
    rows = [{"source": str(Path(s).absolute()), "output": str(Path(d).absolute())}
            for s, d in pairs]  # fmt: skip
    if not rows:
        return
    # A few blocks per actor keep them all busy without one object per file on the driver.
    blocks = min(len(rows), 8 * actors)
    dataset = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
        RayEnhanceWorker,
        fn_constructor_kwargs={"spec": replace(spec, threads=int(cpa))},
        batch_size=1,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=cpa,
        num_gpus=gpa,
    )
    for done, row in enumerate(dataset.iter_rows(), 1):
        outcome = _outcome(row)
        if on_outcome is not None:
            on_outcome(done, outcome)
        yield outcome
