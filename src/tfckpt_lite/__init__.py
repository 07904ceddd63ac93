"""tfckpt-lite: read and write TensorFlow checkpoints with NumPy alone.

    import tfckpt_lite as tfc
    weights = tfc.load("runs/ckpt-5")                  # dict of NumPy arrays
    tfc.save("out/model", {"w": w, "b": b})            # byte-identical to TF's SaveV2

Everything public is listed in `__all__`, plus namespaces: `tfckpt_lite.train` (shaped like
`tf.train`), `tfckpt_lite.errors` (TF's error names), `tfckpt_lite.torch` (PyTorch porting
building blocks) and `tfckpt_lite.transformers`. Modules starting with `_` are private.
"""

# Imported under private names: `dir(tfckpt_lite)` lists the public API only.
import importlib as _importlib
import typing as _typing

from ._api import (
    CheckpointReader,
    TensorSlicer,
    latest_checkpoint,
    list_variables,
    load,
    load_checkpoint,
    load_variable,
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
    VerificationError,
)
from ._version import __version__

# Exports whose modules load on first use (PEP 562): importing the writer, state-file,
# object-graph, manager, conversion, edit, SavedModel and PyTorch modules costs ~10 ms, against
# ~70 ms for a whole fresh process that reads one tensor. This table is the one list of them;
# the imports below only let type checkers see the same names (tests/test_fast_paths.py checks
# the two agree).
_LAZY: dict[str, tuple[str, ...]] = {
    "_checkpoint": ("Checkpoint", "load_tree"),
    "_convert": (
        "ConversionReport",
        "UnsupportedConversionError",
        "from_npz",
        "from_safetensors",
        "to_npz",
        "to_safetensors",
    ),
    "_distributed": ("merge_v2_checkpoints", "part_prefix"),
    "_edit": ("EditReport", "average", "edit", "merge", "reshard"),
    "_graph": ("GraphNode", "ObjectGraph"),
    "_manager": ("CheckpointManager",),
    "_saved_model": ("SavedModelInfo", "saved_model_info"),
    "_sharding": ("CheckpointOptions", "MaxShardSizePolicy"),
    "_state": ("CheckpointState", "get_checkpoint_state", "update_checkpoint_state"),
    "_torch": ("to_torch",),
    "_writer": ("BundleWriter", "save"),
}
_MODULE_OF: dict[str, str] = {name: module for module, names in _LAZY.items() for name in names}

if _typing.TYPE_CHECKING:
    from ._checkpoint import Checkpoint as Checkpoint
    from ._checkpoint import load_tree as load_tree
    from ._convert import ConversionReport as ConversionReport
    from ._convert import UnsupportedConversionError as UnsupportedConversionError
    from ._convert import from_npz as from_npz
    from ._convert import from_safetensors as from_safetensors
    from ._convert import to_npz as to_npz
    from ._convert import to_safetensors as to_safetensors
    from ._distributed import merge_v2_checkpoints as merge_v2_checkpoints
    from ._distributed import part_prefix as part_prefix
    from ._edit import EditReport as EditReport
    from ._edit import average as average
    from ._edit import edit as edit
    from ._edit import merge as merge
    from ._edit import reshard as reshard
    from ._graph import GraphNode as GraphNode
    from ._graph import ObjectGraph as ObjectGraph
    from ._manager import CheckpointManager as CheckpointManager
    from ._saved_model import SavedModelInfo as SavedModelInfo
    from ._saved_model import saved_model_info as saved_model_info
    from ._sharding import CheckpointOptions as CheckpointOptions
    from ._sharding import MaxShardSizePolicy as MaxShardSizePolicy
    from ._state import CheckpointState as CheckpointState
    from ._state import get_checkpoint_state as get_checkpoint_state
    from ._state import update_checkpoint_state as update_checkpoint_state
    from ._torch import to_torch as to_torch
    from ._writer import BundleWriter as BundleWriter
    from ._writer import save as save


__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "CheckpointReader",
    "ChecksumMismatchError",
    "CorruptCheckpointError",
    "DType",
    "NotACheckpointError",
    "TensorNotFoundError",
    "TensorSlicer",
    "UnsupportedCheckpointError",
    "VerificationError",
    "__version__",
    "latest_checkpoint",
    "list_variables",
    "load",
    "load_checkpoint",
    "load_variable",
]
__all__ += sorted(_MODULE_OF)


# Public submodules, imported on first attribute access: `tfckpt_lite.train` (shaped like
# `tf.train`) and `tfckpt_lite.errors` (TF's error names).
_SUBMODULES = frozenset({"errors", "train"})


def __getattr__(name: str) -> _typing.Any:
    if name in _SUBMODULES:
        return _importlib.import_module(f"tfckpt_lite.{name}")
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'tfckpt_lite' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"tfckpt_lite.{module}"), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
