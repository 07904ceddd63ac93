"""The checkpoint part of `tf.train` (and `tf.compat.v1.train`), same names and signatures:
code written for TF changes one import, ``import tfckpt_lite.train as train`` where it said
``tf.train``, and runs on NumPy arrays.

Differences that follow from having no graph: `init_from_checkpoint` takes the variables to
fill as a third argument (a mapping of current names to arrays), and a `Checkpoint`'s
variables are arrays, NumPy/Python scalars and plain objects (see `tfckpt_lite.Checkpoint`).
`experimental_*` options that concern devices or asynchronous saving are accepted and
ignored (see `CheckpointOptions`).
"""

from __future__ import annotations

import os
import types
from collections.abc import Collection, Mapping
from typing import Any

from . import _api, _sharding
from ._api import CheckpointReader, latest_checkpoint
from ._checkpoint import Checkpoint
from ._manager import (
    CheckpointManager,
    checkpoint_exists,
    checkpoints_iterator,
    generate_checkpoint_state_proto,
    get_checkpoint_mtimes,
    remove_checkpoint,
    wait_for_new_checkpoint,
)
from ._restore import init_from_checkpoint as _init_from_checkpoint
from ._sharding import CheckpointOptions
from ._state import CheckpointState, get_checkpoint_state, update_checkpoint_state

__all__ = [
    "Checkpoint",
    "CheckpointManager",
    "CheckpointOptions",
    "CheckpointReader",
    "CheckpointState",
    "NewCheckpointReader",
    "checkpoint_exists",
    "checkpoints_iterator",
    "experimental",
    "generate_checkpoint_state_proto",
    "get_checkpoint_mtimes",
    "get_checkpoint_state",
    "init_from_checkpoint",
    "latest_checkpoint",
    "list_variables",
    "load_checkpoint",
    "load_variable",
    "remove_checkpoint",
    "update_checkpoint_state",
    "wait_for_new_checkpoint",
]


def __dir__() -> list[str]:
    """The public names only (this module's own imports are not part of its API)."""
    return sorted(__all__)


#: `tf.train.experimental`: the sharding policies.
experimental = types.SimpleNamespace(
    MaxShardSizePolicy=_sharding.MaxShardSizePolicy,
    ShardableTensor=_sharding.ShardableTensor,
    ShardingCallback=_sharding.ShardingCallback,
)


def load_checkpoint(ckpt_dir_or_file: str | os.PathLike[str]) -> CheckpointReader:
    """`tf.train.load_checkpoint`: a reader for a checkpoint prefix, file or directory."""
    return _api.load_checkpoint(ckpt_dir_or_file)


def list_variables(ckpt_dir_or_file: str | os.PathLike[str]) -> list[tuple[str, list[int]]]:
    """`tf.train.list_variables`: ``[(name, shape)]``, sorted by name."""
    return _api.list_variables(ckpt_dir_or_file)


def load_variable(ckpt_dir_or_file: str | os.PathLike[str], name: str) -> Any:
    """`tf.train.load_variable`: one tensor's value (a NumPy scalar for 0-d tensors)."""
    return _api.load_variable(ckpt_dir_or_file, name)


def NewCheckpointReader(filepattern: str | os.PathLike[str]) -> CheckpointReader:
    """`tf.compat.v1.train.NewCheckpointReader`: a reader for a checkpoint prefix or file."""
    return load_checkpoint(filepattern)


def init_from_checkpoint(
    ckpt_dir_or_file: str | os.PathLike[str],
    assignment_map: Mapping[str, Any] | Collection[tuple[str, Any]],
    variables: Mapping[str, Any] | None = None,
) -> None:
    """`tf.compat.v1.train.init_from_checkpoint` for arrays: fill `variables` (current name ->
    array) from the checkpoint, with TF's assignment-map rules:

      * ``{'ckpt/var': 'current/var'}``: one variable (or the parts `current/var/part_0`, ...
        of a partitioned one, split along axis 0);
      * ``{'ckpt/scope/': 'current/scope/'}``: every current variable under the scope, from
        the tensor with the same name under the checkpoint's scope;
      * ``'/'`` on either side names the root: ``{'/': 'bert/'}`` loads every variable under
        `bert/` from the checkpoint's top level;
      * a value may also be the array itself, or a list of part arrays.
    Arrays are filled in place, and only once every target has been checked (names, shapes,
    dtypes): an error leaves everything as it was. TF raises ValueError for the same mistakes,
    with the same messages.
    """
    with load_checkpoint(ckpt_dir_or_file) as r:
        _init_from_checkpoint(
            os.fspath(ckpt_dir_or_file),
            assignment_map,
            variables or {},
            read=r.__getitem__,
            shapes=r.get_variable_to_shape_map(),
        )
