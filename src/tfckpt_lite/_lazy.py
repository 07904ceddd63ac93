"""Modules imported on first use, so that `import tfckpt_lite` stays cheap.

A fresh process that loads one tensor spends most of its time importing: the interpreter and
NumPy take ~65 ms, and everything this package imports on top of them counts against the
"time to first tensor" (bench/). protobuf (for the state file and the object graph), zipfile,
json and the like are needed only by some calls; modules that use them write

    if TYPE_CHECKING:
        from google.protobuf import text_format
    else:
        text_format = lazy_module("google.protobuf.text_format")

and the import happens at the first attribute access (`text_format.Merge`), once.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["lazy_module"]


class _LazyModule:
    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        # Only called for names the proxy itself lacks, i.e. the module's.
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<lazy module {self._name!r} ({state})>"


def lazy_module(name: str) -> Any:
    """A stand-in for module `name` (absolute) that imports it at the first attribute access."""
    return _LazyModule(name)
