"""Canonical, dtype-independent digest of tensor values.

Used by the fixture generators (run under real TensorFlow) and by our tests, so that
values read by TensorFlow and values read by tfckpt-lite can be compared by a short
string stored in ``testdata/manifest.json`` and ``testdata/realworld_expected.json``.

Rules (keep in sync with ``testdata/README.md``):

* String tensors (numpy ``object`` arrays of ``bytes``, a bare ``bytes`` scalar, or
  ``str`` values, which are UTF-8 encoded): for each element in C order, hash
  ``len(b).to_bytes(8, "little") + b``.
* Everything else: ``np.asarray``; a structured dtype with a single field (TensorFlow's
  ``qint8``/``quint8``/``qint16``/``quint16``/``qint32``) is viewed as that field's base
  dtype; big-endian data is converted to little-endian; the C-contiguous ``tobytes()``
  is hashed.

Only values are hashed: dtype and shape are compared separately.
"""

from __future__ import annotations

import hashlib
import sys
from typing import Any

import numpy as np

__all__ = ["canonical_digest"]


def _digest_strings(elements: Any) -> str:
    h = hashlib.sha256()
    for element in elements:
        if isinstance(element, str):
            b = element.encode("utf-8")
        elif isinstance(element, (bytes, bytearray, memoryview)):
            b = bytes(element)
        else:
            raise TypeError(f"string tensor element of type {type(element).__name__}")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def canonical_digest(value: object) -> str:
    """Return the sha256 hex digest of ``value``'s elements (see module docstring)."""
    # A bare bytes/str scalar: go around np.asarray, which would strip trailing NULs.
    if isinstance(value, (bytes, bytearray, memoryview, str)):
        return _digest_strings([value])
    if isinstance(value, (list, tuple)):
        probe = np.asarray(value)
        if probe.dtype.kind in "SUO":
            # Keep each bytes element intact ("S" arrays drop trailing NULs).
            value = np.asarray(value, dtype=object)
    arr: np.ndarray[Any, np.dtype[Any]] = np.asarray(value)
    dt = arr.dtype
    if dt.kind in "OSU":
        return _digest_strings(arr.ravel(order="C").tolist())
    if dt.names is not None and len(dt.names) == 1:
        base = dt.fields[dt.names[0]][0] if dt.fields is not None else dt
        arr = arr.view(base)
        dt = arr.dtype
    if dt.byteorder == ">" or (dt.byteorder == "=" and sys.byteorder == "big"):
        arr = arr.astype(dt.newbyteorder("<"))
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()
