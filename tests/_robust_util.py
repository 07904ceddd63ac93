"""Shared machinery for the robustness tests (corruption sweep, hostile cases, fuzzing).

`MemFS` is an in-memory `FileSystem`, so a sweep over thousands of mutated copies of a
checkpoint costs no disk I/O. `read_all` runs the whole public read path over one checkpoint
and records, per operation, either the value or the exception; `check_promise` compares such
a record with the pristine one and fails on anything the robustness promise forbids:
an exception outside `CheckpointError`, an error that does not name its file (or tensor), or
a value that differs from what the intact checkpoint holds.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import tfckpt_lite
from tfckpt_lite import CheckpointError

from .conftest import REPO as REPO
from .conftest import realworld_dir as realworld_dir


class MemSource:
    def __init__(self, path: str, data: bytes) -> None:
        self.path = path
        self.size = len(data)
        self._view = memoryview(data)

    def read(self, offset: int, length: int) -> memoryview:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise tfckpt_lite.CorruptCheckpointError(
                f"read of {length} bytes at offset {offset} runs past the end of the file",
                path=self.path,
            )
        return self._view[offset : offset + length]

    def close(self) -> None:
        pass


class MemFS:
    """A flat in-memory filesystem: absolute posix paths to bytes."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = dict(files)

    def _dirs(self) -> set[str]:
        out = set()
        for p in self.files:
            d = posixpath.dirname(p)
            while d and d not in out:
                out.add(d)
                d = posixpath.dirname(d) if d != "/" else ""
        return out

    def exists(self, path: str) -> bool:
        return path in self.files or path in self._dirs()

    def isdir(self, path: str) -> bool:
        return path in self._dirs()

    def isfile(self, path: str) -> bool:
        return path in self.files

    def listdir(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        names = {p[len(prefix) :].split("/")[0] for p in self.files if p.startswith(prefix)}
        return sorted(names)

    def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        if path not in self.files:
            raise tfckpt_lite.CheckpointNotFoundError("file does not exist", path=path)
        data = self.files[path]
        return data if limit is None else data[:limit]

    def open_source(self, path: str) -> MemSource:
        if path not in self.files:
            raise tfckpt_lite.CheckpointNotFoundError("data file does not exist", path=path)
        return MemSource(path, self.files[path])

    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)

    def dirname(self, path: str) -> str:
        return posixpath.dirname(path)


def load_dir(prefix: Path) -> dict[str, bytes]:
    """The files of the checkpoint at `prefix` (index and shards), keyed by file name."""
    out = {}
    for p in prefix.parent.iterdir():
        if p.name == prefix.name + ".index" or p.name.startswith(prefix.name + ".data-"):
            out[p.name] = p.read_bytes()
    return out


# -- recording what a read path does ----------------------------------------------------------


@dataclass
class Outcome:
    """Per operation, a value or the exception it raised."""

    opened: object = None  # list of keys, or the exception
    ops: dict[tuple[str, str], object] = field(default_factory=dict)

    def errors(self) -> list[BaseException]:
        out = [v for v in self.ops.values() if isinstance(v, BaseException)]
        if isinstance(self.opened, BaseException):
            out.append(self.opened)
        return out


def _try(fn: Callable[[], object]) -> object:
    try:
        return fn()
    except Exception as e:  # recorded, judged by check_promise
        return e


def _rows(r: tfckpt_lite.CheckpointReader, key: str, *, verify: bool = True) -> object:
    shape = r.shape(key)
    s = r.get_slice(key, verify=verify)
    if not shape or shape[0] == 0:
        return s[...]
    n = shape[0]
    return (s[0], s[n // 2 : n], s[n - 1])


def _graph_summary(r: tfckpt_lite.CheckpointReader) -> object:
    g = r.object_graph
    if g is None:
        return None
    return len(g), g.checkpoint_keys(), g.canonical_paths()


def read_all(path: str, fs: Any = None, *, slices: bool = True) -> Outcome:
    """Run every public read operation on the checkpoint at `path`."""
    out = Outcome()
    try:
        r = tfckpt_lite.load_checkpoint(path, filesystem=fs)
    except Exception as e:
        out.opened = e
        return out
    with r:
        keys = list(r)
        out.opened = keys
        out.ops[("", "shape_map")] = _try(r.get_variable_to_shape_map)
        for k in keys:
            out.ops[(k, "info")] = _try(lambda k=k: (r.dtype(k), r.shape(k)))  # type: ignore[misc]
            out.ops[(k, "get")] = _try(lambda k=k: r.get_tensor(k))  # type: ignore[misc]
            out.ops[(k, "get_noverify")] = _try(
                lambda k=k: r.get_tensor(k, verify=False)  # type: ignore[misc]
            )
            if slices:
                out.ops[(k, "rows")] = _try(lambda k=k: _rows(r, k))  # type: ignore[misc]
                out.ops[(k, "rows_noverify")] = _try(
                    lambda k=k: _rows(r, k, verify=False)  # type: ignore[misc]
                )
        out.ops[("", "verify")] = _try(r.verify)
        out.ops[("", "object_graph")] = _try(lambda: _graph_summary(r))
    return out


def same_value(a: object, b: object) -> bool:
    """Exact equality: dtype, shape and bytes (NaN payloads included)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, np.generic) and isinstance(b, np.generic):  # get_tensor's 0-d values
        a, b = np.asarray(a), np.asarray(b)
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype == object:
            return bool(a.tolist() == b.tolist())
        return np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
    return a == b


class PromiseBroken(AssertionError):
    pass


def check_error(err: BaseException, what: str, key: str | None, blame: str | None = None) -> None:
    """`err` must be a CheckpointError naming a file (`blame`, when given) and `key`."""
    if not isinstance(err, CheckpointError):
        raise PromiseBroken(f"{what}: {type(err).__name__} escaped: {err!r}") from err
    if err.path is None:
        raise PromiseBroken(f"{what}: error names no file: {err!r}")
    if blame is not None and err.path != blame:
        raise PromiseBroken(f"{what}: error blames {err.path!r}, the damage is in {blame!r}")
    if key and err.key is None:
        raise PromiseBroken(f"{what}: error on tensor {key!r} names no tensor: {err}")


def check_promise(
    pristine: Outcome,
    mutated: Outcome,
    what: str,
    *,
    data_mutated: bool = False,
    blame: str | None = None,
    notes: Counter[str] | None = None,
) -> str:
    """Assert the promise for one mutated copy; return a one-word outcome for statistics.

    `data_mutated`: only a data shard was changed, so the reads that opted out of the
    checksum (`get_tensor(verify=False)`, `get_slice(verify=False)`) may differ from the
    pristine values, but only for a tensor whose verified read then fails its checksum.
    Verified `get_slice` rows get no such allowance.
    `blame`: the one file that was damaged; every error must name it.
    """
    if isinstance(mutated.opened, BaseException):
        check_error(mutated.opened, what + " [open]", None, blame)
        return "open-error"
    if isinstance(pristine.opened, BaseException):
        raise PromiseBroken(f"{what}: mutated copy opens but the pristine one does not")
    if mutated.opened != pristine.opened:
        raise PromiseBroken(f"{what}: keys differ: {mutated.opened} vs {pristine.opened}")
    result = "exact"
    for op, got in mutated.ops.items():
        key, kind = op
        if isinstance(got, BaseException):
            was = pristine.ops.get(op)
            check_error(
                got,
                f"{what} [{kind} {key!r}]",
                key,
                None if isinstance(was, BaseException) else blame,
            )
            result = "error"
            continue
        want = pristine.ops.get(op)
        if isinstance(want, BaseException):
            raise PromiseBroken(f"{what} [{kind} {key!r}]: succeeds on a copy, fails pristine")
        if not same_value(got, want):
            verified = mutated.ops.get((key, "get"))
            if (
                data_mutated
                and kind in ("rows_noverify", "get_noverify")
                and isinstance(verified, tfckpt_lite.ChecksumMismatchError)
            ):
                if notes is not None:
                    notes[f"unverified {kind} differs (verified read: checksum error)"] += 1
                continue
            raise PromiseBroken(f"{what} [{kind} {key!r}]: silent wrong value")
    return result
