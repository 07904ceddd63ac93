"""The `checkpoint` state file: a text-format `CheckpointState` proto.

    model_checkpoint_path: "ckpt-3"
    all_model_checkpoint_paths: "ckpt-2"
    all_model_checkpoint_paths: "ckpt-3"
    all_model_checkpoint_timestamps: 1795635003.0610116
    all_model_checkpoint_timestamps: 1795635003.07044
    last_preserved_timestamp: 1795635002.0468583

Reading and writing go through protobuf's own `text_format` with the generated
`checkpoint_state_pb2` (the same calls TF makes: `text_format.Merge` and
`text_format.MessageToString`), so escapes, string concatenation and float formatting are
exactly TF's. The file is the one part of a checkpoint directory that is rewritten in place,
so writes are atomic (`_storage.atomic_write`: temporary name, fsync, rename, fsync of the
directory).

Hostile files. A state file is never trusted further than this:
  * more than `MAX_STATE_BYTES`, not UTF-8, or not valid text format -> `CorruptCheckpointError`
    (TF logs a warning and returns None; we do not guess);
  * an empty `model_checkpoint_path` -> `CorruptCheckpointError` (TF: ValueError);
  * paths are only *names* here: reading never opens them, and `CheckpointManager` refuses to
    delete anything they name outside its own directory.
Files copied from Windows carry paths like "C:\\\\runs\\\\model.ckpt-1000"; they cannot exist
here, so they resolve to their last component inside the directory (TF would join the whole
string onto the directory, which never exists).
"""

from __future__ import annotations

import fnmatch
import ntpath
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from ._errors import CorruptCheckpointError
from ._lazy import lazy_module
from ._naming import STATE_FILENAME, index_filename
from ._storage import FileSystem, atomic_write, filesystem_for

if TYPE_CHECKING:
    from google.protobuf import text_format

    from ._proto import checkpoint_state_pb2
else:  # protobuf costs ~10 ms to import; only state-file calls need it
    text_format = lazy_module("google.protobuf.text_format")
    checkpoint_state_pb2 = lazy_module("tfckpt_lite._proto.checkpoint_state_pb2")

__all__ = [
    "CheckpointState",
    "format_state",
    "get_checkpoint_state",
    "latest_checkpoint_in",
    "parse_state",
    "read_state",
    "update_checkpoint_state",
]

MAX_STATE_BYTES: Final = 16 << 20


@dataclass
class CheckpointState:
    """The content of a `checkpoint` state file (field names as in TF's proto).

    `all_model_checkpoint_paths` runs oldest to newest; its last element is normally
    `model_checkpoint_path`. Timestamps are Unix seconds, one per path (or none at all).
    """

    model_checkpoint_path: str = ""
    all_model_checkpoint_paths: list[str] = field(default_factory=list)
    all_model_checkpoint_timestamps: list[float] = field(default_factory=list)
    last_preserved_timestamp: float = 0.0


def parse_state(text: bytes) -> CheckpointState:
    """Parse the text format as TF does (`text_format.Merge`); paths are returned as stored.

    Unknown fields are an error, as in TF (where the whole file is then ignored).
    """
    if len(text) > MAX_STATE_BYTES:
        raise CorruptCheckpointError(f"state file is larger than {MAX_STATE_BYTES} bytes")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptCheckpointError("state file is not UTF-8 text") from None
    msg = checkpoint_state_pb2.CheckpointState()
    try:
        text_format.Merge(decoded, msg)
    except (text_format.ParseError, ValueError, UnicodeError) as e:
        raise CorruptCheckpointError(
            f"state file is not a text-format CheckpointState: {e}"
        ) from None
    return CheckpointState(
        model_checkpoint_path=msg.model_checkpoint_path,
        all_model_checkpoint_paths=list(msg.all_model_checkpoint_paths),
        all_model_checkpoint_timestamps=list(msg.all_model_checkpoint_timestamps),
        last_preserved_timestamp=msg.last_preserved_timestamp,
    )


def format_state(state: CheckpointState) -> str:
    """The text TF writes for `state` (`text_format.MessageToString`, proto3 defaults omitted)."""
    msg = checkpoint_state_pb2.CheckpointState(
        model_checkpoint_path=state.model_checkpoint_path,
        all_model_checkpoint_paths=state.all_model_checkpoint_paths,
        all_model_checkpoint_timestamps=state.all_model_checkpoint_timestamps,
        last_preserved_timestamp=state.last_preserved_timestamp,
    )
    return text_format.MessageToString(msg)


def is_binary_state(path: str, fs: FileSystem) -> bool:
    """Whether the file named like a state file is binary: a V1 checkpoint table saved under the
    prefix `checkpoint` (a table starts with its first block's entry for key "": `00 00 ...`).
    Text state files never hold a NUL byte."""
    return b"\x00" in fs.read_bytes(path, 64)


def read_state(
    directory: str, fs: FileSystem | None = None, latest_filename: str | None = None
) -> CheckpointState | None:
    """The state file of `directory` with paths as stored, or None when there is none (or
    `checkpoint` is binary: a V1 checkpoint by that name, which TF's get_checkpoint_state
    also fails to parse)."""
    fs = fs or filesystem_for(directory)[0]
    path = fs.join(directory, latest_filename or STATE_FILENAME)
    if not fs.isfile(path) or is_binary_state(path, fs):
        return None
    try:
        return parse_state(fs.read_bytes(path, MAX_STATE_BYTES + 1))
    except CorruptCheckpointError as e:
        e.path = path
        raise


def _is_windows_path(p: str) -> bool:
    return (ntpath.isabs(p) and not os.path.isabs(p)) or ("\\" in p and "/" not in p)


def resolve_state_path(directory: str, p: str, fs: FileSystem) -> str:
    """A state-file path as a usable prefix: relative to the directory, or absolute."""
    if _is_windows_path(p):
        return fs.join(directory, ntpath.basename(p))
    if os.path.isabs(p):
        return p
    return fs.join(directory, p)


def get_checkpoint_state(
    checkpoint_dir: str | os.PathLike[str],
    latest_filename: str | None = None,
    *,
    filesystem: FileSystem | None = None,
) -> CheckpointState | None:
    """The `checkpoint` file of a directory, as `tf.train.get_checkpoint_state` returns it.

    Relative paths come back joined onto `checkpoint_dir` (absolute ones unchanged, Windows
    ones as their last component inside the directory). None when the file does not exist.

    Raises:
        CorruptCheckpointError: the file is unreadable, or names no model checkpoint.
    """
    directory = os.fspath(checkpoint_dir)
    fs = filesystem or filesystem_for(directory)[0]
    st = read_state(directory, fs, latest_filename)
    if st is None:
        return None
    if not st.model_checkpoint_path:
        raise CorruptCheckpointError(
            "state file has an empty model_checkpoint_path", path=fs.join(directory, STATE_FILENAME)
        )
    st.model_checkpoint_path = resolve_state_path(directory, st.model_checkpoint_path, fs)
    st.all_model_checkpoint_paths = [
        resolve_state_path(directory, p, fs) for p in st.all_model_checkpoint_paths
    ]
    return st


def generate_state(
    save_dir: str,
    model_checkpoint_path: str,
    all_paths: list[str],
    timestamps: Sequence[float] | None,
    last_preserved_timestamp: float | None,
) -> CheckpointState:
    # TF's generate_checkpoint_state_proto, step by step.
    if not all_paths or all_paths[-1] != model_checkpoint_path:
        all_paths.append(model_checkpoint_path)
    if timestamps and len(timestamps) != len(all_paths):
        raise ValueError(
            f"checkpoint timestamps must match checkpoint paths (got paths {all_paths} "
            f"and timestamps {list(timestamps)})"
        )
    if not os.path.isabs(save_dir):
        if not os.path.isabs(model_checkpoint_path):
            model_checkpoint_path = os.path.relpath(model_checkpoint_path, save_dir)
        all_paths = [p if os.path.isabs(p) else os.path.relpath(p, save_dir) for p in all_paths]
    return CheckpointState(
        model_checkpoint_path=model_checkpoint_path,
        all_model_checkpoint_paths=all_paths,
        all_model_checkpoint_timestamps=[float(t) for t in timestamps or ()],
        last_preserved_timestamp=float(last_preserved_timestamp or 0.0),
    )


def update_checkpoint_state(
    save_dir: str | os.PathLike[str],
    model_checkpoint_path: str,
    all_model_checkpoint_paths: Sequence[str] | None = None,
    latest_filename: str | None = None,
    all_model_checkpoint_timestamps: Sequence[float] | None = None,
    last_preserved_timestamp: float | None = None,
    *,
    save_relative_paths: bool = True,
    fsync: bool = True,
) -> str:
    """Rewrite `save_dir/checkpoint` (or `save_dir/latest_filename`) atomically; the text is
    byte-identical to TF's. Positional arguments in `tf.compat.v1.train.update_checkpoint_state`'s
    order.

    Mirrors TF's `update_checkpoint_state_internal`: with `save_relative_paths` absolute paths
    are stored relative to `save_dir` (what `tf.train.Checkpoint` and `CheckpointManager`
    do); without it they are stored as given (the TF1 `Saver` default). `model_checkpoint_path`
    is appended to the list if it is not its last element. Returns the state file's path.

    Raises:
        ValueError: timestamps given but not one per path, or a path names the state file.
    """
    directory = os.fspath(save_dir)
    state_path = os.path.join(directory, latest_filename or STATE_FILENAME)
    paths = list(all_model_checkpoint_paths or [])
    model = os.fspath(model_checkpoint_path)
    if save_relative_paths:
        model = os.path.relpath(model, directory) if os.path.isabs(model) else model
        paths = [os.path.relpath(p, directory) if os.path.isabs(p) else p for p in paths]
    st = generate_state(
        directory, model, paths, all_model_checkpoint_timestamps, last_preserved_timestamp
    )
    if st.model_checkpoint_path == state_path:
        raise ValueError(
            f"save path {model_checkpoint_path!r} conflicts with the checkpoint state file"
        )
    atomic_write(state_path, format_state(st).encode("utf-8"), fsync=fsync)
    return state_path


def matching_files(pattern: str, fs: FileSystem) -> list[str]:
    """TF's `get_matching_files` for one pattern: the path itself if it exists, or with glob
    characters in its last component, the files of its directory that match (sorted)."""
    if not _is_pattern(pattern, fs):
        return [pattern] if fs.exists(pattern) else []
    directory = fs.dirname(pattern)
    base = pattern[len(directory) :].lstrip("/\\") if directory else pattern
    if not fs.isdir(directory or "."):
        return []
    names = [n for n in fs.listdir(directory or ".") if fnmatch.fnmatchcase(n, base)]
    return [fs.join(directory, n) if directory else n for n in names]


def _is_pattern(path: str, fs: FileSystem) -> bool:
    """Whether the last component of `path` holds glob characters (TF matches only there)."""
    directory = fs.dirname(path)
    base = path[len(directory) :] if directory else path
    return any(c in base for c in "*?[")


def checkpoint_files(prefix: str, fs: FileSystem) -> list[str]:
    """TF's checkpoint_exists, as the paths it finds: `P.index` (V2), else `P` (V1), or for
    a V1 Saver's sharded pattern `P-?????-of-00002`, the files matching it."""
    return matching_files(index_filename(prefix), fs) or matching_files(prefix, fs)


def _exists(prefix: str, fs: FileSystem) -> bool:
    """`checkpoint_files`, but stricter than TF's latest_checkpoint, which also returns a
    directory the state file names (`/etc`): a V1 prefix counts only if it is a file, so
    what is returned can be opened. One request per candidate in a bucket."""
    if matching_files(index_filename(prefix), fs):
        return True
    if _is_pattern(prefix, fs):
        return any(fs.isfile(p) for p in matching_files(prefix, fs))
    return fs.isfile(prefix)


def latest_checkpoint_in(
    directory: str, fs: FileSystem | None = None, latest_filename: str | None = None
) -> str | None:
    """The prefix the state file names, if that checkpoint exists (as TF's latest_checkpoint).

    An absolute path that does not exist (a checkpoint directory moved or copied from another
    machine) falls back to the same name inside `directory`.
    """
    fs = fs or filesystem_for(directory)[0]
    st = read_state(directory, fs, latest_filename)
    if st is None or not st.model_checkpoint_path:
        return None
    prefix = resolve_state_path(directory, st.model_checkpoint_path, fs)
    if _exists(prefix, fs):
        return prefix
    moved = fs.join(directory, os.path.basename(prefix))
    if moved != prefix and _exists(moved, fs):
        return moved
    return None
