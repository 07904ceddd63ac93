"""Object-based (TF2) checkpoints from nested Python containers, and back.

Writing. `Checkpoint(**tree)` plays `tf.train.Checkpoint(**kwargs)` for a tree of dicts, lists
and arrays, producing the object graph TF builds for the equivalent `tf.Module` tree:
  * the root's children are the keyword arguments in sorted order (TF sorts kwargs), then
    `save_counter` once `save()` has run;
  * a dict is an object whose children are its keys in insertion order (a `tf.Module`'s
    attributes in assignment order, or a `_DictWrapper`'s keys: both give the same node);
  * a list or tuple is a `ListWrapper` node with children "0", "1", ...;
  * anything else is a variable leaf: one attribute VARIABLE_VALUE, full name "Variable" (as an
    unnamed `tf.Variable`), key `<escaped path>/.ATTRIBUTES/VARIABLE_VALUE`.
Node ids are breadth-first discovery order. The same ndarray met again is the same variable
(an edge to its first node, as one tf.Variable tracked twice). The same dict or list met again
is a new node each time, exactly as TF wraps a plain dict or list in a new _DictWrapper /
ListWrapper on every assignment (verified); a container inside itself is a ValueError.
Tensors go to the data file in node order and the graph last (FORMAT.md 6.5), so the bundle is
byte-identical to TF's for the same tree (tested against TF 2.21).

Editing. `Checkpoint.from_checkpoint(src)` keeps `src`'s graph bytes untouched (Keras' graphs
carry names, slots and full names we must not rebuild) and lets values be replaced by key
(`ckpt[key] = v`) or by object path (`ckpt.update_by_path("model/dense/kernel", v)`).

Reading. `load_tree(path)` turns a checkpoint into nested dicts following the graph (layout
documented there); name-based checkpoints nest by `/` in their names.
"""

from __future__ import annotations

import bisect
import collections
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from ._api import load_checkpoint
from ._dtypes import DType
from ._graph import GraphNode, ObjectGraph
from ._lazy import lazy_module
from ._naming import (
    OBJECT_ATTRIBUTES,
    OBJECT_GRAPH_KEY,
    OPTIMIZER_SLOT,
    SAVE_COUNTER,
    VARIABLE_VALUE,
    attribute_key,
    escape_local_name,
    split_path,
)
from ._state import update_checkpoint_state
from ._writer import BundleWriter, to_array

if TYPE_CHECKING:
    from ._proto import trackable_object_graph_pb2 as _pb

    _Obj = _pb.TrackableObjectGraph.TrackableObject
else:  # imported when a graph is first built: see _lazy
    _pb = lazy_module("tfckpt_lite._proto.trackable_object_graph_pb2")

__all__ = ["Checkpoint", "build_graph", "load_tree"]

MAX_TREE_NODES: Final = 1 << 24  # dicts repeated inside dicts can expand exponentially


def _is_container(value: object) -> bool:
    return isinstance(value, (Mapping, list, tuple))


def _children_of(value: object) -> list[tuple[str, object]]:
    if isinstance(value, Mapping):
        out = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"object names must be str, got {type(k).__name__} key {k!r}")
            out.append((k, v))
        return out
    assert isinstance(value, (list, tuple))
    return [(str(i), v) for i, v in enumerate(value)]


def build_graph(
    root_children: Sequence[tuple[str, object]],
    full_names: Mapping[str, str] | None = None,
) -> tuple[bytes, list[tuple[str, np.ndarray[Any, Any]]]]:
    """The serialized object graph and the `(key, array)` list, in TF's save order.

    `root_children` are the root's (local name, value) edges in order. `full_names` maps a
    root child name to the full name its variable gets (default "Variable").
    """
    full_names = full_names or {}
    graph = _pb.TrackableObjectGraph()
    values: list[tuple[str, np.ndarray[Any, Any]]] = []
    by_identity: dict[int, int] = {}  # id(ndarray) -> node: one array is one variable
    keep_alive: list[object] = []  # ids stay unique while the objects live
    # (node id, value, escaped path, ids of the containers on the way from the root)
    queue: collections.deque[tuple[int, object, str, frozenset[int]]] = collections.deque()
    graph.nodes.add()
    queue.append((0, dict(root_children), "", frozenset()))
    while queue:
        nid, value, path, ancestors = queue.popleft()
        node = graph.nodes[nid]
        if not _is_container(value):
            arr = to_array(value)
            key = attribute_key(path, VARIABLE_VALUE)
            name = full_names.get(path, "Variable")
            node.attributes.add(name=VARIABLE_VALUE, full_name=name, checkpoint_key=key)
            values.append((key, arr))
            continue
        inside = ancestors | {id(value)}
        for local, child in _children_of(value):
            esc = escape_local_name(local)
            child_path = f"{path}/{esc}" if path else esc
            if child is None:
                raise TypeError(f"{child_path}: None is not a tensor")
            if _is_container(child) and id(child) in inside:
                raise ValueError(f"{child_path}: the tree contains itself")
            cid = by_identity.get(id(child)) if isinstance(child, np.ndarray) else None
            if cid is None:
                cid = len(graph.nodes)
                if cid >= MAX_TREE_NODES:
                    raise ValueError(f"the tree expands to more than {MAX_TREE_NODES} objects")
                graph.nodes.add()
                if isinstance(child, np.ndarray):
                    by_identity[id(child)] = cid
                    keep_alive.append(child)
                queue.append((cid, child, child_path, inside))
            node.children.add(node_id=cid, local_name=local)
    _fill_has_checkpoint_values(graph)
    return graph.SerializeToString(), values


def _fill_has_checkpoint_values(graph: _pb.TrackableObjectGraph) -> None:
    """True on every node that has, or reaches, attributes, slots or a registered saver."""
    parents: dict[int, list[int]] = collections.defaultdict(list)
    for i, obj in enumerate(graph.nodes):
        for ref in obj.children:
            parents[ref.node_id].append(i)
        for s in obj.slot_variables:
            parents[s.slot_variable_node_id].append(i)
    marked = {
        i
        for i, obj in enumerate(graph.nodes)
        if obj.attributes or obj.slot_variables or obj.HasField("registered_saver")
    }
    stack = list(marked)
    while stack:
        for p in parents.get(stack.pop(), ()):
            if p not in marked:
                marked.add(p)
                stack.append(p)
    for i, obj in enumerate(graph.nodes):
        obj.has_checkpoint_values.value = i in marked


class Checkpoint:
    """A `tf.train.Checkpoint` for nested dicts / lists of arrays.

    Example:
        ckpt = tfckpt_lite.Checkpoint(model={"dense": {"kernel": k, "bias": b}}, step=np.int64(3))
        ckpt.write("out/model")            # exactly at out/model.{index,data-00000-of-00001}
        ckpt.save("runs/ckpt")             # runs/ckpt-1, and runs/checkpoint updated
        # TF: tf.train.Checkpoint(model=m, step=s).read("out/model").assert_consumed()

        ed = tfckpt_lite.Checkpoint.from_checkpoint("keras/weights")   # keep Keras' graph
        ed.update_by_path("layer_with_weights-0/kernel", new_kernel)
        ed.write("keras/edited")           # model.load_weights("keras/edited") works

    Attributes:
        tree: the keyword arguments (tree mode); edit freely before writing. None in graph mode.
        save_counter: number of `save()` calls so far (restored from the checkpoint in graph
            mode); None until the first save, in which case no `save_counter` is written.
    """

    def __init__(self, **tree: object) -> None:
        if SAVE_COUNTER in tree:
            raise ValueError("'save_counter' is reserved for the save counter")
        self.tree: dict[str, object] | None = dict(tree)
        self.save_counter: int | None = None
        self._graph_bytes: bytes | None = None
        self._values: dict[str, object] = {}
        self._dtypes: dict[str, DType] = {}
        self._source: str | None = None
        self._parsed: ObjectGraph | None = None  # graph mode: the kept graph, parsed once

    # -- graph mode -----------------------------------------------------------------------

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str]) -> Checkpoint:
        """Every tensor of an object-based checkpoint, with its graph kept byte for byte.

        Values are zero-copy, read-only views until replaced. The `save_counter` found under
        the root (if any) continues counting in `save()`.

        Raises:
            ValueError: the checkpoint is name-based (no object graph); use `load`/`save`.
        """
        self = cls.__new__(cls)
        self.tree = None
        self.save_counter = None
        self._parsed = None
        with load_checkpoint(path) as r:
            graph = r.object_graph
            if graph is None:
                raise ValueError(f"{r.prefix!r} has no object graph; use load() and save()")
            self._source = r.prefix
            self._parsed = graph
            self._graph_bytes = bytes(r[OBJECT_GRAPH_KEY].reshape(-1)[0])
            order = [k for k in graph.checkpoint_keys() if k in r]
            known = set(order)
            rest = sorted(k for k in r if k != OBJECT_GRAPH_KEY and k not in known)
            self._values = {k: r[k] for k in [*order, *rest]}
            # NumPy cannot tell qint8 from int8: remember TF's dtypes to write them back.
            self._dtypes = {k: r.dtype_info(k) for k in self._values}
            counter = graph.root.children.get(SAVE_COUNTER)
            if counter is not None and counter.value_key in self._values:
                self.save_counter = int(np.asarray(self._values[counter.value_key]).reshape(-1)[0])
        return self

    @property
    def graph(self) -> ObjectGraph:
        """The object graph `write()` would write now."""
        data, _ = self._compile()
        return ObjectGraph.from_bytes(data)

    def __getitem__(self, key: str) -> object:
        return dict(self.tensors())[key]

    def __setitem__(self, key: str, value: object) -> None:
        """Replace a tensor by checkpoint key (graph mode only)."""
        if self.tree is not None:
            raise TypeError("in tree mode edit `tree` or use update_by_path()")
        if key not in self._values:
            raise KeyError(f"{key!r} is not a tensor of this checkpoint")
        self._values[key] = value

    def update_by_path(
        self, path: str | Sequence[str], value: object, *, strict: bool = True
    ) -> str:
        """Replace the variable at an object path; returns the checkpoint key written.

        `path` is `/`-joined escaped local names (as in keys and `ObjectGraph.paths()`), or a
        list of raw local names. Any path to the object works, e.g. Keras 3's
        `optimizer/_trainable_variables/0` as well as `model/dense/kernel`. With `strict`, the
        new value must keep the old dtype and shape (TF refuses to restore otherwise).
        """
        if self.tree is not None:
            names = split_path(path)
            if not names:
                raise KeyError("the root is not a variable")
            parent: Any = self.tree
            for name in names[:-1]:
                parent = parent[int(name)] if isinstance(parent, (list, tuple)) else parent[name]
            last = names[-1]
            if isinstance(parent, list):
                parent[int(last)] = value
            elif isinstance(parent, dict):
                if last not in parent:
                    raise KeyError(f"{path!r}: no such object")
                parent[last] = value
            else:
                raise TypeError(f"{path!r}: cannot replace inside a {type(parent).__name__}")
            key = self.graph.find(names).value_key  # the canonical key, even via an alias
            assert key is not None
            return key
        if self._parsed is None:
            assert self._graph_bytes is not None
            self._parsed = ObjectGraph.from_bytes(self._graph_bytes, self._source)
        node = self._parsed.find(path)
        key = node.value_key
        if key is None or key not in self._values:
            raise KeyError(f"{path!r} owns no tensor")
        if strict:
            old, new = np.asarray(self._values[key]), to_array(value)
            if old.shape != new.shape or old.dtype != new.dtype:
                raise ValueError(
                    f"{path!r}: new value {new.dtype}{list(new.shape)} does not match the "
                    f"stored {old.dtype}{list(old.shape)} (pass strict=False to force)"
                )
        self._values[key] = value
        return key

    # -- writing --------------------------------------------------------------------------

    def _compile(self) -> tuple[bytes, list[tuple[str, object]]]:
        if self.tree is not None:
            children: list[tuple[str, object]] = sorted(self.tree.items(), key=lambda kv: kv[0])
            if self.save_counter is not None:
                children.append((SAVE_COUNTER, np.array(self.save_counter, dtype=np.int64)))
            data, values = build_graph(children, {SAVE_COUNTER: SAVE_COUNTER})
            return data, list(values)
        assert self._graph_bytes is not None
        data = self._graph_bytes
        vals: list[tuple[str, object]] = list(self._values.items())
        if self.save_counter is not None:
            data, key = _with_save_counter(data, self._source)
            counter = np.array(self.save_counter, dtype=np.int64)
            if key in self._values:
                vals = [(k, counter if k == key else v) for k, v in vals]
            else:
                vals.append((key, counter))
        return data, vals

    def tensors(self) -> Iterator[tuple[str, object]]:
        """`(key, value)` in the order `write()` stores them, the object graph last."""
        data, values = self._compile()
        yield from values
        yield OBJECT_GRAPH_KEY, np.array(data, dtype=object)

    def write(self, prefix: str | os.PathLike[str], *, fsync: bool = True) -> str:
        """Write the checkpoint at exactly `prefix` (atomically); returns the prefix."""
        with BundleWriter(prefix, fsync=fsync) as w:
            for key, value in self.tensors():
                arr = to_array(value)
                dt = self._dtypes.get(key)
                same = dt is not None and dt.numpy_dtype == arr.dtype.newbyteorder("<")
                w.add(key, arr, dtype=dt if same else None)
        return w.prefix

    def save(self, file_prefix: str | os.PathLike[str], *, fsync: bool = True) -> str:
        """Write `file_prefix-N` (N = the incremented save counter) and point the directory's
        `checkpoint` state file at it, as `tf.train.Checkpoint.save` does."""
        self.save_counter = (self.save_counter or 0) + 1
        prefix = f"{os.fspath(file_prefix)}-{self.save_counter}"
        self.write(prefix, fsync=fsync)
        update_checkpoint_state(
            os.path.dirname(prefix) or ".", prefix, [prefix], save_relative_paths=True, fsync=fsync
        )
        return prefix


def _with_save_counter(data: bytes, source: str | None) -> tuple[bytes, str]:
    """The graph with a root child `save_counter` (added if missing) and that variable's key."""
    graph = ObjectGraph.from_bytes(data, source)
    node = graph.root.children.get(SAVE_COUNTER)
    if node is not None:
        key = node.value_key
        if key is None:
            raise ValueError("the graph's 'save_counter' object holds no variable")
        return data, key
    proto = _pb.TrackableObjectGraph()
    proto.CopyFrom(graph.proto)
    key = attribute_key(SAVE_COUNTER, VARIABLE_VALUE)
    new_id = len(proto.nodes)
    obj = proto.nodes.add()
    obj.attributes.add(name=VARIABLE_VALUE, full_name=SAVE_COUNTER, checkpoint_key=key)
    obj.has_checkpoint_values.value = True
    proto.nodes[0].children.add(node_id=new_id, local_name=SAVE_COUNTER)
    proto.nodes[0].has_checkpoint_values.value = True
    return proto.SerializeToString(), key


# -- reading as a tree ----------------------------------------------------------------------


def load_tree(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A checkpoint as nested dicts following its object graph.

    Layout (object-based checkpoints):
      * keys are the children's local names, unescaped (a dict key "a.b/c" is "a.b/c"); a
        list (ListWrapper) is a dict too, with keys "0", "1", ...; objects without values
        (a Keras layer without weights, a tf.function) are empty dicts;
      * a variable (a node whose only content is one attribute) is its array;
      * other nodes are dicts of their children; a node that also owns attributes keeps them
        under ``".ATTRIBUTES"``: ``{attribute name: array}``;
      * optimizer slot variables live on the optimizer's dict under ``".OPTIMIZER_SLOT"``:
        ``{canonical variable path: {slot name: array}}``, e.g.
        ``tree["optimizer"][".OPTIMIZER_SLOT"]["model/dense/kernel"]["m"]``;
      * shared objects appear at every path that reaches them, as the same array or dict
        object (tf-keras ``layer-0`` *is* ``layer_with_weights-0``), except that an edge
        which would close a cycle (e.g. a child pointing back to its parent) is left out:
        the result never contains itself. Edges of the canonical (breadth-first) paths are
        always kept, so every tensor is reachable at the path its key names.
      * an attribute whose `checkpoint_key` is only a prefix of the stored keys (legacy
        saveables, e.g. a tf.data iterator's ITERATOR -> ITERATOR_STATE) gets the one tensor
        stored under it, or ``{suffix: array}`` for several; one with nothing stored (TF
        writes nothing for a variable that was never initialized) is left out.
    Name-based (TF1) checkpoints nest by ``/`` in the names; a name that is also the prefix of
    other names (``dense/kernel`` beside ``dense/kernel/Adam``) keeps its value under ``""``.
    """
    with load_checkpoint(path) as r:
        graph = r.object_graph
        if graph is None:
            return _nest_names({k: r[k] for k in r})
        return _graph_tree(graph, r)


def _nest_names(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in sorted(flat):
        parts = name.split("/")
        d = out
        for p in parts[:-1]:
            nxt = d.get(p)
            if nxt is None:
                nxt = d[p] = {}
            elif not isinstance(nxt, dict):
                nxt = d[p] = {"": nxt}  # a tensor that is also a name prefix moves to ""
            d = nxt
        last = parts[-1]
        existing = d.get(last)
        if isinstance(existing, dict):
            if "" in existing:
                raise ValueError(f"cannot nest {name!r}: its place is taken")
            existing[""] = flat[name]
        elif last in d:
            raise ValueError(f"cannot nest {name!r}: its place is taken")
        else:
            d[last] = flat[name]
    return out


_TREE_WORK: Final = 5_000_000  # reachability steps load_tree may spend on shared containers


def _graph_tree(graph: ObjectGraph, reader: Mapping[str, Any]) -> dict[str, Any]:
    canonical = graph.canonical_paths()  # reachable nodes, slot variables included
    order = list(canonical)  # breadth-first, then slot variables

    def is_leaf(node: GraphNode) -> bool:
        return not node.child_ids and not node.slot_variables and len(node.attributes) == 1

    sorted_keys = sorted(reader)

    def attribute_value(key: str) -> Any:
        # The exact key, or the tensors stored under it as a prefix (legacy saveables, e.g.
        # ITERATOR -> ITERATOR_STATE): one is its value, several a {suffix: value} dict.
        # None when nothing is stored (TF writes nothing for an uninitialized variable).
        if key in reader:
            return reader[key]
        lo = bisect.bisect_left(sorted_keys, key)
        hi = lo
        while hi < len(sorted_keys) and sorted_keys[hi].startswith(key):
            hi += 1
        found = sorted_keys[lo:hi]
        if not found:
            return None
        if len(found) == 1:
            return reader[found[0]]
        return {k[len(key) :]: reader[k] for k in found}

    built: dict[int, Any] = {}
    containers: set[int] = set()  # nodes built as dicts of children (not leaf values)
    for nid in order:
        node = graph[nid]
        if is_leaf(node):
            value = attribute_value(next(iter(node.attributes.values())).checkpoint_key)
            if value is not None:
                built[nid] = value
        else:
            built[nid] = {}
            containers.add(nid)

    # Which container edges to keep: first every edge of the breadth-first spanning tree (the
    # canonical paths), then each other edge unless it closes a cycle among kept edges.
    tree_edge: dict[int, tuple[int, str]] = {}  # child -> (parent, local name)
    for nid in order:
        for name, cid in graph[nid].child_ids:
            if cid != 0 and cid not in tree_edge:
                tree_edge[cid] = (nid, name)
    kept: dict[int, list[int]] = collections.defaultdict(list)
    for cid, (pid, _) in tree_edge.items():
        if cid in containers:
            kept[pid].append(cid)
    budget = [_TREE_WORK]

    def reaches(src: int, dst: int) -> bool:
        # Is dst reachable from src over kept edges? Out of budget counts as "yes" (drop).
        seen = {src}
        stack = [src]
        while stack:
            budget[0] -= 1
            if budget[0] < 0:
                return True
            n = stack.pop()
            if n == dst:
                return True
            for c in kept.get(n, ()):
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        return False

    for nid in order:
        if nid not in containers:
            continue
        obj = built[nid]
        node = graph[nid]
        for name, cid in node.child_ids:
            child = built.get(cid)
            if child is None:
                continue
            if cid not in containers or tree_edge.get(cid) == (nid, name):
                obj[name] = child
            elif not reaches(cid, nid):
                kept[nid].append(cid)
                obj[name] = child
        if node.attributes:
            attrs = {a.name: attribute_value(a.checkpoint_key) for a in node.attributes.values()}
            obj[OBJECT_ATTRIBUTES] = {k: v for k, v in attrs.items() if v is not None}
        if node.slot_variables:
            slots: dict[str, dict[str, Any]] = {}
            for s in node.slot_variables:
                var_path = canonical.get(s.original_variable)
                if var_path is None or s.slot_variable not in built:
                    continue
                slot = built[s.slot_variable]
                if s.slot_variable in containers and reaches(s.slot_variable, nid):
                    continue
                slots.setdefault(var_path, {})[s.slot_name] = slot
            obj[OPTIMIZER_SLOT] = slots
    root = built[0]
    assert isinstance(root, dict)
    return root
