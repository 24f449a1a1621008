"""Measure live-preview latency of the Darkroom window "after the slider stops".

    QT_QPA_PLATFORM=offscreen python tools/bench_preview.py [--repeat 5] [--network-pixels N ...]

Builds the real main window (offscreen), opens a synthetic 12 MP DNG (4256 x 2848, the Sony
A7S II size the SID dataset used), sizes the viewer to 1600 x 1000 px in fit view, then for
each model simulates a slider drag (a burst of ``set_ratio`` calls 16 ms apart) and times from
the *last* ``set_ratio`` call until ``previewReady`` for that ratio: debounce + render of the
before/after proxies + conversion + display. Reports the median of ``--repeat`` drags after one
warm-up (the warm-up loads the model).

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


def measure(window, model: str, repeat: int) -> tuple[list[float], list[float], str]:  # type: ignore[no-untyped-def]
    """Latencies (s) and in-worker render times (s) for ``repeat`` drags, plus output size."""
    shown: list[tuple[float, float]] = []
    window.previewReady.connect(lambda ratio: shown.append((time.perf_counter(), ratio)))

    def drag_to(target: float) -> float:
        start = window.session.ratio
        for i in range(1, 6):  # five slider ticks, like a short drag
            window.set_ratio(start + (target - start) * i / 5)
            t_last = time.perf_counter()
            if i < 5:
                wait_until(lambda t=t_last: time.perf_counter() - t > 0.016)
        wait_until(lambda: bool(shown) and abs(shown[-1][1] - round(target, 1)) < 1e-6)
        return shown[-1][0] - t_last

    if not window.set_model(model):
        raise SystemExit(f"model {model!r} is not listed in the window")
    wait_until(lambda: window.last_preview and window.last_preview.request.model == model)
    drag_to(30.0)  # warm-up: first use of the model (weights loaded, allocator warmed)
    latencies, renders = [], []
    for target in (60.0, 120.0, 80.0, 200.0, 100.0, 150.0, 90.0, 250.0)[:repeat]:
        latencies.append(drag_to(target))
        renders.append(window.last_preview.seconds)
    layer = window.last_preview.base
    size = f"{layer.after.width()}x{layer.after.height()}"
    return latencies, renders, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--network-pixels",
        type=int,
        action="append",
        help="override preview.CPU_NETWORK_PIXELS (repeatable, to compare settings)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="darkroom-bench-") as tmp:
        run(Path(tmp), args.repeat, args.network_pixels)


def run(work: Path, repeat: int, network_pixels: list[int] | None) -> None:
    """Benchmark in ``work`` (a temporary folder) and print the table."""
    from PySide6.QtCore import QSettings

    import darkroom_app.preview as preview
    from darkroom_app import create_window
    from darkroom_app.settings import AppSettings
    from engine.io import write_synthetic_dng
    from engine.models import DEFAULT_MODEL

    dng = write_synthetic_dng(work / "frame12mp.dng")
    models = work / "models"
    make_untrained(models)
    settings = AppSettings(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    settings.user_models_dir = models
    window = create_window(["darkroom", str(dng)], settings.store)
    window.set_split_mode("wipe")
    window.show()
    size_viewer(window, *VIEWER)
    wait_until(lambda: window.last_preview is not None)

    viewer = f"{window.viewer.width()}x{window.viewer.height()}"
    print(f"viewer {viewer} px (fit view), image 4256x2848, device {window.session.device_label}, "
          f"debounce {preview.DEBOUNCE_MS} ms")  # fmt: skip
    print(f"'{UNTRAINED}' is an UNTRAINED baseline U-Net: used for timing only.\n")
    header = f"{'model':<22}{'max_side':>9}{'proxy px':>11}{'median s':>10}{'min s':>8}"
    header += f"{'max s':>8}{'render s':>10}  <= {TARGET_S:g} s"
    print(header)
    print("-" * len(header))
    frame = (0, 0, 2848, 4256)
    rows = [("none", preview.CPU_NETWORK_PIXELS), (DEFAULT_MODEL, preview.CPU_NETWORK_PIXELS)]
    for pixels in network_pixels or [preview.CPU_NETWORK_PIXELS]:
        rows.append((UNTRAINED, pixels))
    for model, pixels in rows:
        preview.CPU_NETWORK_PIXELS = pixels
        lat, renders, size = measure(window, model, repeat)
        med = statistics.median(lat)
        shown_side = "screen" if model == "none" else str(preview.network_side(frame))
        ok = "yes" if med <= TARGET_S else "NO"
        print(f"{model:<22}{shown_side:>9}{size:>11}{med:>10.3f}{min(lat):>8.3f}"
              f"{max(lat):>8.3f}{statistics.median(renders):>10.3f}  {ok}")  # fmt: skip
        window.set_model("none")
    window.close()


if __name__ == "__main__":
    main()
