"""Live preview scheduling: debounce, newest-request-wins, cancellation.

Every change that affects the picture (ratio, model, before mode, zoom, pan, resize) calls
:meth:`PreviewController.schedule`, which (re)starts an ~80 ms single-shot timer: a burst of
slider ticks becomes one render once the handle rests. When the timer fires, the request is
built from the window's current state (the visible region in sensor pixels, and ``max_side``
= that region's size on screen in device pixels), every older job's CancelToken is set, and a
new job with the next generation number goes to a one-thread pool. Cancelled jobs stop at the
engine's next checkpoint (or skip entirely if still queued); a result whose generation is not
the newest is dropped, so an old render can never overwrite a newer one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from engine.io import RawFrame
from engine.models import model_entries
from engine.render import CLASSICAL

from .geometry import sensor_region
from .session import EnhancerCache
from .viewer import BeforeAfterView
from .workers import (
    Job,
    JobOutcome,
    PreviewRequest,
    error_message,
    render_preview_layers,
)

DEBOUNCE_MS = 80
#: Output pixels of a network preview on a CPU. The baseline U-Net costs about 0.8 us per output
#: pixel on two cores, so a screen-sized proxy (1.3 MP for a 1600 x 1000 viewer) takes over a
#: second; half a megapixel (a 12 MP frame binned 5x: 850 x 568) keeps "slider stops -> preview"
#: under a second (tools/bench_preview.py). GPUs and the classical pipeline get full screen size.
CPU_NETWORK_PIXELS = 500_000
#: On a CPU, live previews of the bigger networks are drawn by the default ``fast`` network
#: (about a tenth of the baseline's arithmetic) when it has weights, so a sharper proxy still
#: arrives within half a second; exports always use the chosen model. Networks of a cheap
#: architecture (``fast`` and the photographer's fine-tunes of it) draw their own preview: no
#: stand-in, the preview is the export's look.
CPU_PREVIEW_MODEL = "fast"
SELF_PREVIEW_ARCHITECTURES = frozenset({"fast"})
CPU_PREVIEW_MODEL_PIXELS = 1_200_000
#: Size of the whole-frame layer drawn around a zoomed-in region.
BASE_SIDE = 1024


def network_side(region: tuple[int, int, int, int], pixels: int = CPU_NETWORK_PIXELS) -> int:
    """``max_side`` that keeps a network proxy of ``region`` within ``pixels`` output pixels."""
    _, _, height, width = region
    return max(64, int(max(height, width) * math.sqrt(pixels / (height * width))))


@functools.lru_cache(maxsize=1)
def cpu_preview_model_available() -> bool:
    """Whether the bundled :data:`CPU_PREVIEW_MODEL` has weights (checked once)."""
    return any(e.name == CPU_PREVIEW_MODEL and e.has_weights for e in model_entries())


@functools.lru_cache(maxsize=64)
def architecture_of(model: str, model_dirs: tuple[Path, ...] = ()) -> str | None:
    """The architecture of the model of that name (bundled or in ``model_dirs``), or None."""
    for entry in model_entries(list(model_dirs)):
        if entry.name == model:
            return entry.architecture
    return None


def preview_model_for(model: str, device_is_cpu: bool, model_dirs: tuple[Path, ...] = ()) -> str:
    """The model that draws the live preview of ``model`` (see :data:`CPU_PREVIEW_MODEL`)."""
    if not device_is_cpu or model == CLASSICAL:
        return model
    if architecture_of(model, model_dirs) in SELF_PREVIEW_ARCHITECTURES:
        return model
    return CPU_PREVIEW_MODEL if cpu_preview_model_available() else model


def viewer_labels(
    ratio: float,
    model: str,
    before_x1: bool,
    device_is_cpu: bool,
    amount: float = 1.0,
    model_dirs: tuple[Path, ...] = (),
) -> tuple[str, str]:
    """The viewer's "before" and "after" captions; "after" names a preview stand-in, so a
    softer CPU proxy is not mistaken for what the export will look like, and an Amount
    below 100 %."""
    before = "Before · as recorded ×1" if before_x1 else f"Before · classical ×{ratio:g}"
    name = "classical" if model == CLASSICAL else model
    drawn_by = preview_model_for(model, device_is_cpu, model_dirs)
    note = f" (preview: {drawn_by})" if drawn_by != model else ""
    dose = f" · {round(amount * 100)} %" if model != CLASSICAL and amount < 1 else ""
    return before, f"After · {name} ×{ratio:g}{dose}{note}"


@dataclass(frozen=True)
class PreviewState:
    """What the window currently wants to see."""

    frame: RawFrame
    ratio: float
    model: str
    device: str
    device_is_cpu: bool
    model_dirs: tuple[Path, ...]
    before_ratio: float | None
    amount: float = 1.0


class PreviewController(QObject):
    """Turns window state into preview jobs and their results into viewer layers.

    Signals:
        busyChanged(bool): a preview is pending or rendering / all caught up.
        shown(object): a :class:`~darkroom_app.workers.PreviewResult` was put on screen.
        failed(str): the newest preview failed (e.g. a model could not be loaded).
    """

    busyChanged = Signal(bool)
    shown = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        viewer: BeforeAfterView,
        pool: QThreadPool,
        cache: EnhancerCache,
        state: Callable[[], PreviewState | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.pool = pool
        self.cache = cache
        self.state = state
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.render_now)
        self.generation = 0
        self.jobs: list[Job] = []  # started and not yet reported back
        self.latest: PreviewRequest | None = None
        self.base_key: tuple | None = None  # what the viewer's whole-frame layer shows
        self.busy = False

    def schedule(self) -> None:
        """Render soon: restarts the debounce timer."""
        self.timer.start()
        self._set_busy(True)

    def render_now(self) -> None:
        """Start a render of the current state immediately, superseding any older one."""
        self.timer.stop()
        state = self.state()
        if state is None or not self.viewer.has_image:
            self._set_busy(bool(self.jobs))
            return
        request = self._request(state)
        if self.latest is not None and request == replace(self.latest, generation=0):
            # Nothing changed (e.g. a resize that kept the same scale): the newest job stands.
            self._set_busy(any(not j.cancelled for j in self.jobs))
            return
        self.cancel_all()
        self.generation += 1
        request = replace(request, generation=self.generation)
        self.latest = request
        job = Job(
            lambda token, progress: render_preview_layers(request, self.cache, token, progress),
            name=f"preview {request.generation}",
        )
        job.payload = request
        job.on_done(self._done)
        self.jobs.append(job)
        self._set_busy(True)
        job.start(self.pool)

    def cancel_all(self) -> None:
        """Cancel every pending or running preview (they report back as cancelled)."""
        self.timer.stop()
        for job in self.jobs:
            job.cancel()

    def reset(self) -> None:
        """Forget what is on screen (a new photo): the next request always renders."""
        self.cancel_all()
        self.latest = None
        self.base_key = None

    def _request(self, state: PreviewState) -> PreviewRequest:
        frame = state.frame
        network = state.model != CLASSICAL
        region = None
        if not self.viewer.shows_whole_image():
            seen = self.viewer.visible_image_rect()
            rect = (seen.top(), seen.left(), seen.height(), seen.width())
            region = sensor_region(
                rect, frame.visible_height, frame.visible_width, frame.orientation
            )
        area = region or (0, 0, frame.visible_height, frame.visible_width)
        # The rendered area's size on screen in device pixels: no point rendering more (and
        # never more than one pixel per sensor pixel, which is all the data there is).
        device_scale = self.viewer.scale * self.viewer.devicePixelRatioF()
        screen_side = max(area[2], area[3]) * min(device_scale, 1.0)
        max_side = max(64, min(math.ceil(screen_side), max(self.viewer.pane_device_size())))
        preview_model = preview_model_for(state.model, state.device_is_cpu, state.model_dirs)
        if network and state.device_is_cpu:
            cheap = architecture_of(preview_model, state.model_dirs) in SELF_PREVIEW_ARCHITECTURES
            budget = CPU_PREVIEW_MODEL_PIXELS if cheap else CPU_NETWORK_PIXELS
            max_side = min(max_side, network_side(area, budget))
        key = (id(frame), state.ratio, state.model, state.device, state.before_ratio,
               state.amount)  # fmt: skip
        base_side = None
        if region is not None and self.base_key != key:
            base_side = min(BASE_SIDE, max_side)
        return PreviewRequest(
            frame=frame,
            ratio=state.ratio,
            model=state.model,
            device=state.device,
            model_dirs=state.model_dirs,
            before_ratio=state.before_ratio,
            region=region,
            max_side=max_side,
            base_side=base_side,
            generation=0,  # numbered when it is actually started
            preview_model=preview_model,
            amount=state.amount,
        )

    def _done(self, job: Job, outcome: JobOutcome) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        request: PreviewRequest = job.payload
        current = request.generation == self.generation and not job.cancelled
        if current and outcome.status == "ok":
            result = outcome.result
            if result.base is not None:
                self.viewer.set_base(result.base.before, result.base.after, result.base.rect)
                self.base_key = (
                    id(request.frame), request.ratio, request.model, request.device,
                    request.before_ratio, request.amount,
                )  # fmt: skip
            if result.detail is not None:
                self.viewer.set_detail(
                    result.detail.before, result.detail.after, result.detail.rect
                )
            else:
                self.viewer.clear_detail()
            self.shown.emit(result)
        elif current and outcome.status == "error":
            self.latest = None  # let the same request be retried after the user fixes things
            self.failed.emit(error_message(outcome.error))
        elif current:  # cancelled though newest (window closing): allow a later retry
            self.latest = None
        self._set_busy(self.timer.isActive() or any(not j.cancelled for j in self.jobs))

    def _set_busy(self, busy: bool) -> None:
        if busy != self.busy:
            self.busy = busy
            self.busyChanged.emit(busy)
