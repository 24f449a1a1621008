"""Progress reporting and cancellation shared by every long job (render, train, evaluate)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from engine.errors import Cancelled

#: ``progress(done, total, message)``; called from the worker thread between steps.
ProgressCallback = Callable[[int, int, str], None]


class CancelToken:
    """A thread-safe flag a UI sets and a job polls between tiles or steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`~engine.errors.Cancelled` if :meth:`cancel` was called."""
        if self._event.is_set():
            raise Cancelled()


def no_progress(done: int, total: int, message: str) -> None:
    """A progress callback that ignores everything."""
