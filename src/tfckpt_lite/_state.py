"""The `checkpoint` state file: a text-format `CheckpointState` proto.

    model_checkpoint_path: "ckpt-3"
    all_model_checkpoint_paths: "ckpt-2"
    all_model_checkpoint_paths: "ckpt-3"
    all_model_checkpoint_timestamps: 1795635003.0610116
    last_preserved_timestamp: 1795635002.0468583

Paths may be relative (to the file's directory) or absolute; files copied from Windows
machines carry paths like "C:\\\\runs\\\\model.ckpt-1000", which we resolve by their last
component inside the directory, since the absolute path cannot exist here.
"""

from __future__ import annotations

import fnmatch
import ntpath
import os
import re
from dataclasses import dataclass, field
from typing import Final

from ._errors import CorruptCheckpointError
from ._storage import FileSystem, LocalFileSystem

__all__ = ["CheckpointState", "latest_checkpoint_in", "parse_state", "read_state"]

MAX_STATE_BYTES: Final = 16 << 20
_LINE: Final = re.compile(r'\s*([A-Za-z_]+)\s*:\s*(".*"|\'.*\'|[-+0-9.eEinfaINFA]+)\s*$')


@dataclass
class CheckpointState:
    model_checkpoint_path: str = ""
    all_model_checkpoint_paths: list[str] = field(default_factory=list)
    all_model_checkpoint_timestamps: list[float] = field(default_factory=list)
    last_preserved_timestamp: float = 0.0


def _unquote(s: str) -> str:
    body = s[1:-1]
    raw = body.encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c != 0x5C:  # backslash
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise CorruptCheckpointError("bad escape at the end of a string in the state file")
        e = chr(raw[i + 1])
        simple = {
            "n": 10,
            "t": 9,
            "r": 13,
            "a": 7,
            "b": 8,
            "f": 12,
            "v": 11,
            "\\": 92,
            "'": 39,
            '"': 34,
            "?": 63,
        }
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e in "01234567":
            j = i + 1
            while j < min(n, i + 4) and chr(raw[j]) in "01234567":
                j += 1
            out.append(int(raw[i + 1 : j], 8) & 0xFF)
            i = j
        elif e in "xX":
            j = i + 2
            while j < min(n, i + 4) and chr(raw[j]) in "0123456789abcdefABCDEF":
                j += 1
            if j == i + 2:
                raise CorruptCheckpointError("bad \\x escape in the state file")
            out.append(int(raw[i + 2 : j], 16))
            i = j
        else:
            raise CorruptCheckpointError(f"unknown escape \\{e} in the state file")
    return out.decode("utf-8", "surrogateescape")


def parse_state(text: bytes) -> CheckpointState:
    """Parse the text format; unknown fields are ignored, malformed lines are an error."""
    if len(text) > MAX_STATE_BYTES:
        raise CorruptCheckpointError(f"state file is larger than {MAX_STATE_BYTES} bytes")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptCheckpointError("state file is not UTF-8 text") from None
    st = CheckpointState()
    for lineno, line in enumerate(decoded.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise CorruptCheckpointError(f"state file line {lineno} is not 'field: value'")
        name, value = m.groups()
        try:
            if name == "model_checkpoint_path":
                st.model_checkpoint_path = _unquote(value)
            elif name == "all_model_checkpoint_paths":
                st.all_model_checkpoint_paths.append(_unquote(value))
            elif name == "all_model_checkpoint_timestamps":
                st.all_model_checkpoint_timestamps.append(float(value))
            elif name == "last_preserved_timestamp":
                st.last_preserved_timestamp = float(value)
        except ValueError:
            raise CorruptCheckpointError(f"state file line {lineno} has a bad value") from None
    return st


def is_binary_state(path: str, fs: FileSystem) -> bool:
    """Whether the file named like a state file is binary: a V1 checkpoint table saved under the
    prefix `checkpoint` (a table starts with its first block's entry for key "": `00 00 ...`).
    Text state files never hold a NUL byte."""
    return b"\x00" in fs.read_bytes(path, 64)


def read_state(directory: str, fs: FileSystem | None = None) -> CheckpointState | None:
    """The directory's state file, or None when there is none (or `checkpoint` is binary: a
    V1 checkpoint by that name, which TF's get_checkpoint_state also fails to parse)."""
    fs = fs or LocalFileSystem()
    path = fs.join(directory, "checkpoint")
    if not fs.isfile(path) or is_binary_state(path, fs):
        return None
    try:
        return parse_state(fs.read_bytes(path, MAX_STATE_BYTES + 1))
    except CorruptCheckpointError as e:
        e.path = path
        raise


def resolve_state_path(directory: str, p: str, fs: FileSystem) -> str:
    """A state-file path as a usable prefix: relative to the directory, or absolute."""
    if (ntpath.isabs(p) and not os.path.isabs(p)) or ("\\" in p and "/" not in p):
        return fs.join(directory, ntpath.basename(p))
    if os.path.isabs(p):
        return p
    return fs.join(directory, p)


def _exists(prefix: str, fs: FileSystem) -> bool:
    """TF's checkpoint_exists: `P.index` (V2), the file `P` (V1) or, for the V1 Saver's sharded
    pattern `P-?????-of-00002`, any file matching it."""
    if fs.exists(prefix + ".index") or fs.isfile(prefix):
        return True
    directory = fs.dirname(prefix)
    base = prefix[len(directory) :].lstrip("/\\") if directory else prefix
    if not any(c in base for c in "*?[") or not fs.isdir(directory or "."):
        return False
    return any(fnmatch.fnmatchcase(n, base) for n in fs.listdir(directory or "."))


def latest_checkpoint_in(directory: str, fs: FileSystem | None = None) -> str | None:
    """The prefix the state file names, if that checkpoint exists (as TF's latest_checkpoint).

    An absolute path that does not exist (a checkpoint directory moved or copied from another
    machine) falls back to the same name inside `directory`.
    """
    fs = fs or LocalFileSystem()
    st = read_state(directory, fs)
    if st is None or not st.model_checkpoint_path:
        return None
    prefix = resolve_state_path(directory, st.model_checkpoint_path, fs)
    if _exists(prefix, fs):
        return prefix
    moved = fs.join(directory, os.path.basename(prefix))
    if moved != prefix and _exists(moved, fs):
        return moved
    return None
