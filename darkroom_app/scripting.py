"""The window's scripting API: what scripts, tests and accessibility tools call.

Every call acts through the same paths as the user's clicks (the session, the controls, the
engine jobs); the blocking ones wait in a local event loop, so the window keeps painting.
Widgets a script may look up carry objectNames (``openAction``, ``exportAction``,
``openFolderAction``, ``filmStrip``, ``exposureSlider``, ``amountSlider``, ``modelCombo``,
``copySettingsAction``, ``pasteSettingsAction``, ...).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QEventLoop, QTimer

from engine.io import ExportOptions
from engine.render import CLASSICAL

if TYPE_CHECKING:
    from .exporter import Exporter
    from .folder_controls import FolderControls
    from .loader import PhotoLoader
    from .preview import PreviewController
    from .session import Session
    from .view_controls import ViewControls
    from .viewer import BeforeAfterView
    from .window_ui import WindowUi


class ScriptingApi:
    """Mixed into :class:`~darkroom_app.main_window.MainWindow`."""

    if TYPE_CHECKING:
        loader: PhotoLoader
        session: Session
        ui: WindowUi
        view_controls: ViewControls
        viewer: BeforeAfterView
        preview: PreviewController
        exporter: Exporter
        folders: FolderControls

    def open_path(self, path: str | Path, wait: bool = False) -> bool:
        """Load a RAW file in the background; the current photo stays until it succeeds.

        Args:
            wait: block (in a local event loop) until it is loaded or has failed.

        Returns:
            With ``wait``, whether the photo is now current; else True (loading started).
        """
        job = self.loader.open(str(path))
        if not wait:
            return True
        self.wait_for_load()
        ok = job.outcome is not None and job.outcome.status == "ok"
        return ok and self.session.path == str(path)

    def wait_for_load(self) -> None:
        """Block in a local event loop while a photo is loading."""
        self.loader.wait()

    def set_ratio(self, ratio: float) -> float:
        """Set the exposure ratio (x1..x1000) as if typed; returns the value used."""
        return self.ui.exposure.set_ratio(ratio)

    def set_model(self, name: str) -> bool:
        """Select a listed model by name (``"none"`` = classical); False (and the selection
        unchanged) if the selector does not list it."""
        self.session.set_model(name)
        return self.session.model == (name or CLASSICAL)

    def set_split_mode(self, mode: str) -> None:
        """``"wipe"``, ``"side"`` or ``"after"`` (see :class:`ViewControls`)."""
        self.view_controls.set_split_mode(mode)

    def set_before_mode(self, mode: str) -> None:
        """``"same"`` (classical at the same ratio) or ``"x1"`` (as the camera recorded)."""
        self.view_controls.set_before_mode(mode)

    def export_to(self, path: str | Path, format: str = "jpeg", bits: int = 8,
                  quality: int = 95, keep_metadata: bool = True,
                  overwrite: bool = False) -> Path:  # fmt: skip
        """Blocking export of the current photo (scripts and tests).

        Returns:
            The written file.

        Raises:
            DarkroomError: no photo, or the export failed (nothing partial is left).
            Cancelled: :meth:`cancel_render` was called meanwhile.
        """
        options = ExportOptions(format, bits, quality, keep_metadata, overwrite)
        self.wait_for_load()  # export what the script just opened, not the photo before it
        return self.exporter.export_to(Path(path), options)

    def set_amount(self, amount: float) -> float:
        """Set the Amount, 0-1 (0: the classical render, 1: the model's); returns it."""
        self.session.set_amount(amount)
        return self.session.amount

    def set_zoom(self, zoom: float) -> None:
        """Zoom to ``zoom`` (1.0 = 100 %: one photo pixel per screen pixel), keeping the
        centre of the view still."""
        self.viewer.set_zoom(float(zoom) / self.viewer.devicePixelRatioF())

    def visible_region(self) -> tuple[int, int, int, int]:
        """``(x, y, width, height)`` of the photo on screen, in its pixels after orientation."""
        return self.viewer.visible_region()

    def after_image(self) -> np.ndarray:
        """The "after" side as drawn now: the :meth:`visible_region` at the current zoom,
        ``(H, W, 3)`` uint8 (no labels, no split line)."""
        return self.viewer.side_pixels("after")

    def wait_until_rendered(self, timeout: float = 30.0) -> bool:
        """Wait (in a local event loop) until the chosen model's own render of the current
        view is on screen (not a stand-in, nothing pending); False after ``timeout`` s."""
        self.loader.wait()
        deadline = time.monotonic() + timeout
        loop, timer = QEventLoop(), QTimer()

        def check() -> None:
            if self.preview.is_rendered() or time.monotonic() > deadline:
                loop.quit()

        timer.timeout.connect(check)
        timer.start(10)  # a sleeping loop: a busy one would take a core from the renderer
        if not self.preview.is_rendered():
            loop.exec()
        timer.stop()
        return self.preview.is_rendered()

    def current_settings(self) -> dict[str, Any]:
        """The current photo's settings: ``ratio``, ``model`` (``"none"`` = classical),
        ``amount`` (0-1) and ``before`` (``"same"`` or ``"x1"``)."""
        session = self.session
        return {
            "ratio": session.ratio,
            "model": session.model,
            "amount": session.amount,
            "before": "x1" if self.view_controls.before_x1 else "same",
        }

    def open_folder(self, folder: str | Path) -> list[str]:
        """Show ``folder``'s RAW files in the filmstrip and wait until its first photo (or the
        current one, when it is in the folder) is loaded; returns the files (none: a dialog
        said why)."""
        files = self.folders.open_folder(folder)
        self.loader.wait()
        return files

    def next_photo(self, step: int = 1) -> str | None:
        """Open the next photo of the folder (``step`` -1: the previous) and wait until it is
        loaded; returns its path, or None at the end of the folder."""
        path = self.folders.step(step)
        self.loader.wait()
        return path

    def copy_settings(self) -> dict[str, Any]:
        """Edit ▸ Copy Settings; returns what was copied, as its settings file holds it
        (``ratio``, ``model``, ``amount``, ``before``, plus ``format`` and ``version``)."""
        return self.folders.keeper.copy().to_dict()

    def paste_settings(self, others: list[str] | None = None) -> int:
        """Edit ▸ Paste Settings to the current photo and ``others`` (the filmstrip's selection
        when None); returns how many photos got them."""
        chosen = self.ui.filmstrip.selected_paths() if others is None else others
        return self.folders.keeper.paste([str(p) for p in chosen])
