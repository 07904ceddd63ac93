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
from ._convert import (
    ConversionReport,
    UnsupportedConversionError,
    from_npz,
    from_safetensors,
    to_npz,
    to_safetensors,
)
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
from ._torch import (
    BATCHNORM_RULES,
    LAYERNORM_RULES,
    conv1d_to_torch,
    conv2d_to_torch,
    conv3d_to_torch,
    dense_to_linear,
    depthwise_to_torch,
    rename_key,
    to_torch,
)
from ._writer import BundleWriter, save

__version__ = "0.1.0"

__all__ = [
    "BATCHNORM_RULES",
    "LAYERNORM_RULES",
    "Attribute",
    "BundleWriter",
    "Checkpoint",
    "CheckpointError",
    "CheckpointManager",
    "CheckpointNotFoundError",
    "CheckpointReader",
    "CheckpointState",
    "ChecksumMismatchError",
    "ConversionReport",
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
    "UnsupportedConversionError",
    "__version__",
    "conv1d_to_torch",
    "conv2d_to_torch",
    "conv3d_to_torch",
    "dense_to_linear",
    "depthwise_to_torch",
    "from_npz",
    "from_safetensors",
    "get_checkpoint_state",
    "latest_checkpoint",
    "list_variables",
    "load",
    "load_checkpoint",
    "load_tree",
    "load_variable",
    "rename_key",
    "save",
    "to_npz",
    "to_safetensors",
    "to_torch",
    "update_checkpoint_state",
]
