"""tfckpt-lite: read and write TensorFlow checkpoints with NumPy alone.

    import tfckpt_lite as tfc
    weights = tfc.load("runs/ckpt-5")                  # dict of NumPy arrays
    tfc.save("out/model", {"w": w, "b": b})            # byte-identical to TF's SaveV2

Everything public is listed in `__all__`; modules starting with `_` are private.
"""

from ._api import (
    CheckpointReader,
    TensorSlicer,
    latest_checkpoint,
    list_variables,
    load,
    load_checkpoint,
    load_variable,
)
from ._checkpoint import Checkpoint, load_tree
from ._dtypes import DType
from ._errors import (
    CheckpointError,
    CheckpointNotFoundError,
    ChecksumMismatchError,
    CorruptCheckpointError,
    NotACheckpointError,
    TensorNotFoundError,
    UnsupportedCheckpointError,
)
from ._graph import Attribute, GraphNode, ObjectGraph, RegisteredSaver, SlotVariable
from ._manager import CheckpointManager
from ._state import CheckpointState, get_checkpoint_state, update_checkpoint_state
from ._writer import BundleWriter, save

__version__ = "0.1.0"

__all__ = [
    "Attribute",
    "BundleWriter",
    "Checkpoint",
    "CheckpointError",
    "CheckpointManager",
    "CheckpointNotFoundError",
    "CheckpointReader",
    "CheckpointState",
    "ChecksumMismatchError",
    "CorruptCheckpointError",
    "DType",
    "GraphNode",
    "NotACheckpointError",
    "ObjectGraph",
    "RegisteredSaver",
    "SlotVariable",
    "TensorNotFoundError",
    "TensorSlicer",
    "UnsupportedCheckpointError",
    "__version__",
    "get_checkpoint_state",
    "latest_checkpoint",
    "list_variables",
    "load",
    "load_checkpoint",
    "load_tree",
    "load_variable",
    "save",
    "update_checkpoint_state",
]
