"""SavedModel metadata without TensorFlow: tag-sets, signatures, ops and variables.

A SavedModel directory holds (TF's `saved_model/constants.py`):

    DIR/saved_model.pb          a serialized `SavedModel`: one `MetaGraphDef` per tag-set
    DIR/saved_model.pbtxt       the same in protobuf text format (rare; used when no .pb)
    DIR/variables/variables.*   the variables, a tensor bundle (read by `load_checkpoint`)
    DIR/assets/, fingerprint.pb not read here

    SavedModel   = { saved_model_schema_version: int64 (1), meta_graphs: [MetaGraphDef] (2) }
    MetaGraphDef = { meta_info_def (1): { tags: [string] (4), tensorflow_version (5), ... },
                     graph_def (2): GraphDef, signature_def (5): map<string, SignatureDef> }
    SignatureDef = { inputs (1), outputs (2): map<string, TensorInfo>, method_name (3) }
    TensorInfo   = { oneof { name (1) | coo_sparse (4) | composite_tensor (5) },
                     dtype (2): DataType, tensor_shape (3): TensorShapeProto }

`proto/tfckpt_lite/_proto/{saved_model,meta_graph,graph,...}.proto` declare only these fields;
protobuf skips the rest of the file (the graph's attributes and constants, the object graph)
as unknown fields. What `saved_model_cli show --all` prints is reproduced line for line, except
its "Concrete Functions" part, which TensorFlow computes by loading the model and tracing its
functions: that needs TensorFlow.

Invariants enforced by `parse_saved_model` (each violation is a `CorruptCheckpointError`
naming the file):
  * the bytes parse as a `SavedModel` (binary, or text for ``.pbtxt``), under protobuf's 2 GiB
    limit and nesting limit;
  * there is at least one MetaGraphDef (TF's loader finds nothing to load otherwise);
  * every TensorInfo has a known `DataType` and a valid shape (dimensions >= -1, none when
    the rank is unknown), composite components included.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from google.protobuf import text_format
from google.protobuf.message import DecodeError

from ._dtypes import dtype_from_enum
from ._errors import CheckpointNotFoundError, CorruptCheckpointError
from ._lazy import lazy_module
from ._naming import SAVEDMODEL_PB, SAVEDMODEL_PBTXT

if TYPE_CHECKING:
    from ._inspect import TensorInfo
    from ._proto import meta_graph_pb2 as _mg
    from ._proto import saved_model_pb2 as _sm
    from ._proto import types_pb2 as _types
    from ._storage import FileSystem
else:  # imported on first use: see _lazy
    _sm = lazy_module("tfckpt_lite._proto.saved_model_pb2")
    _types = lazy_module("tfckpt_lite._proto.types_pb2")

__all__ = [
    "MAX_SAVED_MODEL_BYTES",
    "MetaGraph",
    "SavedModelInfo",
    "Signature",
    "SignatureTensor",
    "parse_saved_model",
    "saved_model_info",
]

MAX_SAVED_MODEL_BYTES: Final = (2 << 30) - 1  # protobuf's limit for one message
_CALL_OPS: Final = ("PartitionedCall", "StatefulPartitionedCall")


@dataclass(frozen=True)
class SignatureTensor:
    """One input or output of a signature.

    `name` is the graph tensor (``serving_default_x:0``); empty for a sparse or composite
    tensor, whose `encoding` is then ``"coo_sparse"`` or ``"composite_tensor"`` (else
    ``"name"``, or ``""`` when the writer set none). `dtype` is TF's name (``"float32"``;
    ``"invalid"`` for DT_INVALID, as on an init op's output), `dtype_enum` its DataType value.
    `shape` has -1 for an unknown dimension and is None when even the rank is unknown.
    """

    name: str
    dtype: str
    dtype_enum: int
    shape: tuple[int, ...] | None
    encoding: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "shape": None if self.shape is None else list(self.shape),
            "encoding": self.encoding,
        }


@dataclass(frozen=True)
class Signature:
    """A SignatureDef: named inputs and outputs (sorted by name) and the method name
    (``tensorflow/serving/predict``...)."""

    method_name: str
    inputs: Mapping[str, SignatureTensor]
    outputs: Mapping[str, SignatureTensor]

    def lines(self) -> list[str]:
        """What ``saved_model_cli show --tag_set T --signature_def K`` prints."""
        return _signature_lines(self, indent=0)

    def to_json(self) -> dict[str, Any]:
        return {
            "method_name": self.method_name,
            "inputs": {k: v.to_json() for k, v in self.inputs.items()},
            "outputs": {k: v.to_json() for k, v in self.outputs.items()},
        }


@dataclass(frozen=True)
class MetaGraph:
    """One MetaGraphDef: its tag-set (in stored order), the TF version that wrote it, its
    signatures (sorted by key) and the ops its graph and functions use."""

    tags: tuple[str, ...]
    tensorflow_version: str
    tensorflow_git_version: str
    signatures: Mapping[str, Signature]
    ops: frozenset[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "tags": list(self.tags),
            "tensorflow_version": self.tensorflow_version,
            "tensorflow_git_version": self.tensorflow_git_version,
            "signatures": {k: v.to_json() for k, v in self.signatures.items()},
            "ops": sorted(self.ops),
        }


@dataclass(frozen=True)
class SavedModelInfo:
    """What `saved_model_info` finds in a SavedModel directory.

    `meta_graphs` are in stored order; `variables` lists the tensors of
    ``variables/variables`` (empty when the model has none) with model paths as names when
    its checkpoint has an object graph.
    """

    path: str
    schema_version: int
    meta_graphs: tuple[MetaGraph, ...]
    variables: tuple[TensorInfo, ...]

    def meta_graph(self, tags: str | tuple[str, ...] = "serve") -> MetaGraph:
        """The MetaGraph with exactly this tag-set (a tuple, or one string of ``,``-separated
        tags, as saved_model_cli's ``--tag_set``), in any order."""
        want = set(tags.split(",") if isinstance(tags, str) else tags)
        for mg in self.meta_graphs:
            if set(mg.tags) == want:
                return mg
        have = "; ".join(repr(",".join(mg.tags)) for mg in self.meta_graphs)
        raise KeyError(f"no MetaGraph has the tag-set {','.join(sorted(want))!r}; it has {have}")

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "saved_model_schema_version": self.schema_version,
            "meta_graphs": [mg.to_json() for mg in self.meta_graphs],
            "variables": [v.to_json() for v in self.variables],
        }

    def lines(self, tags: str | tuple[str, ...] | None = None) -> list[str]:
        """`saved_model_cli show --all` output, line for line (the op set sorted), without
        its Concrete Functions part (that needs TensorFlow); only the MetaGraph with `tags`
        when given (see `meta_graph`)."""
        out: list[str] = []
        graphs = self.meta_graphs if tags is None else (self.meta_graph(tags),)
        for mg in sorted(graphs, key=lambda m: list(m.tags)):
            out += ["", f"MetaGraphDef with tag-set: '{', '.join(mg.tags)}' contains the "
                    "following SignatureDefs:"]  # fmt: skip
            for key, sig in mg.signatures.items():
                out += ["", f"signature_def['{key}']:"]
                out += _signature_lines(sig)
            ops = "{" + ", ".join(repr(o) for o in sorted(mg.ops)) + "}" if mg.ops else "set()"
            out.append(
                f"The MetaGraph with tag set {list(mg.tags)!r} contains the following ops: {ops}"
            )
        return out


def _signature_lines(sig: Signature, indent: int = 1) -> list[str]:
    pad = "  " * indent
    out = [f"{pad}The given SavedModel SignatureDef contains the following input(s):"]
    for key, t in sig.inputs.items():
        out += [f"{pad}  inputs['{key}'] tensor_info:", *_tensor_lines(t, pad)]
    out.append(f"{pad}The given SavedModel SignatureDef contains the following output(s):")
    for key, t in sig.outputs.items():
        out += [f"{pad}  outputs['{key}'] tensor_info:", *_tensor_lines(t, pad)]
    out.append(f"{pad}Method name is: {sig.method_name}")
    return out


def _tensor_lines(t: SignatureTensor, pad: str) -> list[str]:
    shape = "unknown_rank" if t.shape is None else "(" + ", ".join(map(str, t.shape)) + ")"
    dtype = _types.DataType.Name(t.dtype_enum)
    pad += "      "
    return [f"{pad}dtype: {dtype}", f"{pad}shape: {shape}", f"{pad}name: {t.name}"]


# -- parsing and validation -------------------------------------------------------------------


def _tensor(info: _mg.TensorInfo, where: str, path: str) -> SignatureTensor:
    # Composite tensors nest TensorInfos: check every component, without recursion.
    stack = [(info, where)]
    while stack:
        t, at = stack.pop()
        if t.dtype not in _types.DataType.values():
            raise CorruptCheckpointError(f"{at} has an unknown dtype enum {t.dtype}", path=path)
        shape = t.tensor_shape
        if shape.unknown_rank and len(shape.dim):
            raise CorruptCheckpointError(f"{at} has an unknown rank and dimensions", path=path)
        bad = [d.size for d in shape.dim if d.size < -1]
        if bad:
            raise CorruptCheckpointError(f"{at} has a dimension of size {bad[0]}", path=path)
        if t.WhichOneof("encoding") == "composite_tensor":
            comps = t.composite_tensor.components
            stack += [(c, f"{at}.components[{i}]") for i, c in enumerate(comps)]
    shape = info.tensor_shape
    dims = None if shape.unknown_rank else tuple(d.size for d in shape.dim)
    dtype = "invalid" if info.dtype == 0 else dtype_from_enum(info.dtype).name
    return SignatureTensor(info.name, dtype, info.dtype, dims, info.WhichOneof("encoding") or "")


def _ops(graph_def: Any) -> frozenset[str]:
    """The ops a graph uses, functions of its library followed into (TF's
    `meta_graph.ops_used_by_graph_def`): a node's op that names a function, and the function a
    `*PartitionedCall` runs, count through their nodes, not as ops."""
    functions = {f.signature.name: f for f in graph_def.library.function}
    used: set[str] = set()
    todo: list[Any] = []

    def mark(op: str) -> None:
        if op not in used and op in functions:
            todo.append(functions[op])
        used.add(op)

    def visit(nodes: Iterator[Any]) -> None:
        for node in nodes:
            mark(node.op)
            if node.op in _CALL_OPS:
                mark(node.attr["f"].func.name)

    visit(iter(graph_def.node))
    while todo:
        visit(iter(todo.pop().node_def))
    return frozenset(op for op in used if op not in functions)


def parse_saved_model(data: bytes, path: str, *, text: bool = False) -> tuple[int, list[MetaGraph]]:
    """Validate and decode the bytes of a ``saved_model.pb`` (``text=True``: a ``.pbtxt``);
    `path` names the file in errors. Returns the schema version and the MetaGraphs."""
    if len(data) > MAX_SAVED_MODEL_BYTES:
        raise CorruptCheckpointError(
            f"{len(data)} bytes exceed protobuf's limit of {MAX_SAVED_MODEL_BYTES}", path=path
        )
    proto = _sm.SavedModel()
    try:
        if text:
            text_format.Parse(
                data.decode("utf-8"),
                proto,
                allow_unknown_extension=True,
                allow_unknown_field=True,
            )
        else:
            proto.ParseFromString(data)
    except (DecodeError, text_format.ParseError, UnicodeDecodeError, ValueError) as e:
        raise CorruptCheckpointError(f"not a valid SavedModel: {e}", path=path) from None
    except RecursionError:
        raise CorruptCheckpointError(
            "not a valid SavedModel: nested too deeply", path=path
        ) from None
    if not proto.meta_graphs:
        raise CorruptCheckpointError("the SavedModel holds no MetaGraphDef", path=path)
    graphs = []
    for i, mg in enumerate(proto.meta_graphs):
        signatures = {}
        for key in sorted(mg.signature_def):
            sig = mg.signature_def[key]
            at = f"MetaGraphDef {i} signature_def[{key!r}]"
            inputs = {
                k: _tensor(sig.inputs[k], f"{at} input {k!r}", path) for k in sorted(sig.inputs)
            }
            outputs = {
                k: _tensor(sig.outputs[k], f"{at} output {k!r}", path) for k in sorted(sig.outputs)
            }
            signatures[key] = Signature(sig.method_name, inputs, outputs)
        info = mg.meta_info_def
        graphs.append(
            MetaGraph(
                tuple(info.tags),
                info.tensorflow_version,
                info.tensorflow_git_version,
                signatures,
                _ops(mg.graph_def),
            )
        )
    return proto.saved_model_schema_version, graphs


def _locate(path: str, fs: FileSystem) -> tuple[str, bool]:
    """The SavedModel file for `path` (a SavedModel directory, or its .pb/.pbtxt), and
    whether it is the text form."""
    if not fs.isdir(path):
        name = path.rsplit("/", 1)[-1]
        if name in (SAVEDMODEL_PB, SAVEDMODEL_PBTXT) and fs.isfile(path):
            return path, name == SAVEDMODEL_PBTXT
        if not fs.exists(path):
            raise CheckpointNotFoundError("no such SavedModel directory", path=path)
        raise CheckpointNotFoundError(
            f"not a SavedModel directory (pass the directory holding {SAVEDMODEL_PB})", path=path
        )
    for name, text in ((SAVEDMODEL_PB, False), (SAVEDMODEL_PBTXT, True)):
        candidate = fs.join(path, name)
        if fs.isfile(candidate):
            return candidate, text
    raise CheckpointNotFoundError(
        f"no {SAVEDMODEL_PB} or {SAVEDMODEL_PBTXT} in this directory: not a SavedModel", path=path
    )


def saved_model_info(
    path: str | os.PathLike[str], *, filesystem: FileSystem | Any | None = None
) -> SavedModelInfo:
    """Tags, signatures, ops and variables of a SavedModel, without TensorFlow.

    What ``saved_model_cli show --all --dir PATH`` shows (except concrete functions, which
    TensorFlow finds by loading the model), read from ``saved_model.pb`` (or ``.pbtxt``), plus
    the variables listed in ``variables/variables.index`` (values are not read).

    Args:
        path: the SavedModel directory (or its ``saved_model.pb``); a URL works as for
            `load_checkpoint`.
        filesystem: as for `load_checkpoint`.

    Example:
        info = tfckpt_lite.saved_model_info("export/1")
        sig = info.meta_graph("serve").signatures["serving_default"]
        sig.inputs["x"].dtype, sig.inputs["x"].shape      # ('float32', (-1, 3))

    Raises:
        CheckpointNotFoundError: no SavedModel there.
        CorruptCheckpointError: ``saved_model.pb`` (or the variables' index) is damaged.
    """
    from ._api import _filesystem, load_checkpoint
    from ._inspect import list_tensors
    from ._naming import OBJECT_GRAPH_KEY

    fs, where = _filesystem(os.fspath(path), filesystem)
    where = where.rstrip("/") or "/"
    pb, text = _locate(where, fs)
    data = fs.read_bytes(pb, MAX_SAVED_MODEL_BYTES + 1)
    version, graphs = parse_saved_model(data, pb, text=text)
    variables: tuple[TensorInfo, ...] = ()
    try:
        reader = load_checkpoint(fs.dirname(pb), filesystem=fs)
    except CheckpointNotFoundError:  # a SavedModel without variables (TF writes none then)
        reader = None
    if reader is not None:
        with reader:
            rows = list_tensors(reader, model_paths=True)
        variables = tuple(x for x in rows if x.key != OBJECT_GRAPH_KEY)
    return SavedModelInfo(pb, version, tuple(graphs), variables)
