"""One exception hierarchy for everything a checkpoint's *content* can do wrong.

Strategy: codecs deep inside the library know what is wrong ("bad varint at byte 17") but not
which file or tensor they were decoding. They raise a `CheckpointError` with only the message;
the reader layer, which does know, fills in `path` and `key` with `_with_context` on the way
out. Messages therefore always end up naming the file and, where there is one, the tensor.

Errors made by the *caller* (a duplicate name passed to a writer, a non-array value) are plain
`ValueError` / `TypeError`, never `CheckpointError`: that class means "this file is bad".

TF's names (`tf.errors`) sit in the same tree, so `except tf.errors.NotFoundError` code ports by
changing the import (`tfckpt_lite.errors`): `CheckpointError` is TF's `OpError` (with its
`error_code`), `NotFoundError` is the base of a missing file and a missing key, `DataLossError`
of damaged or foreign files, `UnimplementedError` of what cannot be decoded, and
`InvalidArgumentError` is what restoring a value into an object of another shape or dtype
raises (TF raises it there too). Each also stays the builtin it always was.
"""

from __future__ import annotations

import os
from typing import TypeVar

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "ChecksumMismatchError",
    "CorruptCheckpointError",
    "DataLossError",
    "InvalidArgumentError",
    "NotACheckpointError",
    "NotFoundError",
    "TensorNotFoundError",
    "UnimplementedError",
    "UnsupportedCheckpointError",
    "VerificationError",
]


class CheckpointError(Exception):
    """Base of every error caused by the content (or absence) of a checkpoint.

    Attributes:
        path: the file the problem was found in, when known.
        key: the tensor key involved, when there is one.
        error_code: TF's status code for the error class (`tf.errors.OpError.error_code`).
    """

    error_code: int = 2  # UNKNOWN
    op = None  # TF's OpError attributes; there are no ops here
    node_def = None

    def __init__(
        self, message: str, *, path: str | os.PathLike[str] | None = None, key: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = None if path is None else os.fspath(path)
        self.key = key

    def __str__(self) -> str:
        parts = [self.message]
        if self.key is not None:
            parts.append(f"tensor {self.key!r}")
        if self.path is not None:
            parts.append(f"file {self.path!r}")
        return "; ".join(parts)

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments are not restored by the default pickling of exceptions.
        return (_rebuild, (type(self), self.message, self.path, self.key))


def _rebuild(
    cls: type[CheckpointError], message: str, path: str | None, key: str | None
) -> CheckpointError:
    return cls(message, path=path, key=key)


class NotFoundError(CheckpointError):
    """TF's `NotFoundError`: a file or a tensor that does not exist."""

    error_code = 5


class DataLossError(CheckpointError, ValueError):
    """TF's `DataLossError`: unreadable content (damaged, or not a checkpoint at all)."""

    error_code = 15


class InvalidArgumentError(CheckpointError, ValueError):
    """TF's `InvalidArgumentError`: a stored value does not fit where it is asked to go (a
    restore into an array of another shape or dtype)."""

    error_code = 3


class UnimplementedError(CheckpointError, NotImplementedError):
    """TF's `UnimplementedError`."""

    error_code = 12


class CorruptCheckpointError(DataLossError):
    """The file is damaged: bad magic, truncated block, invalid entry, size mismatch, ..."""


class ChecksumMismatchError(CorruptCheckpointError):
    """A stored CRC32C does not match the bytes it covers."""


class VerificationError(CorruptCheckpointError):
    """Several tensors failed `verify(fail_fast=False)`; `errors` holds each one's error (a
    `ChecksumMismatchError`, a missing data file's `CheckpointNotFoundError`, ...), in key
    order, and the message lists them one per line."""

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        key: str | None = None,
        errors: tuple[CheckpointError, ...] = (),
    ) -> None:
        super().__init__(message, path=path, key=key)
        self.errors = errors

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_verification, (self.message, self.path, self.errors))


def _rebuild_verification(
    message: str, path: str | None, errors: tuple[CheckpointError, ...]
) -> VerificationError:
    return VerificationError(message, path=path, errors=errors)


class UnsupportedCheckpointError(UnimplementedError):
    """A valid checkpoint uses something this library cannot decode (e.g. DT_VARIANT values)."""


class NotACheckpointError(DataLossError):
    """The path exists but is not a TensorFlow checkpoint (e.g. a PyTorch or HDF5 file)."""


class CheckpointNotFoundError(NotFoundError, FileNotFoundError):
    """No checkpoint (or one of its files) exists at the path."""


class TensorNotFoundError(NotFoundError, KeyError):
    """The checkpoint has no tensor under the requested key."""

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message; keep it readable.
        return CheckpointError.__str__(self)


_E = TypeVar("_E", bound=CheckpointError)


def _with_context(err: _E, *, path: str | os.PathLike[str] | None, key: str | None = None) -> _E:
    """Fill in path/key on an error raised by a codec that did not know them."""
    if err.path is None and path is not None:
        err.path = os.fspath(path)
    if err.key is None and key is not None:
        err.key = key
    return err
