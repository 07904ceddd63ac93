"""The interface between a format's reader and the public `CheckpointReader`.

`Progress` is the one signature of progress callbacks (verify, conversions, edits, diffs).

`_bundle_reader.BundleReader` (V2 bundles) and `_v1.V1Reader` (legacy tables) implement
`Backend`; `_api.CheckpointReader` and everything above it (inspection, conversions, edits, remote
read-ahead) go through it and never through a backend's private state. A new capability a
caller needs is a method here, implemented by both formats.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from ._dtypes import DType
from ._storage import Source

__all__ = ["Backend", "Progress"]

Progress = Callable[[int, int, str], None]
"""``progress(done, total, key)``: called after each tensor of a long operation."""


class Backend(Protocol):
    format: str  # "v2" or "v1"
    prefix: str  # what was opened: the bundle prefix, or the V1 file (pattern)
    remote: bool  # data travels over a network: fetching ahead in large ranges pays

    def keys(self) -> list[str]:
        """Every tensor key, sorted as TF sorts them (bytewise)."""
        ...

    def __contains__(self, key: object) -> bool: ...

    def info(self, key: str) -> tuple[DType, tuple[int, ...]]: ...

    def infos(self) -> list[tuple[str, DType, tuple[int, ...]]]:
        """(key, dtype, shape) of every tensor in key order, faster than `info` per key."""
        ...

    def shapes(self) -> list[tuple[int, ...]]:
        """The shape of every tensor in key order (what a listing needs: the cheapest)."""
        ...

    def stored_size(self, key: str) -> int:
        """Bytes the tensor's value occupies where it is stored (data files or table)."""
        ...

    def read(self, key: str, *, verify: bool = True) -> np.ndarray[Any, Any]: ...

    def read_many(self, keys: Sequence[str]) -> dict[str, np.ndarray[Any, Any]]:
        """``{key: read(key)}`` for every key (`load()`), each array the caller's own; the
        errors a loop over `read` raises. A format may read them together faster."""
        ...

    def read_rows(self, key: str, start: int, stop: int) -> np.ndarray[Any, Any]:
        """Rows [start, stop) of the leading axis, touching only their bytes where possible
        (no checksum: a tensor's CRC covers it whole)."""
        ...

    def byte_ranges(self, key: str) -> list[tuple[Source, int, int]]:
        """The (data file, offset, size) ranges reading `key` will touch, so they can be
        fetched ahead (`_remote.read_ahead`); none when there is nothing to fetch or the
        entry is invalid (its read then reports the error)."""
        ...

    def verify_tensor(self, key: str) -> None:
        """Check one tensor as far as its format allows: V2 its CRC32C (a DT_VARIANT's
        too; a DT_RESOURCE has no value), V1 its values (its table's CRCs were checked on
        open). Raises the tensor's CheckpointError."""
        ...

    def close(self) -> None: ...
