"""Turning whatever path a user has into a checkpoint to open.

Accepted, in this order:
  * a directory with a `checkpoint` state file      -> its latest checkpoint
  * a SavedModel directory                           -> `<dir>/variables/variables`
  * `P.index`, `P.data-NNNNN-of-NNNNN`, or `P` itself when `P.index` exists -> bundle P
  * a V1 checkpoint file (a table whose keys are SavedTensorSlices) -> handled by `_v1`
Anything else gets a `NotACheckpointError` that says what the file looks like instead
(PyTorch, HDF5/Keras, safetensors, NumPy, text) and what to pass.
"""

from __future__ import annotations

from typing import Final

from ._errors import CheckpointNotFoundError, NotACheckpointError
from ._naming import (
    INDEX_SUFFIX,
    SAVEDMODEL_VARIABLES,
    STATE_FILENAME,
    data_file_prefix,
    index_filename,
    is_temp_name,
    v1_shard_re,
)
from ._storage import FileSystem

__all__ = ["Resolved", "advice", "resolve", "sniff"]

_TABLE_MAGIC: Final = bytes.fromhex("57fb808b247547db")


class Resolved:
    """A checkpoint located on a filesystem: its format and prefix (or V1 file pattern)."""

    def __init__(self, fmt: str, prefix: str) -> None:
        self.format = fmt
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"Resolved({self.format!r}, {self.prefix!r})"


def sniff(head: bytes) -> str | None:
    """A human description of a non-checkpoint file from its first bytes, if recognisable."""
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (a PyTorch .pt/.ckpt file, a .keras file or a NumPy .npz)"
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5:
        return "a Python pickle (a PyTorch or pickle checkpoint)"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "an HDF5 file (a Keras .h5 weights file)"
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy file"
    if len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 1 << 30:
        return "a safetensors file"
    if head.startswith(b"model_checkpoint_path"):
        return "a TensorFlow checkpoint state file (pass its directory instead)"
    return None


def advice(path: str, what: str) -> str:
    """What to do instead, for a file `sniff` recognised (by content, then extension)."""
    lower = path.lower()
    if lower.endswith((".pt", ".pth", ".ckpt", ".bin")) and ("pickle" in what or "ZIP" in what):
        return (
            ". PyTorch files are read with torch.load(); tfckpt-lite reads TensorFlow "
            "checkpoints (a prefix P with P.index and P.data-* files beside it)"
        )
    if lower.endswith((".h5", ".hdf5", ".keras")) or "HDF5" in what:
        return (
            ". Keras .h5/.keras files are loaded with keras (or h5py). To write a TensorFlow "
            "checkpoint instead: with Keras 3, tf.train.Checkpoint(model=model).write('w') "
            "(its save_weights only writes .weights.h5); with tf-keras / Keras 2, "
            "model.save_weights('w') (TensorFlow format: w.index + w.data-*)"
        )
    if lower.endswith(".npz"):
        return ". To turn it into a checkpoint: tfckpt convert FILE.npz OUT_PREFIX"
    if "safetensors" in what:
        return ". To turn it into a checkpoint: tfckpt convert FILE.safetensors OUT_PREFIX"
    return ""


def resolve(path: str, fs: FileSystem) -> Resolved:
    # A prefix P with P.index wins over a directory P (a SavedModel folder `model/` beside
    # the checkpoint `model.index`), as TF's NewCheckpointReader(P) opens P.index; a trailing
    # `/` asks for the directory.
    as_dir = path.endswith("/") and len(path) > 1
    path = path.rstrip("/") or "/"
    if is_temp_name(path):
        raise NotACheckpointError(
            "this is a temporary file of an unfinished or interrupted save, not a checkpoint",
            path=path,
        )
    is_dir = fs.isdir(path)  # asked once: remotely, each question is a round trip or two
    if not as_dir and is_dir and fs.exists(index_filename(path)):
        return Resolved("v2", path)
    if is_dir:
        return _resolve_dir(path, fs)
    if path.endswith(INDEX_SUFFIX):
        if not fs.exists(path):
            raise CheckpointNotFoundError("index file does not exist", path=path)
        return Resolved("v2", path.removesuffix(INDEX_SUFFIX))
    prefix = data_file_prefix(path)
    if prefix is not None:
        if not fs.exists(index_filename(prefix)):
            raise CheckpointNotFoundError(
                f"this is a data shard, but its index {index_filename(prefix)!r} does not exist; a "
                "data file alone cannot be read (the index says where each tensor lies): "
                "copy the .index file beside it and pass the prefix",
                path=path,
            )
        return Resolved("v2", prefix)
    if fs.exists(index_filename(path)):
        return Resolved("v2", path)
    if fs.isfile(path):
        head = fs.read_bytes(path, 64)
        what = sniff(head)
        if what is not None:
            raise NotACheckpointError(
                f"not a TensorFlow checkpoint: this looks like {what}{advice(path, what)}",
                path=path,
            )
        return Resolved("v1", path)
    v1 = _v1_pattern(path, fs)
    if v1 is not None:
        return Resolved("v1", v1)
    raise CheckpointNotFoundError(
        "no checkpoint here: expected a prefix P with P.index beside it, a .index or .data "
        "file, a directory with a 'checkpoint' file, or a SavedModel directory",
        path=path,
    )


def _v1_pattern(path: str, fs: FileSystem) -> str | None:
    """The sharded V1 set `P-?????-of-NNNNN` when only its shards exist."""
    if any(c in path for c in "*?["):
        return path
    directory = fs.dirname(path) or "."
    base = path[len(directory) :].lstrip("/") if fs.dirname(path) else path
    if not fs.isdir(directory):
        return None
    pat = v1_shard_re(base)
    if any(pat.match(name) for name in fs.listdir(directory)):
        return path
    return None


def _resolve_dir(path: str, fs: FileSystem) -> Resolved:
    from ._state import is_binary_state, latest_checkpoint_in

    state = fs.join(path, STATE_FILENAME)
    if fs.isfile(state) and is_binary_state(state, fs):
        # Not a state file but a V1 checkpoint saved under the prefix `checkpoint` (with
        # write_state=False: a state file would have overwritten it). It is what the
        # directory names.
        return Resolved("v1", state)
    if fs.isfile(state):
        latest = latest_checkpoint_in(path, fs)
        if latest is None:
            raise CheckpointNotFoundError(
                "the 'checkpoint' state file names no checkpoint that exists", path=state
            )
        return resolve(latest, fs)
    variables = fs.join(path, *SAVEDMODEL_VARIABLES)
    if fs.exists(index_filename(variables)):
        return Resolved("v2", variables)
    early = _early_savedmodel_variables(fs.join(path, SAVEDMODEL_VARIABLES[0]), fs)
    if early is not None:
        return Resolved("v1", early)
    names = fs.listdir(path)
    indexes = [n.removesuffix(INDEX_SUFFIX) for n in names if n.endswith(INDEX_SUFFIX)]
    if len(indexes) == 1:
        return Resolved("v2", fs.join(path, indexes[0]))
    hint = (
        f"it holds several checkpoints ({', '.join(sorted(indexes)[:5])}); pass one prefix"
        if indexes
        else "it holds no '.index' file"
    )
    raise CheckpointNotFoundError(
        f"directory has no 'checkpoint' state file and is not a SavedModel; {hint}", path=path
    )


def _early_savedmodel_variables(variables_dir: str, fs: FileSystem) -> str | None:
    """The V1 checkpoint of a SavedModel from 2016 (TF 0.10-0.12): `variables/variables` or
    `variables/saved_model_variables`, as one file or as shards `...-00000-of-00001`."""
    if not fs.isdir(variables_dir):
        return None
    names = set(fs.listdir(variables_dir))
    for base in ("variables", "saved_model_variables"):
        if base in names and fs.isfile(fs.join(variables_dir, base)):
            return fs.join(variables_dir, base)
        shard = v1_shard_re(base)
        if any(shard.match(n) for n in names):
            return fs.join(variables_dir, base)
    return None
