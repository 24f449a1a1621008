"""How the photo is compared and zoomed: split mode, "before" mode and zoom controls.

The same choice can be made in several places (the split-mode combo and the View menu, the
zoom actions and the Fit / 100 % buttons); :class:`ViewControls` keeps them, the viewer and the
settings in step, so the main window only hears what affects the picture it renders.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from .settings import AppSettings
from .window_ui import WindowUi

ZOOM_STEP = 1.25


class ViewControls(QObject):
    """Wires the window's view widgets (see :class:`~darkroom_app.window_ui.WindowUi`).

    Signals:
        beforeModeChanged(str): ``"same"`` (classical at the same ratio) or ``"x1"`` (as the
            camera recorded); the "before" image must be rendered again.
    """

    beforeModeChanged = Signal(str)

    def __init__(self, ui: WindowUi, settings: AppSettings, parent: QObject) -> None:
        super().__init__(parent)
        self.ui, self.settings, self.viewer = ui, settings, ui.viewer
        split = settings.split_mode
        ui.split_combo.setCurrentIndex(max(0, ui.split_combo.findData(split)))
        ui.mode_actions[split].setChecked(True)
        self.viewer.set_mode(split)
        before = ui.before_combo.findData(settings.before_mode)
        ui.before_combo.setCurrentIndex(max(0, before))
        self._connect()

    def _connect(self) -> None:
        ui, viewer = self.ui, self.viewer
        ui.fit_action.triggered.connect(viewer.zoom_fit)
        ui.actual_action.triggered.connect(lambda: viewer.zoom_actual())
        ui.zoom_in_action.triggered.connect(lambda: viewer.set_zoom(viewer.scale * ZOOM_STEP))
        ui.zoom_out_action.triggered.connect(lambda: viewer.set_zoom(viewer.scale / ZOOM_STEP))
        ui.fit_button.clicked.connect(viewer.zoom_fit)
        ui.actual_button.clicked.connect(lambda: viewer.zoom_actual())
        viewer.zoomChanged.connect(self._zoom_changed)
        for key, action in ui.mode_actions.items():
            action.triggered.connect(lambda _=False, k=key: self.set_split_mode(k))
        ui.split_combo.currentIndexChanged.connect(
            lambda _: self.set_split_mode(str(ui.split_combo.currentData()))
        )
        ui.before_combo.currentIndexChanged.connect(self._before_mode_changed)

    @property
    def before_x1(self) -> bool:
        """Whether "before" is the frame as recorded (x1) rather than classical at the ratio."""
        return self.ui.before_combo.currentData() == "x1"

    def set_split_mode(self, mode: str) -> None:
        """``"wipe"``, ``"side"`` or ``"after"``; keeps combo, menu and viewer in step."""
        ui = self.ui
        if ui.split_combo.currentData() != mode:
            ui.split_combo.setCurrentIndex(ui.split_combo.findData(mode))
            return  # the combo's signal comes back here
        ui.mode_actions[mode].setChecked(True)
        self.viewer.set_mode(mode)
        self.settings.split_mode = mode

    def set_before_mode(self, mode: str) -> None:
        """``"same"`` (classical at the same ratio) or ``"x1"`` (as the camera recorded)."""
        self.ui.before_combo.setCurrentIndex(self.ui.before_combo.findData(mode))

    def _before_mode_changed(self) -> None:
        mode = str(self.ui.before_combo.currentData())
        self.settings.before_mode = mode
        self.beforeModeChanged.emit(mode)

    def _zoom_changed(self, zoom: float) -> None:
        prefix = "Fit " if self.viewer.is_fit else ""
        self.ui.zoom_label.setText(f"{prefix}{zoom * 100:.0f} %")
