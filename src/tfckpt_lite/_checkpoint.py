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
from ._errors import CheckpointNotFoundError, InvalidArgumentError
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
    nest_names,
    split_path,
)
from ._restore import (
    CheckpointLoadStatus,
    InitializationOnlyStatus,
    is_container,
    restore_by_name,
    restore_objects,
    tracked_children,
)
from ._sharding import CheckpointOptions
from ._state import update_checkpoint_state
from ._writer import to_array, write_tensors

if TYPE_CHECKING:
    from ._proto import trackable_object_graph_pb2 as _pb

    _Obj = _pb.TrackableObjectGraph.TrackableObject
else:  # imported when a graph is first built: see _lazy
    _pb = lazy_module("tfckpt_lite._proto.trackable_object_graph_pb2")

__all__ = ["Checkpoint", "GraphCheckpoint", "build_graph", "load_tree"]

MAX_TREE_NODES: Final = 1 << 24  # dicts repeated inside dicts can expand exponentially


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
    # id(ndarray or plain object) -> node: one array is one variable, one object one node
    by_identity: dict[int, int] = {}
    keep_alive: list[object] = []  # ids stay unique while the objects live
    # (node id, value, escaped path, ids of the containers on the way from the root)
    queue: collections.deque[tuple[int, object, str, frozenset[int]]] = collections.deque()
    graph.nodes.add()
    queue.append((0, dict(root_children), "", frozenset()))
    while queue:
        nid, value, path, ancestors = queue.popleft()
        node = graph.nodes[nid]
        if not is_container(value):
            try:
                arr = to_array(value)
            except (TypeError, ValueError) as e:
                raise type(e)(f"{path}: {e}") from None
            key = attribute_key(path, VARIABLE_VALUE)
            name = full_names.get(path, "Variable")
            node.attributes.add(name=VARIABLE_VALUE, full_name=name, checkpoint_key=key)
            values.append((key, arr))
            continue
        inside = ancestors | {id(value)}
        for local, child in tracked_children(value):
            esc = escape_local_name(local)
            child_path = f"{path}/{esc}" if path else esc
            if child is None:
                raise TypeError(f"{child_path}: None is not a tensor")
            shared = isinstance(child, np.ndarray) or (
                is_container(child) and not isinstance(child, (Mapping, list, tuple))
            )
            if not shared and is_container(child) and id(child) in inside:
                raise ValueError(f"{child_path}: the tree contains itself")
            cid = by_identity.get(id(child)) if shared else None
            if cid is None:
                cid = len(graph.nodes)
                if cid >= MAX_TREE_NODES:
                    raise ValueError(f"the tree expands to more than {MAX_TREE_NODES} objects")
                graph.nodes.add()
                if shared:
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


class _Writable:
    """What both kinds of checkpoint share: writing, saving and the counter.

    Subclasses say what to write (`_compile`: the graph bytes and `(key, value)` in order).
    """

    save_counter: int | None

    def _compile(self) -> tuple[bytes, list[tuple[str, object]]]:
        raise NotImplementedError

    def _stored_dtypes(self) -> Mapping[str, DType]:
        return {}

    @property
    def graph(self) -> ObjectGraph:
        """The object graph `write()` would write now."""
        data, _ = self._compile()
        return ObjectGraph.from_bytes(data)

    def tensors(self) -> Iterator[tuple[str, object]]:
        """`(key, value)` in the order `write()` stores them, the object graph last."""
        data, values = self._compile()
        yield from values
        yield OBJECT_GRAPH_KEY, np.array(data, dtype=object)

    def write(
        self,
        file_prefix: str | os.PathLike[str],
        options: CheckpointOptions | None = None,
        *,
        fsync: bool = True,
    ) -> str:
        """Write the checkpoint at exactly `file_prefix` (atomically); returns the prefix.

        `options`: a `CheckpointOptions`; its sharding callback (`MaxShardSizePolicy`) splits
        the data into several files as TF does.
        """
        known = self._stored_dtypes()
        items: list[tuple[str, object]] = []
        dtypes: dict[str, DType] = {}
        for key, value in self.tensors():
            arr = to_array(value)
            dt = known.get(key)
            if dt is not None and dt.numpy_dtype == arr.dtype.newbyteorder("<"):
                dtypes[key] = dt
            items.append((key, arr))
        return write_tensors(file_prefix, items, options=options, dtypes=dtypes, fsync=fsync)

    def save(
        self,
        file_prefix: str | os.PathLike[str],
        options: CheckpointOptions | None = None,
        *,
        fsync: bool = True,
    ) -> str:
        """Write `file_prefix-N` (N = the incremented save counter) and point the directory's
        `checkpoint` state file at it, as `tf.train.Checkpoint.save` does."""
        before = self.save_counter
        counter = (before or 0) + 1
        prefix = f"{os.fspath(file_prefix)}-{counter}"
        self.save_counter = counter
        try:
            self.write(prefix, options, fsync=fsync)
        except BaseException:
            self.save_counter = before  # a failed save does not count
            raise
        update_checkpoint_state(
            os.path.dirname(prefix) or ".", prefix, [prefix], save_relative_paths=True, fsync=fsync
        )
        return prefix


_RESERVED: Final = frozenset({"save_counter", "tree", "graph", "root"})


class Checkpoint(_Writable):
    """TF's `tf.train.Checkpoint` for NumPy state: arrays are the variables.

    Example:
        model = {"dense": {"kernel": k, "bias": b}}
        ckpt = tfckpt_lite.Checkpoint(model=model, step=np.int64(0))
        path = ckpt.save("runs/ckpt")            # runs/ckpt-1 + the `checkpoint` state file
        ckpt.restore(path).assert_consumed()     # fills k and b in place, replaces `step`
        # TF: tf.train.Checkpoint(model=m, step=s).restore(path) works on the same files

    Values may be arrays, NumPy or Python scalars, str/bytes, dicts, lists, tuples and plain
    Python objects (their attributes holding NumPy state are tracked by attribute name, as
    `tf.Module` tracks attributes); the layout rules are in the module docstring. Keyword
    arguments are also attributes (`ckpt.model`); assigning a new attribute adds an object.

    Attributes:
        save_counter: number of `save()` calls so far (or the restored checkpoint's); None
            until the first save or restore, and then no `save_counter` is written.
    """

    def __init__(self, root: object = None, **kwargs: object) -> None:
        for name in kwargs:
            if name in _RESERVED:
                raise ValueError(f"{name!r} is reserved by Checkpoint; pick another name")
        object.__setattr__(self, "_root", root)
        object.__setattr__(self, "_objects", dict(kwargs))
        object.__setattr__(self, "save_counter", None)

    @staticmethod
    def from_checkpoint(path: str | os.PathLike[str]) -> GraphCheckpoint:
        """Every tensor of an object-based checkpoint, its graph kept byte for byte, to edit
        and write again (see `GraphCheckpoint`).

        Raises:
            ValueError: the checkpoint is name-based (no object graph); use `load`/`save`.
        """
        return GraphCheckpoint(path)

    # -- objects ----------------------------------------------------------------------------

    @property
    def tree(self) -> dict[str, object]:
        """The keyword arguments (and attributes assigned since), by name; edit freely."""
        objects: dict[str, object] = self.__dict__["_objects"]
        return objects

    def __getattr__(self, name: str) -> object:
        objects = self.__dict__.get("_objects", {})
        if name in objects:
            return objects[name]
        raise AttributeError(f"'Checkpoint' object has no attribute {name!r}")

    def __setattr__(self, name: str, value: object) -> None:
        if name.startswith("_") or name in _RESERVED or hasattr(type(self), name):
            object.__setattr__(self, name, value)
        else:
            self.tree[name] = value

    def _root_children(self) -> list[tuple[str, object]]:
        root = self.__dict__["_root"]
        children = [] if root is None else tracked_children(root)
        children += sorted(self.tree.items(), key=lambda kv: kv[0])
        return children

    def _compile(self) -> tuple[bytes, list[tuple[str, object]]]:
        children = self._root_children()
        if self.save_counter is not None:
            children.append((SAVE_COUNTER, np.array(self.save_counter, dtype=np.int64)))
        data, values = build_graph(children, {SAVE_COUNTER: SAVE_COUNTER})
        return data, list(values)

    def __getitem__(self, key: str) -> object:
        """The value `write()` stores under checkpoint key `key`."""
        for k, v in self._compile()[1]:
            if k == key:
                return v
        raise KeyError(f"{key!r} is not a key this checkpoint writes")

    def update_by_path(self, path: str | Sequence[str], value: object) -> str:
        """Replace the variable at an object path; returns its checkpoint key.

        `path` is `/`-joined escaped local names (as in keys) or a list of raw local names.
        """
        names = split_path(path)
        if not names:
            raise KeyError("the root is not a variable")
        node: object = dict(self._root_children())
        parents: list[object] = []
        for name in names:
            kids = dict(tracked_children(node)) if is_container(node) else {}
            if name not in kids:
                raise KeyError(f"{path!r}: no object {name!r} there")
            parents.append(node)
            node = kids[name]
        parent, last = parents[-1], names[-1]
        if len(parents) == 1:
            self.tree[last] = value
        elif isinstance(parent, list):
            parent[int(last)] = value
        elif isinstance(parent, dict):
            parent[last] = value
        elif isinstance(parent, (tuple, Mapping)):
            raise TypeError(f"{path!r}: cannot replace inside a {type(parent).__name__}")
        else:
            setattr(parent, last, value)
        key = self.graph.find(names).value_key  # the canonical key, even via an alias
        assert key is not None
        return key

    # -- reading back ---------------------------------------------------------------------

    def read(
        self, save_path: str | os.PathLike[str], options: CheckpointOptions | None = None
    ) -> CheckpointLoadStatus:
        """Load `save_path` into these objects (TF's `read`: the `save_counter` is matched
        only if this checkpoint has one already); returns the status to assert on."""
        return self._load(save_path, with_counter=self.save_counter is not None)

    def restore(
        self, save_path: str | os.PathLike[str] | None, options: CheckpointOptions | None = None
    ) -> CheckpointLoadStatus | InitializationOnlyStatus:
        """Load `save_path` (a prefix, or a SavedModel directory) into these objects, the
        `save_counter` included, as TF's `restore`; `None` restores nothing.

        Arrays are filled in place; scalars, strings and read-only arrays are replaced in
        their container. Raises `InvalidArgumentError` (shape or dtype), naming the object
        path and both sides, before anything is changed.
        """
        if save_path is None:
            return InitializationOnlyStatus()
        return self._load(save_path, with_counter=True)

    def _load(
        self, save_path: str | os.PathLike[str], *, with_counter: bool
    ) -> CheckpointLoadStatus:
        if save_path is None:
            raise ValueError("save_path is None; restore(None) is the way to restore nothing")
        root_obj = self.__dict__["_root"]
        objects = self.tree
        root: dict[str, object] = dict(self._root_children())
        if with_counter:
            root[SAVE_COUNTER] = np.int64(self.save_counter or 0)
        try:
            reader = load_checkpoint(save_path)
        except CheckpointNotFoundError as e:
            raise CheckpointNotFoundError(
                f"Error when restoring from checkpoint or SavedModel at {os.fspath(save_path)}: "
                f"{e}. Please double-check that the path is correct. You may be missing the "
                "checkpoint suffix (e.g. the '-1' in 'path/to/ckpt-1').",
                path=e.path,
            ) from e
        with reader as r:
            graph = r.object_graph
            if graph is None:
                status = restore_by_name(root, list(r), r.__getitem__, r.prefix)
            else:
                status = restore_objects(root, graph, r.__getitem__, r.prefix)
        # Values replaced at the top level go back where they came from.
        for name, value in root.items():
            if name == SAVE_COUNTER:
                continue
            if name in objects:
                objects[name] = value
            elif root_obj is not None and not isinstance(root_obj, (Mapping, list, tuple)):
                setattr(root_obj, name, value)
            elif isinstance(root_obj, dict):
                root_obj[name] = value
        if with_counter:
            self.save_counter = int(np.asarray(root[SAVE_COUNTER]))
        return status


class GraphCheckpoint(_Writable):
    """An existing object-based checkpoint, its object graph kept byte for byte, with values
    to replace by key (`ckpt[key] = v`) or object path (`update_by_path`); `write()`/`save()`
    then give a checkpoint that the original program (Keras `load_weights`, TF's restore)
    still accepts. Made by `Checkpoint.from_checkpoint(path)`.

    Values are writable arrays of their own (see `CheckpointReader`): edit them in place or
    replace them. The `save_counter` found under the root (if any) continues counting in
    `save()`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        with load_checkpoint(path) as r:
            graph = r.object_graph
            if graph is None:
                raise ValueError(f"{r.prefix!r} has no object graph; use load() and save()")
            self.source: str = r.prefix
            self._graph = graph
            self._graph_bytes = bytes(r[OBJECT_GRAPH_KEY].reshape(-1)[0])
            order = [k for k in graph.checkpoint_keys() if k in r]
            known = set(order)
            rest = sorted(k for k in r if k != OBJECT_GRAPH_KEY and k not in known)
            self._values: dict[str, object] = {k: r[k] for k in [*order, *rest]}
            # NumPy cannot tell qint8 from int8: remember TF's dtypes to write them back.
            self._dtypes = {k: r.dtype_info(k) for k in self._values}
        self.save_counter: int | None = None
        counter = graph.root.children.get(SAVE_COUNTER)
        if counter is not None and counter.value_key in self._values:
            self.save_counter = int(np.asarray(self._values[counter.value_key]).reshape(-1)[0])

    def _stored_dtypes(self) -> Mapping[str, DType]:
        return self._dtypes

    def keys(self) -> list[str]:
        """The tensor keys, in write order (the object graph not included)."""
        return list(self._values)

    def __getitem__(self, key: str) -> object:
        if key == OBJECT_GRAPH_KEY:
            return np.array(self._compile()[0], dtype=object)
        try:
            return self._values[key]
        except KeyError:
            raise KeyError(f"{key!r} is not a tensor of this checkpoint") from None

    def __setitem__(self, key: str, value: object) -> None:
        """Replace a tensor by checkpoint key."""
        if key not in self._values:
            raise KeyError(f"{key!r} is not a tensor of this checkpoint")
        self._values[key] = value

    def update_by_path(
        self, path: str | Sequence[str], value: object, *, strict: bool = True
    ) -> str:
        """Replace the variable at an object path; returns the checkpoint key written.

        Any path to the object works, e.g. Keras 3's `optimizer/_trainable_variables/0` as
        well as `model/dense/kernel`. With `strict`, the new value must keep the old dtype and
        shape (TF refuses to restore otherwise).
        """
        node = self._graph.find(path)
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

    def _compile(self) -> tuple[bytes, list[tuple[str, object]]]:
        data = self._graph_bytes
        vals: list[tuple[str, object]] = list(self._values.items())
        if self.save_counter is not None:
            data, key = _with_save_counter(data, self.source)
            counter = np.array(self.save_counter, dtype=np.int64)
            if key in self._values:
                vals = [(k, counter if k == key else v) for k, v in vals]
            else:
                vals.append((key, counter))
        return data, vals


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
    Name-based (TF1) checkpoints nest by ``/`` in the names (`_naming.nest_names`); a name
    that is also the prefix of other names (``dense/kernel`` beside ``dense/kernel/Adam``)
    keeps its value under ``""``. Two names that cannot both be placed so (``a`` beside
    ``a/`` or ``a//b``) raise `InvalidArgumentError`.
    """
    with load_checkpoint(path) as r:
        graph = r.object_graph
        if graph is None:
            try:
                return nest_names((k, r[k]) for k in sorted(r))
            except ValueError as e:
                raise InvalidArgumentError(f"cannot nest the keys: {e}", path=r.prefix) from None
        return _graph_tree(graph, r)


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
        if nid and is_leaf(node):  # the root is always a dict, even one variable alone
            value = attribute_value(next(iter(node.attributes.values())).checkpoint_key)
            if value is not None:
                built[nid] = value
        else:
            built[nid] = {}
            containers.add(nid)

    # Which container edges to keep: first every edge of the breadth-first spanning tree (the
    # canonical paths: the edges the breadth-first walk enters a node by), then each other
    # edge unless it closes a cycle among kept edges.
    edges: dict[int, list[tuple[str, int, bool]]] = collections.defaultdict(list)
    kept: dict[int, list[int]] = collections.defaultdict(list)
    for step in graph.walk(breadth_first=True):
        entered = step.first_seen is None
        edges[step.parent.id].append((step.name, step.node.id, entered))
        if entered and step.node.id in containers:
            kept[step.parent.id].append(step.node.id)
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
        # A slot variable off every child path has edges no walk from the root meets.
        out = edges[nid] if nid in edges else [(n, c, False) for n, c in node.child_ids]
        for name, cid, entered in out:
            child = built.get(cid)
            if child is None:
                continue
            if cid not in containers or entered:
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
                if s.slot_variable in containers:
                    if reaches(s.slot_variable, nid):
                        continue
                    kept[nid].append(s.slot_variable)  # a way down that edges back must not close
                slots.setdefault(var_path, {})[s.slot_name] = slot
            obj[OPTIMIZER_SLOT] = slots
    root = built[0]
    assert isinstance(root, dict)
    return root
