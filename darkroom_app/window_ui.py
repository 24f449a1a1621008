"""Widgets, actions and menus of the main window (layout only; behaviour is in main_window)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStyle,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from .controls import AmountControl, ExposurePanel, ModelCombo
from .filmstrip import FilmStrip
from .histogram import HistogramView
from .info_panel import InfoPanel
from .recent_menu import RecentFilesMenu
from .viewer import BeforeAfterView

SPLIT_MODE_LABELS = {"wipe": "Wipe (split line)", "side": "Side by side", "after": "After only"}
BEFORE_MODE_LABELS = {"same": "Classical, same ratio", "x1": "As recorded (×1)"}


class WindowUi:
    """Creates every widget and action of :class:`~darkroom_app.main_window.MainWindow`."""

    def __init__(self, window: QMainWindow) -> None:
        self.window = window
        self._build_actions()
        self._build_central()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()

    def _action(self, text: str, name: str, shortcut: QKeySequence | str | None = None,
                icon: QStyle.StandardPixmap | None = None) -> QAction:  # fmt: skip
        action = QAction(text, self.window)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if icon is not None:
            action.setIcon(self.window.style().standardIcon(icon))
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.open_action = self._action("&Open…", "openAction", QKeySequence.StandardKey.Open,
                                        sp.SP_DialogOpenButton)  # fmt: skip
        self.export_action = self._action("&Export…", "exportAction", "Ctrl+E",
                                          sp.SP_DialogSaveButton)  # fmt: skip
        self.export_action.setEnabled(False)
        self.open_folder_action = self._action("Open &Folder…", "openFolderAction",
                                               "Ctrl+Shift+O")  # fmt: skip
        self.next_photo_action = self._action("&Next Photo", "nextPhotoAction", "Ctrl+Right")
        self.previous_photo_action = self._action("&Previous Photo", "previousPhotoAction",
                                                  "Ctrl+Left")  # fmt: skip
        self.export_selected_action = self._action(
            "Export Se&lected Photos…", "exportSelectedAction", "Ctrl+Shift+E"
        )
        for action in (self.next_photo_action, self.previous_photo_action,
                       self.export_selected_action):  # fmt: skip
            action.setEnabled(False)  # until a folder is open
        self.undo_action = self._action("&Undo", "undoAction", QKeySequence.StandardKey.Undo)
        self.redo_action = self._action("&Redo", "redoAction", QKeySequence.StandardKey.Redo)
        self.copy_settings_action = self._action("&Copy Settings", "copySettingsAction",
                                                 "Ctrl+Shift+C")  # fmt: skip
        self.paste_settings_action = self._action("&Paste Settings", "pasteSettingsAction",
                                                  "Ctrl+Shift+V")  # fmt: skip
        self.quit_action = self._action("&Quit", "quitAction", QKeySequence.StandardKey.Quit)
        self.preferences_action = self._action("&Preferences…", "preferencesAction", "Ctrl+,")
        self.fit_action = self._action("Zoom to &Fit", "fitAction", "Ctrl+0")
        self.actual_action = self._action("&100 %", "actualSizeAction", "Ctrl+1")
        self.zoom_in_action = self._action(
            "Zoom &In", "zoomInAction", QKeySequence.StandardKey.ZoomIn
        )
        self.zoom_out_action = self._action(
            "Zoom &Out", "zoomOutAction", QKeySequence.StandardKey.ZoomOut
        )
        self.sample_action = self._action("Open &Sample Photo", "openSampleAction")
        self.about_action = self._action("&About Darkroom", "aboutAction")
        self.shortcuts_action = self._action("&Keyboard Shortcuts", "shortcutsAction", "F1")
        self.fine_tune_action = self._action("&Fine-tune on My Camera…", "fineTuneAction")
        self.model_library_action = self._action("Model &Library…", "modelLibraryAction")
        self.mode_actions: dict[str, QAction] = {}
        group = QActionGroup(self.window)
        for key, label in SPLIT_MODE_LABELS.items():
            action = self._action(label, f"{key}ModeAction")
            action.setCheckable(True)
            action.setData(key)
            group.addAction(action)
            self.mode_actions[key] = action

    def _build_central(self) -> None:
        self.viewer = BeforeAfterView()
        self.exposure = ExposurePanel()
        self.model_combo = ModelCombo()
        self.amount = AmountControl()
        self.before_combo = QComboBox()
        self.before_combo.setObjectName("beforeModeCombo")
        self.before_combo.setToolTip("What the left of the split shows")
        for key, label in BEFORE_MODE_LABELS.items():
            self.before_combo.addItem(label, key)
        self.split_combo = QComboBox()
        self.split_combo.setObjectName("splitModeCombo")
        for key, label in SPLIT_MODE_LABELS.items():
            self.split_combo.addItem(label, key)
        self.split_combo.setToolTip("Hold \\ or B to see the before image")
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Zoom to fit (Ctrl+0)")
        self.actual_button = QPushButton("100 %")
        self.actual_button.setToolTip("One image pixel per screen pixel (Ctrl+1)")
        self.histogram = HistogramView()
        self.info = InfoPanel()

        side = QWidget()
        side.setObjectName("sidePanel")
        col = QVBoxLayout(side)
        col.addWidget(_group("Exposure ratio", self.exposure))
        model_box = QWidget()
        model_col = QVBoxLayout(model_box)
        model_col.setContentsMargins(0, 0, 0, 0)
        model_col.addWidget(self.model_combo)
        amount_row = QHBoxLayout()
        amount_row.addWidget(QLabel("Amount:"))
        amount_row.addWidget(self.amount, 1)
        model_col.addLayout(amount_row)
        before_row = QHBoxLayout()
        before_row.addWidget(QLabel("Before:"))
        before_row.addWidget(self.before_combo, 1)
        model_col.addLayout(before_row)
        col.addWidget(_group("Model", model_box))
        view_box = QWidget()
        view_row = QHBoxLayout(view_box)
        view_row.setContentsMargins(0, 0, 0, 0)
        view_row.addWidget(self.split_combo, 1)
        view_row.addWidget(self.fit_button)
        view_row.addWidget(self.actual_button)
        col.addWidget(_group("Compare", view_box))
        col.addWidget(_group("Histogram", self.histogram))
        col.addWidget(_group("Photo", self.info))
        col.addStretch(1)
        scroll = vertical_scroll(side, 300)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.viewer)
        self.splitter.addWidget(scroll)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setCollapsible(0, False)
        self.window.setCentralWidget(self.splitter)
        self.filmstrip = FilmStrip()
        self.filmstrip_dock = QDockWidget("Filmstrip", self.window)
        self.filmstrip_dock.setObjectName("filmStripDock")
        self.filmstrip_dock.setWidget(self.filmstrip)
        self.filmstrip_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.filmstrip_dock)
        self.filmstrip_dock.hide()  # until a folder is opened

    def _build_menus(self) -> None:
        bar = self.window.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.open_folder_action)
        self.recent_menu = RecentFilesMenu(self.window)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.next_photo_action)
        file_menu.addAction(self.previous_photo_action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_action)
        file_menu.addAction(self.export_selected_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.copy_settings_action)
        edit_menu.addAction(self.paste_settings_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.preferences_action)
        view_menu = bar.addMenu("&View")
        for action in (self.fit_action, self.actual_action, self.zoom_in_action,
                       self.zoom_out_action):  # fmt: skip
            view_menu.addAction(action)
        view_menu.addSeparator()
        for action in self.mode_actions.values():
            view_menu.addAction(action)
        tools_menu = bar.addMenu("&Tools")
        tools_menu.addAction(self.fine_tune_action)
        tools_menu.addAction(self.model_library_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.sample_action)
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(self.about_action)

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main", self.window)
        toolbar.setObjectName("mainToolBar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addAction(self.open_action)
        toolbar.addAction(self.export_action)
        toolbar.addSeparator()
        toolbar.addAction(self.fit_action)
        toolbar.addAction(self.actual_action)
        self.window.addToolBar(toolbar)

    def _build_status_bar(self) -> None:
        status = self.window.statusBar()
        self.preview_busy = QProgressBar()
        self.preview_busy.setObjectName("previewBusy")
        self.preview_busy.setRange(0, 0)  # indeterminate: "working"
        self.preview_busy.setMaximumWidth(90)
        self.preview_busy.setMaximumHeight(14)
        self.preview_busy.setTextVisible(False)
        self.preview_busy.setToolTip("Rendering preview…")
        self.preview_busy.hide()
        self.render_progress = QProgressBar()
        self.render_progress.setObjectName("renderProgress")
        self.render_progress.setRange(0, 100)
        self.render_progress.setMaximumWidth(220)
        self.render_progress.setFormat("Export %p%")
        self.render_progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelRenderButton")
        self.cancel_button.hide()
        self.zoom_label = QLabel()
        self.zoom_label.setObjectName("zoomLabel")
        self.device_label = QLabel()
        self.device_label.setObjectName("deviceLabel")
        status.addPermanentWidget(self.preview_busy)
        status.addPermanentWidget(self.render_progress)
        status.addPermanentWidget(self.cancel_button)
        status.addPermanentWidget(self.zoom_label)
        status.addPermanentWidget(self.device_label)


def vertical_scroll(body: QWidget, min_width: int) -> QScrollArea:
    """A frameless, vertically scrolling side panel around ``body``."""
    scroll = QScrollArea()
    scroll.setWidget(body)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setMinimumWidth(min_width)
    return scroll


def _group(title: str, content: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(8, 6, 8, 8)
    layout.addWidget(content)
    return box
