"""``darkroom-cli``: everything the app does, headless (the top layer of the engine).

:func:`main` parses arguments and dispatches to the commands in :mod:`engine.cli.enhance`,
:mod:`engine.cli.training` and :mod:`engine.cli.finetune`; :func:`run` is the console script.
``python -m engine.cli`` runs the same (and is what ``torchrun`` starts).
"""

from __future__ import annotations

from engine.cli.main import main, run

__all__ = ["main", "run"]
