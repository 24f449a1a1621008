"""Tools ▸ Fine-tune on my camera: pair the user's tripod shots and fine-tune a model on them.

The panel is a dock widget (objectName ``fineTunePanel``). Pairing a folder, checking two
picked files and making thumbnails are :class:`~darkroom_app.workers.Job` runs on a one-thread
pool; the fine-tune itself (:func:`engine.finetune.finetune`) runs on a second one, so pairs
can still be added and the window used while it trains. Progress arrives as
:class:`~engine.finetune.FinetuneProgress` through a queued signal. Pause holds the engine
between two steps (:class:`~engine.finetune.PauseToken`); Cancel makes it write a checkpoint
and stop; Resume calls the engine again with the same name, base and pairs, and the engine
continues from that checkpoint (also after a crash or a restart of the app: the checkpoint's
``run.json`` names the base model and the pairs). The finished model lands in the user's
model library (the session's user models folder) and, through
:meth:`Session.models_edited <darkroom_app.session.Session.models_edited>`, in the window's
model selector at once. The panel never sees the window: the window docks it and connects its
Tools menu to :meth:`FineTunePanel.open_panel` and :meth:`FineTunePanel.open_library`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMessageBox, QScrollArea, QWidget

from engine.finetune import (
    CheckedPair,
    FinetuneProgress,
    FinetuneRequest,
    FinetuneResult,
    InterruptedRun,
    PauseToken,
    discard_interrupted_run,
    find_interrupted_run,
    list_interrupted_runs,
)
from engine.models import check_name
from engine.train import PairFiles

from .finetune_jobs import (
    FinetuneSignals,
    default_model_name,
    format_duration,
    run_finetune,
    start_problem,
)
from .finetune_pairs import PairsController
from .finetune_panel_ui import FineTunePanelUi
from .model_library_dialog import ModelLibraryDialog
from .session import Session
from .settings import AppSettings
from .workers import Job, JobOutcome, error_message


class FineTunePanel(QDockWidget):
    """The fine-tune dock. Signals (tests and scripts wait on these):

    pairsChanged(int): the pairs table changed; the number of valid pairs.
    scanFinished(str): a folder scan or picked pair ended: "ok", "cancelled" or "error".
    runFinished(str): a fine-tune ended: "ok", "cancelled" or "error".
    """

    pairsChanged = Signal(int)
    scanFinished = Signal(str)
    runFinished = Signal(str)

    def __init__(
        self, session: Session, settings: AppSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__("Fine-tune on my camera", parent)
        self.setObjectName("fineTunePanel")
        self.setAllowedAreas(
            Qt.DockWidgetArea.LeftDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.session = session
        self.settings = settings  # the form's last values live in its store
        self.ui = FineTunePanelUi(self)
        self.pool = QThreadPool(self)  # scans, thumbnails, library copies: one at a time
        self.pool.setMaxThreadCount(1)
        self.train_pool = QThreadPool(self)  # apart, so pairs can be added while training
        self.train_pool.setMaxThreadCount(1)
        self.pairs = PairsController(self.ui, session, settings, self.pool, self)
        self.run_job: Job | None = None
        self.pause_token: PauseToken | None = None
        self.request: FinetuneRequest | None = None
        self.last_progress: FinetuneProgress | None = None
        self.result: FinetuneResult | None = None
        self.library_dialog: ModelLibraryDialog | None = None
        self.name_edited = False  # a name the user typed is never replaced by the default
        self.checkpoint: InterruptedRun | None = None  # an interrupted run of the name in the box
        self.hide()  # until Tools ▸ Fine-tune (an explicit hide survives being docked)
        self.ui.load_form(settings.store)
        self._connect()
        self._update_buttons()

    def _connect(self) -> None:
        ui = self.ui
        self.pairs.changed.connect(self._pairs_changed)
        self.pairs.changed.connect(self.pairsChanged)
        self.pairs.scanFinished.connect(self.scanFinished)
        ui.browse_base_button.clicked.connect(self._choose_base)
        ui.name_edit.textEdited.connect(self._name_typed)
        ui.name_edit.textChanged.connect(self._name_changed)
        ui.start_button.clicked.connect(self.start)
        ui.pause_button.clicked.connect(self.toggle_pause)
        ui.cancel_button.clicked.connect(self.cancel)
        ui.resume_button.clicked.connect(self.resume)
        ui.discard_button.clicked.connect(self._ask_discard)
        ui.use_button.clicked.connect(self.use_model)
        ui.library_button.clicked.connect(self.open_library)
        self.visibilityChanged.connect(lambda shown: self.reload_bases() if shown else None)

    @property
    def library(self) -> Path:
        """The user's model library: the session's user models folder, read each time."""
        return self.session.user_models_dir

    @property
    def running(self) -> bool:
        return self.run_job is not None

    def open_panel(self) -> None:
        """Show and raise the panel; offer an interrupted run when nothing is set up yet."""
        self.reload_bases()
        if not self.pairs.rows and not self.ui.name_edit.text().strip():
            found = list_interrupted_runs(self.library)
            if found:
                self.ui.name_edit.setText(found[0].name)
        self._name_changed()
        if not self.isVisible() and not self.isFloating():
            # Its own window beside the photo: docked, it squeezed the photo to a sliver.
            self.setFloating(True)
            window = self.parentWidget()
            screen = (window.screen() if window is not None else self.screen()).availableGeometry()
            scroll = self.widget()  # a scroll area around the form: its content's full height
            inner = scroll.widget() if isinstance(scroll, QScrollArea) else scroll
            wanted = inner.sizeHint().height() + 48 if inner is not None else 760
            width, height = min(820, screen.width()), min(max(760, wanted), screen.height())
            self.resize(width, height)
            anchor = window.frameGeometry() if window is not None else screen
            # Beside the window when the screen has room, else over its right-hand side.
            beside = anchor.right() + 1 + width <= screen.right()
            left = anchor.right() + 1 if beside else max(screen.left(), screen.right() - width)
            self.move(left, max(screen.top(), min(anchor.top(), screen.bottom() - height)))
        self.show()
        self.raise_()

    def add_folder(self, folder: str | Path) -> Job | None:
        """Pair a folder's RAW files in the background (see :class:`PairsController`)."""
        return self.pairs.add_folder(folder)

    def add_pair(self, first: str | Path, second: str | Path) -> Job | None:
        """Check two picked files in the background and add them as a pair."""
        return self.pairs.add_pair(first, second)

    def _pairs_changed(self, valid: int) -> None:
        pairs = self.pairs.usable_pairs()
        if pairs and not self.name_edited and not self.running:
            # A checkpoint of exactly these pairs is offered by name, so Resume lights up.
            matching = [r for r in list_interrupted_runs(self.library) if r.matches(pairs)]
            self.ui.name_edit.setText(
                matching[0].name if matching else default_model_name(pairs[0].camera, self.library)
            )
        self._update_buttons()

    # -- base model, name, checkpoint ------------------------------------------------------

    def reload_bases(self) -> None:
        """List every model with weights (bundled or in the library) as a possible base."""
        stored = self.settings.store.value("fineTune/base", "")
        self.ui.list_bases(self.library, stored if isinstance(stored, str) else "")
        self._update_buttons()

    def set_base(self, name_or_path: str | Path) -> bool:
        """Select a base model by name, or add a ``.safetensors`` file; False if unknown."""
        found = self.ui.select_base(str(name_or_path))
        self._update_buttons()
        return found

    def _name_typed(self, _text: str) -> None:
        self.name_edited = True

    def _name_changed(self) -> None:
        checkpoint = find_interrupted_run(self.ui.name_edit.text().strip(), self.library)
        self.checkpoint = None if self.running else checkpoint
        ui = self.ui
        if checkpoint is not None and not self.running:
            ui.checkpoint_label.setText(
                f"⟲ A checkpoint of “{checkpoint.name}” exists at step {checkpoint.step} "
                f"({len(checkpoint.pairs)} pair(s), base {Path(checkpoint.base).stem}). "
                "Resume continues it; Discard starts over."
            )
        ui.checkpoint_label.setVisible(checkpoint is not None and not self.running)
        ui.discard_button.setVisible(checkpoint is not None and not self.running)
        self._update_buttons()

    def _ask_discard(self) -> None:
        name = self.ui.name_edit.text().strip()
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Discard checkpoint",
            f"Delete the checkpoint of “{name}”? Its training so far is lost.",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            self,
        )
        yes = box.button(QMessageBox.StandardButton.Discard)
        box.finished.connect(
            lambda _: self.discard_checkpoint(name) if box.clickedButton() is yes else None
        )
        box.finished.connect(box.deleteLater)
        box.open()

    def discard_checkpoint(self, name: str) -> None:
        """Delete an interrupted run of ``name`` so that Start begins afresh."""
        if not self.running:
            discard_interrupted_run(name, self.library)
        self._name_changed()

    # -- running ---------------------------------------------------------------------------

    def start(self) -> Job | None:
        """Check the pairs and settings, then fine-tune in the background.

        A checkpoint of the same name, base and pairs is continued (the engine resumes it).
        """
        if self.running:
            return None
        pairs = self.pairs.usable_pairs()
        name, base = self.ui.name_edit.text().strip(), str(self.ui.base_combo.currentData() or "")
        request = self._request(base, tuple(pairs), name)
        problem = start_problem(request)
        if problem is not None:
            self.ui.status_label.setText(problem[1])
            self.session.tell(*problem)
            return None
        return self._run(replace(request, name=check_name(name)))

    def resume(self) -> Job | None:
        """Continue the interrupted run named in the name box, with its own base and pairs."""
        if self.running:
            return None
        checkpoint = find_interrupted_run(self.ui.name_edit.text().strip(), self.library)
        if checkpoint is None:
            self.ui.status_label.setText("No checkpoint of this name to resume.")
            return None
        missing = [p for pair in checkpoint.pairs for p in (pair.short, pair.long)
                   if not Path(p).is_file()]  # fmt: skip
        if missing:
            self.session.tell(
                "Cannot resume",
                f"{missing[0]}: the file is gone; bring it back or Discard the checkpoint.",
            )
            return None
        pairs = self.pairs.usable_pairs()
        # The table's candidates carry the exact ratios; after a restart the table is empty
        # and the checkpoint's own list (ratios from the EXIF, as pairing does) stands in.
        chosen = tuple(pairs) if checkpoint.matches(pairs) else tuple(checkpoint.pairs)
        return self._run(self._request(checkpoint.base, chosen, checkpoint.name))

    def _request(self, base: str, pairs: tuple[CheckedPair | PairFiles, ...],
                 name: str) -> FinetuneRequest:  # fmt: skip
        return self.ui.request(base, pairs, name, self.library, self.session.device_pref)

    def _run(self, req: FinetuneRequest) -> Job:
        self.ui.save_form(self.settings.store, req)
        pause, signals = PauseToken(), FinetuneSignals()
        signals.progress.connect(self._run_progress, Qt.ConnectionType.QueuedConnection)
        job = Job(
            lambda token, _p: run_finetune(req, token, pause, signals.progress.emit),
            name=f"fine-tune {req.name}",
        )
        job.payload = signals  # keeps the signal object alive as long as the job
        job.on_done(self._run_done)
        if self.request is None or self.request.name != req.name:
            self.ui.curve.clear()  # a resumed run continues its own curve
        self.run_job, self.pause_token, self.request, self.result = job, pause, req, None
        ui = self.ui
        ui.curve.set_total(req.settings.iterations)
        ui.progress.setRange(0, req.settings.iterations)
        ui.status_label.setText(f"Starting “{req.name}”…")
        ui.notes_label.clear()
        ui.use_button.hide()
        ui.pause_button.setText("Pause")
        self._name_changed()
        self.session.say(f"Fine-tuning “{req.name}” in the background…", 5000)
        job.start(self.train_pool)
        return job

    def toggle_pause(self) -> None:
        """Pause between two training steps, or go on."""
        token = self.pause_token
        if token is None:
            return
        if token.paused:
            token.resume()
            self.ui.pause_button.setText("Pause")
        else:
            token.pause()
            self.ui.pause_button.setText("Resume")
            self.ui.status_label.setText("Pausing after this step…")

    def cancel(self) -> None:
        """Stop after the current step; the engine writes a checkpoint first."""
        if self.run_job is not None:
            self.run_job.cancel()  # a paused run wakes up for it (PauseToken.wait polls it)
            self.ui.status_label.setText("Cancelling: writing a checkpoint…")

    def _run_progress(self, p: FinetuneProgress) -> None:
        self.last_progress = p
        if p.suspects:
            self.pairs.mark_suspects(p.suspects)
        self.ui.show_progress(p)

    def _run_done(self, job: Job, outcome: JobOutcome) -> None:
        if job is self.run_job:
            self.run_job, self.pause_token = None, None
        ui, name = self.ui, self.request.name if self.request else ""
        if outcome.status == "ok":
            result: FinetuneResult = outcome.result
            self.result = result
            ui.status_label.setText(
                f"Saved “{result.name}”: validation PSNR {result.psnr_before:.2f} → "
                f"{result.psnr_after:.2f} dB on {result.validation}."
            )
            ui.notes_label.setText("\n".join(f"• {n}" for n in result.notes))
            ui.use_button.show()
            ui.eta_label.setText(f"took {format_duration(result.elapsed_s)}")
            self.session.models_edited()  # in the window's model selector at once
            if self.library_dialog is not None:
                self.library_dialog.reload(result.name)
            self.reload_bases()
            self.name_edited = False
            self.session.say(f"Fine-tuned model “{result.name}” saved", 8000)
        elif outcome.status == "error":
            message = error_message(outcome.error)
            ui.status_label.setText(f"Fine-tuning “{name}” failed: {message}")
            self.session.tell("Fine-tuning failed", message)
        ui.pause_button.setText("Pause")
        self._name_changed()
        if outcome.status == "cancelled":
            # Cancel during loading or the first validation stops before any checkpoint.
            ui.status_label.setText(
                f"Cancelled at step {self.checkpoint.step}. A checkpoint was kept: Resume "
                "continues from it."
                if self.checkpoint is not None
                else "Cancelled before training began; nothing to resume."
            )
        if outcome.status == "ok":
            self._pairs_changed(0)  # the name is taken now: offer the next free default
        self.runFinished.emit(outcome.status)

    def use_model(self) -> None:
        """Show the current photo with the model just made."""
        if self.result is not None:
            self.session.set_model(self.result.name)  # the window selects it

    def _update_buttons(self) -> None:
        ui, running = self.ui, self.running
        has_ck = self.checkpoint is not None
        ui.start_button.setEnabled(
            not running and bool(self.pairs.usable_pairs()) and ui.base_combo.count() > 0
        )
        ui.pause_button.setEnabled(running)
        ui.cancel_button.setEnabled(running)
        ui.resume_button.setEnabled(not running and has_ck)
        for w in (ui.base_combo, ui.browse_base_button, ui.name_edit):
            w.setEnabled(not running)

    # -- dialogs, library, settings, shutdown ----------------------------------------------

    def _choose_base(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Base model", str(self.library), "Darkroom models (*.safetensors)"
        )
        if path:
            self.set_base(path)

    def open_library(self) -> ModelLibraryDialog:
        """Tools ▸ Model library (non-modal: training and previews go on meanwhile)."""
        if self.library_dialog is None:
            dialog = ModelLibraryDialog(self.session, self.pool, self)
            dialog.changed.connect(self.reload_bases)
            dialog.changed.connect(self._name_changed)
            # Kept (hidden) when closed, never deleted: an export may still report back to it.
            self.library_dialog = dialog
        self.library_dialog.reload()
        self.library_dialog.show()
        self.library_dialog.raise_()
        return self.library_dialog

    def shutdown(self) -> None:
        """Stop everything (a running fine-tune keeps a checkpoint) and wait for the threads."""
        if self.run_job is not None:
            self.run_job.cancel()
        self.pairs.shutdown()
        self.pool.waitForDone()
        self.train_pool.waitForDone()
