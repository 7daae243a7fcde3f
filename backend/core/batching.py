"""Work an event-pipeline listener puts off to the end of a block.

A sync push applies a chunk of mutations in one transaction. The listeners that write something
for each event (notifications, the recommendations' interaction log) keep their events while a
chunk runs and write them together at its end, still inside the transaction. A refused mutation's
savepoint undoes its writes; `discard_since(mark())` takes back the events it published too."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator


class Deferred:
    def __init__(self, name: str, flush: Callable[[list], object]):
        self._pending: contextvars.ContextVar[list | None] = contextvars.ContextVar(name, default=None)
        self._flush = flush

    def add(self, item) -> bool:
        """Keep `item` for the end of the block; False when no block is open (do the work now)."""
        pending = self._pending.get()
        if pending is None:
            return False
        pending.append(item)
        return True

    @contextlib.contextmanager
    def collected(self) -> Iterator[None]:
        """Flush what was kept when the block ends without an error."""
        pending: list = []
        token = self._pending.set(pending)
        try:
            yield
        finally:
            self._pending.reset(token)
        if pending:
            self._flush(pending)

    def mark(self) -> int:
        pending = self._pending.get()
        return len(pending) if pending is not None else 0

    def discard_since(self, position: int) -> None:
        pending = self._pending.get()
        if pending is not None:
            del pending[position:]
