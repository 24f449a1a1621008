"""Measure live-preview latency of the Darkroom window "after the slider stops".

    QT_QPA_PLATFORM=offscreen python tools/bench_preview.py [--repeat 5] [--viewer 1600x1000]
        [--models none,fast,...]

Builds the real main window (offscreen), opens a synthetic 12 MP DNG (4256 x 2848, the Sony
A7S II size the SID dataset used), sizes the viewer (1600 x 1000 px by default), then for each
model, in the fit view and at 100 %, simulates slider drags (bursts of ``set_ratio`` calls 16 ms
apart) and times from the *last* ``set_ratio`` call until the first picture of that ratio is on
screen (``previewReady``: a stand-in for slow networks on a CPU) and until the chosen model's own
render is (``previewRendered``): debounce + render of the before/after pair + display. Reports
medians of ``--repeat`` drags after one warm-up (the warm-up loads the model).

Models: the classical pipeline, and a *randomly initialised* ``baseline`` U-Net saved to a
temporary folder. Its output is meaningless (it is untrained); it is used for timing only,
since a network's speed does not depend on its weights' values.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

VIEWER = (1600, 1000)
TARGET_S = 1.0
UNTRAINED = "untrained-baseline"


def make_untrained(folder: Path) -> None:
    import torch

    from engine.models import ModelCard, create_model, save_model

    torch.manual_seed(0)
    model = create_model("baseline")
    card = ModelCard(
        name=UNTRAINED,
        architecture="baseline",
        config=dict(getattr(model, "config", {})),
        notes="randomly initialised; for timing only",
    )
    save_model(model, card, folder / f"{UNTRAINED}.safetensors")


def wait_until(predicate, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    """Run the event loop until ``predicate()``; the loop sleeps between 2 ms checks.

    (A busy ``processEvents`` loop would take a whole core from the renderer on a 2-core
    machine and distort the measurement.)
    """
    from PySide6.QtCore import QEventLoop, QTimer

    if predicate():
        return
    loop, timer = QEventLoop(), QTimer()
    deadline = time.perf_counter() + timeout

    def check() -> None:
        if predicate() or time.perf_counter() > deadline:
            loop.quit()

    timer.timeout.connect(check)
    timer.start(2)
    loop.exec()
    timer.stop()
    if not predicate():
        raise TimeoutError("the window did not answer in time")


def size_viewer(window, width: int, height: int) -> None:  # type: ignore[no-untyped-def]
    """Resize the window so its viewer is ``width`` x ``height``."""
    from PySide6.QtCore import QCoreApplication

    for _ in range(4):
        QCoreApplication.processEvents()
        dw, dh = width - window.viewer.width(), height - window.viewer.height()
        if not dw and not dh:
            return
        window.resize(window.width() + dw, window.height() + dh)
    QCoreApplication.processEvents()


def measure(window, model: str, view: str, repeat: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Drag the ratio ``repeat`` times in ``view`` ("fit" or "100%"); per drag, seconds from
    the last slider tick to the first picture of the new ratio (a stand-in or the true
    render) and to the chosen model's own render; plus the true render's size."""
    first: list[float] = []
    true: list[float] = []
    events: list[tuple[str, float, float]] = []
    window.previewReady.connect(lambda r: events.append(("shown", time.perf_counter(), r)))
    window.previewRendered.connect(lambda r: events.append(("true", time.perf_counter(), r)))

    def drag_to(target: float) -> tuple[float, float]:
        start = window.session.ratio
        for i in range(1, 6):  # five slider ticks, like a short drag
            window.set_ratio(start + (target - start) * i / 5)
            t_last = time.perf_counter()
            events.clear()
            if i < 5:
                wait_until(lambda t=t_last: time.perf_counter() - t > 0.016)
        goal = round(target, 1)
        wait_until(lambda: any(k == "true" and abs(r - goal) < 1e-6 for k, _, r in events))
        shown = next(t for k, t, r in events if k == "shown" and abs(r - goal) < 1e-6)
        done = next(t for k, t, r in events if k == "true" and abs(r - goal) < 1e-6)
        return shown - t_last, done - t_last

    if not window.set_model(model):
        raise SystemExit(f"model {model!r} is not listed in the window")
    if view == "fit":
        window.viewer.zoom_fit()
    else:
        window.set_zoom(1.0)
    wait_until(window.preview.is_rendered, timeout=300)
    drag_to(30.0)  # warm-up: first use of the model (weights loaded, allocator warmed)
    for target in (60.0, 120.0, 80.0, 200.0, 100.0, 150.0, 90.0, 250.0)[:repeat]:
        a, b = drag_to(target)
        first.append(a)
        true.append(b)
    after = window.last_preview.after_pixels
    return {"first": first, "true": true, "size": f"{after.shape[1]}x{after.shape[0]}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--viewer", default=f"{VIEWER[0]}x{VIEWER[1]}",
                        help="viewer size in px, WIDTHxHEIGHT")  # fmt: skip
    parser.add_argument("--models", default="none,fast," + UNTRAINED)
    parser.add_argument(
        "--raw",
        type=Path,
        default=None,
        help="a RAW file instead of the synthetic 12 MP DNG (an X-Trans one, say)",
    )
    args = parser.parse_args()
    width, height = (int(v) for v in args.viewer.split("x"))
    with tempfile.TemporaryDirectory(prefix="darkroom-bench-") as tmp:
        run(Path(tmp), args.repeat, (width, height), args.models.split(","), args.raw)


def run(work: Path, repeat: int, viewer: tuple[int, int], models: list[str],
        raw: Path | None = None) -> None:  # fmt: skip
    """Benchmark in ``work`` (a temporary folder) and print the table."""
    from PySide6.QtCore import QSettings

    import darkroom_app.preview as preview
    from darkroom_app import create_window
    from darkroom_app.settings import AppSettings
    from engine.io import write_synthetic_dng

    dng = raw.resolve() if raw is not None else write_synthetic_dng(work / "frame12mp.dng")
    folder = work / "models"
    make_untrained(folder)
    settings = AppSettings(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    settings.user_models_dir = folder
    window = create_window(["darkroom", str(dng)], settings.store)
    window.set_split_mode("wipe")
    window.show()
    size_viewer(window, *viewer)
    wait_until(lambda: window.last_preview is not None)

    print(f"viewer {window.viewer.width()}x{window.viewer.height()} px, image {dng.name}, "
          f"device {window.session.device_label}, debounce {preview.DEBOUNCE_MS} ms, "
          f"{repeat} drags each, medians")  # fmt: skip
    print(f"'{UNTRAINED}' is an UNTRAINED baseline U-Net: used for timing only.\n")
    header = (f"{'model':<22}{'view':>6}{'true px':>11}{'first s':>9}{'true s':>8}"
              f"{'max true s':>11}  true <= {TARGET_S:g} s")  # fmt: skip
    print(header)
    print("-" * len(header))
    for view in ("fit", "100%"):
        for model in models:
            row = measure(window, model, view, repeat)
            first, true = statistics.median(row["first"]), statistics.median(row["true"])
            ok = "yes" if true <= TARGET_S else "NO"
            print(f"{model:<22}{view:>6}{row['size']:>11}{first:>9.3f}{true:>8.3f}"
                  f"{max(row['true']):>11.3f}  {ok}", flush=True)  # fmt: skip
            window.set_model("none")
    window.close()


if __name__ == "__main__":
    main()
