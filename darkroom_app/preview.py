"""Live preview scheduling: debounce, passes, newest-request-wins, cancellation.

Every change that affects the picture (ratio, model, Amount, before mode, zoom, pan, resize)
calls :meth:`PreviewController.schedule`, which (re)starts an ~80 ms single-shot timer: a burst
of slider ticks becomes one render once the handle rests. When the timer fires, the window's
state becomes a list of passes (:func:`plan_passes`), all of one new generation:

1. on a CPU, when the chosen network is slow, a *stand-in*: the ``fast`` network at a reduced
   size, on screen within a fraction of a second, labelled as such;
2. the *true* render: the chosen model on what is visible, at the screen's resolution (the
   whole photo binned to the viewer's size when fitted; the visible region at full resolution
   at 100 %, which is the export's own pixels);
3. when zoomed in, the whole photo around the view (seen while panning), once per look.

Passes run one after another on a one-thread pool; each is shown as it arrives. A new
generation cancels every older pass (they stop at the engine's next checkpoint, or skip if
still queued) and a result of an older generation is dropped, so an old render never
overwrites a newer one. :meth:`PreviewController.is_rendered` says when the true render of
the current state is on screen.
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
from .preview_render import SURROUND, VIEW, PreviewRequest, PreviewResult, render_preview_pass
from .session import EnhancerCache
from .viewer import BeforeAfterView
from .workers import Job, JobOutcome, error_message

DEBOUNCE_MS = 80
#: Output pixels of a stand-in on a CPU: the ``fast`` network takes about 0.3 s for half a
#: megapixel on two cores (a 12 MP frame binned 5x), so something close to the chosen look
#: is on screen quickly while a slower network renders the true view.
CPU_STAND_IN_PIXELS = 500_000
#: The network that stands in for slower ones on a CPU, when it has weights.
CPU_STAND_IN_MODEL = "fast"
#: Architectures fast enough on a CPU to need no stand-in: ``fast`` and the photographer's
#: fine-tunes of it.
SELF_PREVIEW_ARCHITECTURES = frozenset({"fast"})
#: Longer side of the whole-photo layer drawn around a zoomed-in view, and how long after the
#: true view it waits for the user to pause.
SURROUND_SIDE = 1024
SURROUND_DELAY_MS = 400


def network_side(region: tuple[int, int, int, int], pixels: int = CPU_STAND_IN_PIXELS) -> int:
    """``max_side`` that keeps a render of ``region`` within ``pixels`` output pixels."""
    _, _, height, width = region
    return max(64, int(max(height, width) * math.sqrt(pixels / (height * width))))


@functools.lru_cache(maxsize=1)
def stand_in_available() -> bool:
    """Whether the bundled :data:`CPU_STAND_IN_MODEL` has weights (checked once)."""
    return any(e.name == CPU_STAND_IN_MODEL and e.has_weights for e in model_entries())


@functools.lru_cache(maxsize=64)
def architecture_of(model: str, model_dirs: tuple[Path, ...] = ()) -> str | None:
    """The architecture of the model of that name (bundled or in ``model_dirs``), or None."""
    for entry in model_entries(list(model_dirs)):
        if entry.name == model:
            return entry.architecture
    return None


def stand_in_for(model: str, device_is_cpu: bool, model_dirs: tuple[Path, ...] = ()) -> str | None:
    """The model drawn first while ``model`` renders, or None when ``model`` is quick enough
    to draw the view itself (the classical render, any model on a GPU, the ``fast``
    architecture, or a CPU without the stand-in's weights)."""
    if not device_is_cpu or model == CLASSICAL or model == CPU_STAND_IN_MODEL:
        return None
    if architecture_of(model, model_dirs) in SELF_PREVIEW_ARCHITECTURES:
        return None
    return CPU_STAND_IN_MODEL if stand_in_available() else None


def viewer_labels(
    ratio: float,
    model: str,
    before_x1: bool,
    amount: float = 1.0,
    stand_in: str | None = None,
) -> tuple[str, str]:
    """The viewer's "before" and "after" captions.

    Args:
        stand_in: the model whose render is on screen in place of ``model`` (None: the
            chosen model's own render, or nothing yet): the caption says so until the true
            render replaces it, and says nothing once it has.
    """
    before = "Before · as recorded ×1" if before_x1 else f"Before · classical ×{ratio:g}"
    name = "classical" if model == CLASSICAL else model
    dose = f" · {round(amount * 100)} %" if model != CLASSICAL and amount < 1 else ""
    note = f" (showing {stand_in} until {name} is ready)" if stand_in else ""
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


def look_key(look: PreviewState | PreviewRequest) -> tuple:
    """What decides a render's pixels, apart from where the view looks."""
    return (id(look.frame), look.ratio, look.model, look.device, look.before_ratio,
            look.amount)  # fmt: skip


@dataclass(frozen=True)
class ViewGeometry:
    """Where the viewer looks: the sensor region (None: the whole photo, fitted), and the
    longer side the view's render needs (its size on screen in device pixels; the region's own
    side from 100 % up)."""

    region: tuple[int, int, int, int] | None
    max_side: int


def plan_passes(
    state: PreviewState, view: ViewGeometry, with_surround: bool
) -> list[PreviewRequest]:
    """The passes that bring ``state`` on screen, in order (see the module docstring)."""
    frame = state.frame
    true_view = PreviewRequest(
        frame=frame,
        ratio=state.ratio,
        model=state.model,
        device=state.device,
        model_dirs=state.model_dirs,
        before_ratio=state.before_ratio,
        region=view.region,
        max_side=view.max_side,
        generation=0,  # numbered when the passes start
        amount=state.amount,
    )
    stand_in = stand_in_for(state.model, state.device_is_cpu, state.model_dirs)
    area = view.region or (0, 0, frame.visible_height, frame.visible_width)
    passes = []
    if stand_in is not None:
        side = min(view.max_side, network_side(area))
        passes.append(replace(true_view, preview_model=stand_in, max_side=side))
    surround = None
    if with_surround:
        surround = replace(true_view, region=None, role=SURROUND, preview_model=stand_in,
                           max_side=min(SURROUND_SIDE, view.max_side))  # fmt: skip
    if surround is not None and stand_in is not None:
        passes.append(surround)  # quick; the true view may take seconds
    passes.append(true_view)
    if surround is not None and stand_in is None:
        passes.append(surround)
    return passes


class PreviewController(QObject):
    """Turns window state into preview passes and their results into viewer layers.

    Signals:
        busyChanged(bool): a preview is pending or rendering / all caught up.
        shown(object): a :class:`~darkroom_app.preview_render.PreviewResult` of the view
            (stand-in or true) was put on screen.
        rendered(object): the true render of the current view is on screen (its result).
        failed(str): the newest preview failed (e.g. a model could not be loaded).
    """

    busyChanged = Signal(bool)
    shown = Signal(object)
    rendered = Signal(object)
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
        self.surround_timer = QTimer(self)
        self.surround_timer.setSingleShot(True)
        self.surround_timer.setInterval(SURROUND_DELAY_MS)
        self.surround_timer.timeout.connect(self._start_pass)
        self.generation = 0
        self.jobs: list[Job] = []  # started and not yet reported back
        self.pending: list[PreviewRequest] = []  # passes of this generation not yet started
        self.latest: PreviewRequest | None = None  # the current generation's true view pass
        self.surround_key: tuple | None = None  # what the viewer's whole-photo layer shows
        self.on_screen: PreviewResult | None = None  # the view layer the viewer shows
        self.busy = False

    # -- what is on screen -----------------------------------------------------------------

    @property
    def stand_in_on_screen(self) -> str | None:
        """The model drawing the view in place of the chosen one, while it renders."""
        shown = self.on_screen
        return shown.request.drawn_by if shown is not None and shown.request.is_stand_in else None

    def is_rendered(self) -> bool:
        """Whether the chosen model's own render of the current state is on screen."""
        shown = self.on_screen
        return (
            not self.timer.isActive()
            and self.latest is not None
            and shown is not None
            and shown.request == self.latest
        )

    # -- scheduling ------------------------------------------------------------------------

    def schedule(self) -> None:
        """Render soon: restarts the debounce timer."""
        self.timer.start()
        self._set_busy(True)

    def render_now(self) -> None:
        """Start the passes of the current state immediately, superseding older ones."""
        self.timer.stop()
        state = self.state()
        if state is None or not self.viewer.has_image:
            self._set_busy(bool(self.jobs))
            return
        view = self._view_geometry(state.frame)
        stale = self.surround_key != look_key(state)
        passes = plan_passes(state, view, view.region is not None and stale)
        true_view = next(p for p in passes if p.role == VIEW and not p.is_stand_in)
        if self.latest is not None and true_view == replace(self.latest, generation=0):
            # Nothing changed (e.g. a resize that kept the same scale): the newest passes stand.
            self._set_busy(self._has_work())
            return
        self.cancel_all()
        self.generation += 1
        self.pending = [replace(p, generation=self.generation) for p in passes]
        self.latest = replace(true_view, generation=self.generation)
        self._set_busy(True)
        self._start_next()

    def cancel_all(self) -> None:
        """Cancel every pending or running pass (they report back as cancelled)."""
        self.timer.stop()
        self.surround_timer.stop()
        self.pending = []
        for job in self.jobs:
            job.cancel()

    def reset(self) -> None:
        """Forget what is on screen (a new photo): the next request always renders."""
        self.cancel_all()
        self.latest = None
        self.surround_key = None
        self.on_screen = None

    def _view_geometry(self, frame: RawFrame) -> ViewGeometry:
        region = None
        if not self.viewer.shows_whole_image():
            seen = self.viewer.visible_image_rect()
            rect = (seen.top(), seen.left(), seen.height(), seen.width())
            region = sensor_region(
                rect, frame.visible_height, frame.visible_width, frame.orientation
            )
        area = region or (0, 0, frame.visible_height, frame.visible_width)
        longest = max(area[2], area[3])
        device_scale = self.viewer.scale * self.viewer.devicePixelRatioF()
        if device_scale >= 0.999:
            # 100 % and closer: every sensor pixel, which is all the data there is (and the
            # export's own pixels).
            return ViewGeometry(region, longest)
        # The area's size on screen in device pixels: no point rendering more.
        screen_side = math.ceil(longest * device_scale)
        return ViewGeometry(region, max(64, min(screen_side, max(self.viewer.pane_device_size()))))

    def _start_next(self) -> None:
        if not self.pending:
            return
        if self.pending[0].role == SURROUND and self.is_rendered():
            # The true view is up: the whole photo can wait until the user pauses (a network
            # pass cannot stop half-way, and the next slider move would wait for it).
            if not self.surround_timer.isActive():
                self.surround_timer.start()
            return
        self._start_pass()

    def _start_pass(self) -> None:
        if not self.pending:
            return
        request = self.pending.pop(0)
        job = Job(
            lambda token, progress: render_preview_pass(request, self.cache, token, progress),
            name=f"preview {request.generation} {request.role} {request.drawn_by}",
        )
        job.payload = request
        job.on_done(self._done)
        self.jobs.append(job)
        job.start(self.pool)

    def _done(self, job: Job, outcome: JobOutcome) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        request: PreviewRequest = job.payload
        current = request.generation == self.generation and not job.cancelled
        if current and outcome.status == "ok":
            self._show(outcome.result)
            self._start_next()
        elif current and outcome.status == "error" and request != self.latest:
            self._start_next()  # a stand-in or the surround failed: the true view still comes
        elif current and outcome.status == "error":
            self.latest = None  # let the same request be retried after the user fixes things
            self.pending = []
            self.failed.emit(error_message(outcome.error))
        elif current:  # cancelled though newest (window closing): allow a later retry
            self.latest = None
            self.pending = []
        self._set_busy(self._has_work())

    def _show(self, result: PreviewResult) -> None:
        request, layer = result.request, result.layer
        if request.role == SURROUND:
            self.viewer.set_base(layer.before, layer.after, layer.rect)
            self.surround_key = look_key(request)
            return
        if request.region is None:
            self.viewer.set_base(layer.before, layer.after, layer.rect)
            self.viewer.clear_detail()
            self.surround_key = look_key(request)  # the whole photo, for a zoom that follows
        else:
            self.viewer.set_detail(layer.before, layer.after, layer.rect)
        self.on_screen = result
        self.shown.emit(result)
        if request == self.latest:
            self.rendered.emit(result)

    def _has_work(self) -> bool:
        """A render is scheduled, waiting to start, or running (and not cancelled)."""
        return (self.timer.isActive() or bool(self.pending)
                or any(not job.cancelled for job in self.jobs))  # fmt: skip

    def _set_busy(self, busy: bool) -> None:
        if busy != self.busy:
            self.busy = busy
            self.busyChanged.emit(busy)
