"""Take the README screenshot from the app in a real X11 window.

    xvfb-run -s "-screen 0 1280x800x24" python tools/screenshot.py docs/screenshot.png \
        --model fast --ratio 100 [--amount 60]

Opens the bundled sample (or ``--file``) in wipe mode (before = as recorded, x1), waits for the
preview, then grabs the X server's root window, i.e. what a user's screen shows. ``--actual``
zooms to 100 % and ``--corner top-right`` (etc.) pans that corner of the picture into view.
Settings go to a temporary file so a developer's own settings are untouched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", default="fast")
    parser.add_argument("--amount", type=float, default=100.0, help="Amount, percent")
    parser.add_argument("--ratio", type=float, default=100.0)
    parser.add_argument("--before", default="x1", help="before mode: x1 or same")
    parser.add_argument("--file", type=Path, help="a RAW file instead of the bundled sample")
    parser.add_argument("--actual", action="store_true", help="100 %% zoom instead of fit")
    corners = ("top-left", "top-right", "bottom-left", "bottom-right")
    parser.add_argument("--corner", choices=corners, help="pan to this corner of the picture")
    args = parser.parse_args()
    if "DISPLAY" not in os.environ:
        sys.exit("screenshot: needs an X display (run under xvfb-run)")

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    from darkroom_app import create_window
    from engine.resources import sample_raw_path

    window = create_window([])
    window.resize(1280, 800)
    window.move(0, 0)
    window.show()
    window.open_path(args.file or sample_raw_path(), wait=True)
    if not window.set_model(args.model):
        sys.exit(f"screenshot: model {args.model!r} is not available")
    window.set_split_mode("wipe")
    window.set_before_mode(args.before)
    window.session.set_amount(args.amount / 100.0)
    app = QApplication.instance()
    shots: list[int] = []

    framed: list[int] = []

    def grab(_ratio: float | None = None) -> None:
        if (args.actual or args.corner) and not framed:
            # Zoom and pan once the window has its final size; the next preview is the shot.
            framed.append(1)
            if args.actual:
                window.viewer.zoom_actual()
            if args.corner:
                _pan_to_corner(window.viewer, args.corner)
            # A photo already shown at full resolution needs no new preview: shoot anyway,
            # once nothing is rendering.
            QTimer.singleShot(20_000, lambda: None if window.preview.busy else grab())
            return
        if shots:
            return
        shots.append(1)
        # Let the last paint reach the X server before grabbing the screen.
        QTimer.singleShot(1500, lambda: (
            app.primaryScreen().grabWindow(0).save(str(args.out)), window.close(), app.quit()
        ))  # fmt: skip

    window.previewReady.connect(grab)
    window.set_ratio(args.ratio)
    QTimer.singleShot(120_000, app.quit)  # never hang a script
    app.exec()
    print(f"wrote {args.out}" if args.out.exists() else "screenshot: no preview arrived")


def _pan_to_corner(viewer: object, corner: str) -> None:
    """Move the view so the picture's ``corner`` sits in the same corner of the pane."""
    seen = viewer.visible_image_rect()  # type: ignore[attr-defined]
    width, height = viewer.image_size  # type: ignore[attr-defined]
    scale = viewer.scale  # type: ignore[attr-defined]
    dx = -(width - seen.right()) if "right" in corner else seen.left()
    dy = -(height - seen.bottom()) if "bottom" in corner else seen.top()
    viewer.pan_by(dx * scale, dy * scale)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
