"""Widgets and layout of the fine-tune panel (behaviour is in :mod:`.finetune_panel`)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from engine.finetune import (
    DEFAULT_ITERATIONS,
    DEFAULT_LR,
    DEFAULT_PATCH,
    DEFAULT_PATIENCE,
    CheckedPair,
    FinetuneProgress,
    FinetuneRequest,
    FinetuneSettings,
)
from engine.models import model_entries
from engine.train import PairFiles

from .controls import model_tooltip
from .finetune_jobs import format_duration
from .finetune_widgets import (
    LearningRateBox,
    LossCurve,
    PairTable,
    group_box,
    int_spin,
    named_button,
    named_label,
)
from .window_ui import vertical_scroll

#: The engine's defaults (iterations, learning rate, patch, patience) and SID's StepLR.
DEFAULT_STEP_SIZE = 10
DEFAULT_GAMMA = 0.8
#: Validation choices: label -> held-out pairs (``"auto"``: the engine decides). Strings, as
#: a None item data would not be found again by ``findData``.
VALIDATION_CHOICES = (
    ("Auto (hold 1 out from 3 pairs up)", "auto"),
    ("0 — score the training pairs", "0"),
    ("1 held-out pair", "1"),
    ("2 held-out pairs", "2"),
)


class FineTunePanelUi:
    """Creates every widget of :class:`~darkroom_app.finetune_panel.FineTunePanel`."""

    def __init__(self, dock: QDockWidget) -> None:
        body = QWidget()
        body.setObjectName("fineTuneBody")
        col = QVBoxLayout(body)
        col.addWidget(group_box("1 · Tripod pairs", self._pairs()))
        col.addWidget(group_box("2 · Settings", self._settings()))
        col.addWidget(group_box("3 · Fine-tune", self._run()))
        col.addStretch(1)
        # Wide enough for the button rows: the form never needs a horizontal scroll bar.
        dock.setWidget(vertical_scroll(body, body.minimumSizeHint().width() + 24))

    def _pairs(self) -> QVBoxLayout:
        self.add_folder_button = named_button(
            "Add folder…",
            "addFolderButton",
            "Pair every short and long exposure of a folder automatically (by capture time)",
        )
        self.add_pair_button = named_button(
            "Add pair…", "addPairButton", "Pick a short and a long exposure of one scene"
        )
        self.remove_button = named_button("Remove", "removePairButton", "Remove the selected rows")
        self.clear_button = named_button("Clear", "clearPairsButton")
        row = QHBoxLayout()
        for b in (
            self.add_folder_button,
            self.add_pair_button,
            self.remove_button,
            self.clear_button,
        ):
            row.addWidget(b)
        row.addStretch(1)
        self.table = PairTable()
        self.table.setMinimumHeight(250)
        self.pair_summary = named_label("pairSummaryLabel")
        self.scan_progress = QProgressBar()
        self.scan_progress.setObjectName("scanProgress")
        self.scan_progress.setFormat("Reading %v / %m")
        self.scan_progress.hide()
        self.cancel_scan_button = named_button(
            "Stop", "cancelScanButton", "Stop reading the folder"
        )
        self.cancel_scan_button.hide()
        scan_row = QHBoxLayout()
        scan_row.addWidget(self.scan_progress, 1)
        scan_row.addWidget(self.cancel_scan_button)
        layout = QVBoxLayout()
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        layout.addLayout(scan_row)
        layout.addWidget(self.pair_summary)
        return layout

    def _base_row(self) -> QHBoxLayout:
        self.base_combo = QComboBox()
        self.base_combo.setObjectName("baseModelCombo")
        self.base_combo.setToolTip("The trained model to start from")
        self.browse_base_button = named_button(
            "Browse…", "browseBaseButton", "Start from a .safetensors model file"
        )
        base_row = QHBoxLayout()
        base_row.addWidget(self.base_combo, 1)
        base_row.addWidget(self.browse_base_button)
        self.base_hint = named_label("baseHintLabel")
        self.base_hint.setText("No trained model yet: train or import one, or Browse… for a file.")
        self.base_hint.hide()
        return base_row

    def _settings(self) -> QFormLayout:
        base_row = self._base_row()
        self.iterations = int_spin(
            "iterationsSpin", 0, 1_000_000, DEFAULT_ITERATIONS,
            "Training steps at most (the run stops early when validation stops improving); "
            "0 keeps the base model and gives it your camera's fitted noise profile only",
            step=100,
        )  # fmt: skip
        self.iterations.setSpecialValueText("0 — noise profile only")
        self.patience = int_spin(
            "patienceSpin", 0, 100, DEFAULT_PATIENCE,
            "Stop after this many validations in a row without a better score and keep "
            "the best weights (0: never stop early)",
        )  # fmt: skip
        self.patience.setSpecialValueText("never stop early")
        self.lr = LearningRateBox()
        self.lr.setObjectName("learningRateSpin")
        self.lr.setValue(DEFAULT_LR)
        self.lr.setToolTip(
            "Adam learning rate; half of training from scratch, to keep what "
            "the base model knows (arrows halve or double it)"
        )
        self.step_size = int_spin(
            "stepSizeSpin", 1, 10_000, DEFAULT_STEP_SIZE,
            "StepLR: epochs between decays (an epoch is 1/50 of the run)",
        )  # fmt: skip
        self.gamma = QDoubleSpinBox()
        self.gamma.setObjectName("gammaSpin")
        self.gamma.setRange(0.01, 1.0)
        self.gamma.setSingleStep(0.05)
        self.gamma.setDecimals(2)
        self.gamma.setValue(DEFAULT_GAMMA)
        self.gamma.setToolTip("StepLR: the learning rate is multiplied by this at each decay")
        self.patch = int_spin(
            "patchSpin", 16, 4096, DEFAULT_PATCH,
            "Side of the random training crops, sensor pixels", step=64,
        )  # fmt: skip
        self.patch.setSuffix(" px")
        self.validation = QComboBox()
        self.validation.setObjectName("validationCombo")
        for label, value in VALIDATION_CHOICES:
            self.validation.addItem(label, value)
        self.validation.setToolTip("Pairs kept out of training to measure the PSNR on")
        self.synthetic = QCheckBox("Add synthetic pairs from a fitted noise model")
        self.synthetic.setObjectName("syntheticCheck")
        self.synthetic.setChecked(True)
        self.synthetic.setToolTip(
            "Darken your long exposures with your camera's measured noise "
            "for endless fresh training pairs"
        )
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("modelNameEdit")
        self.name_edit.setPlaceholderText("e.g. My camera fine-tune")
        self.name_edit.setToolTip("The new model's name in your model library")
        form = QFormLayout()
        form.addRow("Base model:", base_row)
        form.addRow("", self.base_hint)
        form.addRow("Iterations:", self.iterations)
        form.addRow("Patience:", self.patience)
        form.addRow("Learning rate:", self.lr)
        form.addRow("LR step size:", self.step_size)
        form.addRow("LR gamma:", self.gamma)
        form.addRow("Patch size:", self.patch)
        form.addRow("Validation:", self.validation)
        form.addRow("", self.synthetic)
        form.addRow("Model name:", self.name_edit)
        return form

    def _run_buttons(self) -> QHBoxLayout:
        self.start_button = named_button(
            "Start", "startFineTuneButton", "Fine-tune in the background; the window stays usable"
        )
        self.pause_button = named_button(
            "Pause", "pauseFineTuneButton", "Hold training between steps"
        )
        self.cancel_button = named_button(
            "Cancel",
            "cancelFineTuneButton",
            "Stop after writing a checkpoint (Resume continues it)",
        )
        self.resume_button = named_button(
            "Resume from checkpoint",
            "resumeFineTuneButton",
            "Continue an interrupted fine-tune of this name",
        )
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.cancel_button, self.resume_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        return buttons

    def _run(self) -> QVBoxLayout:
        self.checkpoint_label = named_label("checkpointLabel")
        self.discard_button = named_button(
            "Discard", "discardCheckpointButton", "Delete the checkpoint and start over"
        )
        ck_row = QHBoxLayout()
        ck_row.addWidget(self.checkpoint_label, 1)
        ck_row.addWidget(self.discard_button)
        buttons = self._run_buttons()
        self.progress = QProgressBar()
        self.progress.setObjectName("fineTuneProgress")
        self.progress.setFormat("Step %v / %m")
        # Until a run reports, the bar shows the planned number of steps.
        self.progress.setRange(0, self.iterations.value())
        self.progress.setValue(0)
        self.iterations.valueChanged.connect(self._planned_steps)
        self.status_label = named_label("fineTuneStatusLabel")
        self.status_label.setText("Add pairs, check the settings, then Start.")
        self.psnr_label = named_label("psnrLabel")
        self.psnr_label.setToolTip("Validation PSNR on the developed image (higher is better)")
        self.eta_label = named_label("etaLabel")
        self.curve = LossCurve()
        self.notes_label = named_label("fineTuneNotesLabel")
        self.use_button = named_button(
            "Use this model", "useModelButton", "Show the current photo with the new model"
        )
        self.use_button.hide()
        self.library_button = named_button(
            "Model library…", "modelLibraryButton", "Rename, delete, export or import your models"
        )
        end_row = QHBoxLayout()
        end_row.addWidget(self.use_button)
        end_row.addStretch(1)
        end_row.addWidget(self.library_button)
        layout = QVBoxLayout()
        layout.addLayout(ck_row)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        numbers = QHBoxLayout()
        numbers.addWidget(self.psnr_label, 1)
        numbers.addWidget(self.eta_label)
        layout.addLayout(numbers)
        layout.addWidget(self.curve)
        layout.addWidget(self.notes_label)
        layout.addLayout(end_row)
        return layout

    # -- base models ---------------------------------------------------------------------

    def _planned_steps(self, total: int) -> None:
        if self.progress.value() <= 0:  # never rescale the bar of a run in progress
            self.progress.setRange(0, total)

    def list_bases(self, library: Path, fallback: str) -> None:
        """Every model with weights (bundled or in ``library``), then files browsed to.

        Args:
            fallback: what to select when nothing is selected yet (the last run's base;
                empty: the default model, as ``darkroom-cli finetune`` uses).
        """
        from engine.resources import DEFAULT_MODEL

        combo = self.base_combo
        current = str(combo.currentData() or fallback or DEFAULT_MODEL)
        # Files the user browsed to stay listed (the last run's base too, after a restart).
        items = [str(combo.itemData(i)) for i in range(combo.count())] + [current]
        files = list(dict.fromkeys(p for p in items if p.endswith(".safetensors")))
        combo.clear()
        for entry in model_entries([library] if library.is_dir() else []):
            if entry.has_weights:
                combo.addItem(entry.name, entry.name)
                combo.setItemData(
                    combo.count() - 1, model_tooltip(entry), Qt.ItemDataRole.ToolTipRole
                )
        for path in files:
            if Path(path).is_file():
                combo.addItem(f"{Path(path).stem} (file)", path)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        self.base_hint.setVisible(combo.count() == 0)

    def select_base(self, value: str) -> bool:
        """Select a listed base, or add and select a ``.safetensors`` file; False if neither."""
        combo = self.base_combo
        if combo.findData(value) < 0 and value.endswith(".safetensors") and Path(value).is_file():
            combo.addItem(f"{Path(value).stem} (file)", value)
        index = combo.findData(value)
        if index >= 0:
            combo.setCurrentIndex(index)
        self.base_hint.setVisible(combo.count() == 0)
        return index >= 0

    def request(self, base: str, pairs: tuple[CheckedPair | PairFiles, ...], name: str,
                library: Path, device: str) -> FinetuneRequest:  # fmt: skip
        """A fine-tune of ``pairs`` from ``base`` into ``name`` with the form's settings."""
        settings = FinetuneSettings(
            iterations=self.iterations.value(), lr=self.lr.value(),
            step_size=self.step_size.value(), gamma=self.gamma.value(),
            patch=self.patch.value(), validation_pairs=self.held_out(),
            synthetic=self.synthetic.isChecked(), patience=self.patience.value(),
        )  # fmt: skip
        return FinetuneRequest(base=base, pairs=pairs, name=name, settings=settings,
                               library=library, device=device)  # fmt: skip

    # -- progress --------------------------------------------------------------------------

    def show_progress(self, p: FinetuneProgress) -> None:
        """Progress bar, status line, PSNR before/now, ETA and the loss curve."""
        self.progress.setRange(0, max(p.iterations, 1))
        self.progress.setValue(p.iteration)
        if p.phase == "training" and p.loss is not None:
            self.curve.add(p.iteration, p.loss)
            lr = f" · lr {p.lr:.3g}" if p.lr is not None else ""
            self.status_label.setText(
                f"Training: step {p.iteration} / {p.iterations} · loss {p.loss:.4f}{lr}"
            )
        elif p.message or p.phase != "training":
            self.status_label.setText(f"{p.phase.capitalize()}: {p.message}".rstrip(": "))
        if p.psnr_before is not None:
            now = p.psnr_now if p.psnr_now is not None else p.psnr_before
            self.psnr_label.setText(
                f"Validation PSNR: before {p.psnr_before:.2f} dB → now "
                f"{now:.2f} dB ({now - p.psnr_before:+.2f})"
            )
        self.eta_label.setText(f"ETA {format_duration(p.eta_s)}")

    # -- remembered settings ---------------------------------------------------------------

    def held_out(self) -> int | None:
        """The validation pairs chosen (``None``: auto)."""
        value = str(self.validation.currentData())
        return int(value) if value.isdigit() else None

    def load_form(self, store: QSettings) -> None:
        """The last run's settings (so a Resume after a restart runs the same schedule)."""

        def stored(key: str, default: str) -> str:
            value = store.value(f"fineTune/{key}", default)
            return value if isinstance(value, str) else default

        boxes = (
            ("iterations", self.iterations, int),
            ("lr", self.lr, float),
            ("stepSize", self.step_size, int),
            ("gamma", self.gamma, float),
            ("patch", self.patch, int),
        )
        for key, box, kind in boxes:
            try:
                box.setValue(kind(stored(key, str(box.value()))))
            except ValueError:
                pass  # a damaged settings file: keep the default
        self.validation.setCurrentIndex(max(0, self.validation.findData(stored("validation", ""))))
        self.synthetic.setChecked(stored("synthetic", "true") != "false")

    def save_form(self, store: QSettings, req: FinetuneRequest) -> None:
        """Remember a run's settings (and its base model) for the next session."""
        s = req.settings
        held_out = "auto" if s.validation_pairs is None else str(s.validation_pairs)
        values = {
            "iterations": s.iterations,
            "lr": repr(s.lr),
            "stepSize": s.step_size,
            "gamma": s.gamma,
            "patch": s.patch,
            "base": req.base,
            "synthetic": "true" if s.synthetic else "false",
            "validation": held_out,
        }
        for key, value in values.items():
            store.setValue(f"fineTune/{key}", str(value))
