"""A photo decoded, and its classical render made, on a worker thread while the program loads.

A fresh ``darkroom-cli enhance`` spends its first 1-1.5 s importing torch, on one core. The first
photo's classical render (:func:`~engine.io.classical_linear`, keeping the noise below black:
what ``--model none`` shows, what Amount blends with and where the default model's detail
restoration takes its detail from) needs NumPy and LibRaw only, and LibRaw's DHT demosaic, 1 s on
two cores at 12 MP, runs outside the GIL. So :class:`ClassicalAhead` decodes the file and makes
that render beside the imports, and the renderer takes it (:func:`take_made_ahead`) instead of
demosaicking the frame again.

It is the same function on the same frame, so the output is the same either way. Only the
very frame object decoded here, rendered at the very ratio the renderer uses, is handed over,
and only once; anything else (a failed decode or render, a different ratio) leaves the renderer
to do the work itself, which then reports any problem as it always does.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.io.demosaic import classical_lifted, lifted_to_linear
from engine.io.exposure import estimate_ratio
from engine.io.raw import RawFrame, read_raw


@dataclass
class _Made:
    """The classical render of one frame, being made (``ready`` unset) or made (``lifted``
    ``None`` when it was not wanted or failed)."""

    frame: weakref.ref[RawFrame]
    ready: threading.Event = field(default_factory=threading.Event)
    ratio: float = 0.0
    lifted: np.ndarray | None = None  # 16-bit until taken: half the memory while it waits


_MADE: dict[int, _Made] = {}
_LOCK = threading.Lock()


class ClassicalAhead:
    """Decode ``path`` and make its classical render at ``ratio`` (``None``: estimated, as the
    renderer estimates it) on a worker thread, started at once.

    Args:
        wanted: asked with the decoded frame whether its classical render will be used (for
            the CLI: the model chosen for the frame's sensor restores detail); not made
            otherwise.

    Attributes:
        decoded: the frame, or :func:`read_raw`'s error, once decoded (a batch's first file:
            :func:`engine.render.run_batch`'s ``ahead``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        ratio: float | None,
        wanted: Callable[[RawFrame], bool],
    ) -> None:
        self.path = Path(path)
        self.decoded: Future[RawFrame] = Future()
        self._ratio, self._wanted = ratio, wanted
        self._thread = threading.Thread(target=self._work, name="classical-ahead", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            frame = read_raw(self.path)
        except Exception as exc:  # noqa: BLE001 - the batch reads it from the Future
            self.decoded.set_exception(exc)
            return
        made = _Made(weakref.ref(frame))
        with _LOCK:
            _MADE[id(frame)] = made
        weakref.finalize(frame, _forget, id(frame), made)
        self.decoded.set_result(frame)
        try:
            if self._wanted(frame):
                made.ratio = estimate_ratio(frame) if self._ratio is None else float(self._ratio)
                # One LibRaw thread: torch's import holds one core, this takes the other; two
                # bands slowed the import down more than they gained (docs/performance.md).
                made.lifted = classical_lifted(frame, made.ratio, follow_origin=True, workers=1)
        except Exception:  # noqa: BLE001 - the renderer makes it again and says what is wrong
            made.lifted = None
        finally:
            made.ready.set()

    def join(self) -> None:
        """Wait for the worker to finish (tests; the renderer waits for the render it takes)."""
        self._thread.join()


def _forget(key: int, made: _Made) -> None:
    with _LOCK:
        if _MADE.get(key) is made:
            del _MADE[key]


def take_made_ahead(frame: RawFrame, ratio: float) -> np.ndarray | None:
    """The classical render of ``frame`` at ``ratio`` if :class:`ClassicalAhead` made (or is
    making) it, waiting for it to finish, else ``None``; handed over once.

    Returns:
        ``(H, W, 3)`` float32 linear camera RGB in ``[-NOISE_FLOOR, 1]``: exactly
        ``classical_linear(frame, ratio, keep_negative=True, follow_origin=True)``.
    """
    with _LOCK:
        made = _MADE.get(id(frame))
    if made is None or made.frame() is not frame:
        return None
    made.ready.wait()
    with _LOCK:
        if _MADE.get(id(frame)) is not made:
            return None  # taken by another render meanwhile
        del _MADE[id(frame)]
    if made.lifted is None or made.ratio != ratio:
        return None
    return lifted_to_linear(made.lifted)
