"""Screenshots of the window's features from a real X11 window (issue 20), for review.

    xvfb-run -a -s "-screen 0 1280x800x24" python tools/screenshot_features.py OUT_DIR \
        [--folder ../shared/data/real-raw] [--slow-model baseline]

Drives the window through its scripting API (the calls tests use) and grabs the X server's
screen after each step: the stand-in and the true render of a slow model, the 100 % view, a
folder in the filmstrip, Export Selected Photos, the Edit menu, the shortcuts list, and a photo
reopened with its own settings. Settings and sidecars go to temporary folders (the photos'
folder gets no sidecar: the files are copied first).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--folder", type=Path, default=Path("../shared/data/real-raw"))
    parser.add_argument("--slow-model", default="baseline")
    args = parser.parse_args()
    if "DISPLAY" not in os.environ:
        sys.exit("screenshot_features: needs an X display (run under xvfb-run)")
    work = Path(tempfile.mkdtemp(prefix="darkroom-shots-"))
    os.environ["DARKROOM_DATA_DIR"] = str(work / "data")
    photos = work / "photos"
    photos.mkdir()
    for raw in sorted(args.folder.iterdir()):
        if raw.is_file() and raw.suffix.lower() not in (".md", ".txt"):
            shutil.copy2(raw, photos / raw.name)

    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(work))
    from darkroom_app import create_window
    from engine.resources import sample_raw_path

    args.out.mkdir(parents=True, exist_ok=True)
    window = create_window([])
    window.resize(1280, 800)
    window.move(0, 0)
    window.show()
    app = QApplication.instance()

    def settle(ms: int = 800) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def shot(name: str) -> None:
        settle()
        path = args.out / f"{name}.png"
        app.primaryScreen().grabWindow(0).save(str(path))
        print(f"wrote {path}", flush=True)

    window.open_path(sample_raw_path(), wait=True)
    window.set_split_mode("wipe")
    window.wait_until_rendered(120)
    shot("01-sample-default-fast-fit")

    # A slow model on a CPU: fast stands in, labelled, until the model's own render is there.
    stand_in: list[int] = []

    def grab_stand_in() -> None:
        if not window.preview.is_rendered():  # still the stand-in, now painted
            app.primaryScreen().grabWindow(0).save(str(args.out / "02-stand-in.png"))
            print("wrote stand-in", flush=True)

    def on_shown(_ratio: float) -> None:
        if not stand_in and not window.preview.is_rendered():
            stand_in.append(1)
            QTimer.singleShot(150, grab_stand_in)

    window.previewReady.connect(on_shown)
    window.set_model(args.slow_model)
    window.wait_until_rendered(300)
    window.previewReady.disconnect(on_shown)
    shot("03-true-render-after-stand-in")

    window.set_model("fast")
    window.set_zoom(1.0)
    window.wait_until_rendered(120)
    shot("04-100-percent-true-view")

    files = window.open_folder(photos)
    window.wait_until_rendered(120)
    strip = window.ui.filmstrip
    loop = QEventLoop()
    timer = QTimer()
    timer.timeout.connect(lambda: strip.thumbnails_done() and loop.quit())
    timer.start(50)
    loop.exec()
    shot("05-folder-filmstrip")
    window.next_photo()
    window.wait_until_rendered(120)
    window.set_ratio(2.0)
    window.set_amount(0.5)
    window.wait_until_rendered(120)
    shot("06-second-photo-own-settings")

    for i in range(strip.count()):
        strip.item(i).setSelected(True)
    window.folders.export_selected()
    shot("07-export-selected-dialog")
    if window.exporter.dialog is not None:
        window.exporter.dialog.reject()
    from engine.io import ExportOptions

    out = work / "exports"
    out.mkdir()
    window.exporter.start_batch(strip.selected_paths(), out, ExportOptions("jpeg"),
                                window.keeper.settings_of)  # fmt: skip
    settle(2500)
    shot("07b-export-selected-progress")
    window.exporter.wait()
    shot("07c-export-selected-done")
    print(f"exported: {sorted(p.name for p in out.iterdir())}", flush=True)

    window.next_photo(-1)
    window.wait_until_rendered(120)
    window.next_photo()  # back: it reopens with x2 and 50 % (its sidecar)
    window.wait_until_rendered(120)
    shot("08-reopened-with-its-settings")

    edit = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    window.set_ratio(4.0)
    settle(300)
    QTimer.singleShot(100, lambda: edit.popup(window.mapToGlobal(window.menuBar().geometry()
                                                                 .bottomLeft())))  # fmt: skip
    shot("09-edit-menu-undo-copy-paste")
    edit.close()

    window.ui.shortcuts_action.trigger()
    shot("10-keyboard-shortcuts")
    print(f"files: {len(files)} in the folder; settings in {work / 'data'}")
    window.close()


if __name__ == "__main__":
    main()
