"""Pausing Python's cyclic garbage collector while a large, acyclic result is built.

Opening an index of 100,000 entries allocates half a million small objects in a burst (the
table's (key, value) tuples, the name strings, the listing's tuples and lists). Every 700
allocations the collector runs, and as the young objects pile up it promotes them and starts
full collections that walk every live object in the process, the caller's included: measured,
that doubled the time of `list_variables` on such an index. None of these objects can be part
of a reference cycle, so collecting while they are made finds nothing; the collector is paused
for the burst and resumed (if it was enabled) afterwards, when it catches up in one pass.
"""

from __future__ import annotations

import gc
from types import TracebackType

__all__ = ["gc_paused"]


class gc_paused:
    """Context manager: the cyclic GC is off inside (a no-op if it already was)."""

    def __enter__(self) -> None:
        self._was_enabled = gc.isenabled()
        if self._was_enabled:
            gc.disable()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._was_enabled:
            gc.enable()
