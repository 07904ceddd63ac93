"""The TF2 object graph (`_CHECKPOINTABLE_OBJECT_GRAPH`) as navigable Python objects.

The tensor is a serialized `TrackableObjectGraph`: a list of nodes, node 0 the root. A node has
named edges to other nodes (`children`), the tensors it owns (`attributes`: local attribute name
-> bundle key), optimizer slot references, and an optional registered saver. TF restores by
walking these edges, never by parsing keys, so this graph is the authority on "what is where".

Invariants enforced by `ObjectGraph.from_bytes` (all violations are CorruptCheckpointError):
  * the bytes parse as the proto and stay under `MAX_GRAPH_BYTES`;
  * there is at least one node; every node id (children, slot references) is in range;
  * no node has two children, or two attributes, with the same name (restore would be
    ambiguous).
The graph may share nodes (one variable reachable from several paths, as Keras 3's
`optimizer/_trainable_variables/0`) and may contain cycles. Nothing here recurses: every walk is
an explicit queue or stack with a visited set or a work budget.

Object paths are the escaped paths of `_naming` (its docstring has the rules): exactly the
prefixes of keys. Slot variables, which hang off no `children` edge, have the path TF gives
their keys: `<variable path>/.OPTIMIZER_SLOT/<optimizer path>/<slot>`.
"""

from __future__ import annotations

import collections
import heapq
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, TypeAlias

from google.protobuf.message import DecodeError

from ._errors import CheckpointError, CorruptCheckpointError, TensorNotFoundError
from ._lazy import lazy_module
from ._naming import (
    OBJECT_GRAPH_KEY,
    OPTIMIZER_SLOT,
    VARIABLE_VALUE,
    VARIABLE_VALUE_SUFFIX,
    escape_local_name,
    split_path,
)

if TYPE_CHECKING:
    from ._proto import trackable_object_graph_pb2 as _pb
else:  # imported when a graph is first parsed or built: see _lazy
    _pb = lazy_module("tfckpt_lite._proto.trackable_object_graph_pb2")

__all__ = [
    "Attribute",
    "GraphNode",
    "ObjectGraph",
    "RegisteredSaver",
    "SlotVariable",
    "WalkStep",
    "model_name",
    "model_path",
]

MAX_GRAPH_BYTES: Final = (2 << 30) - 1  # protobuf's own limit for one message
MAX_PATHS: Final = 1000  # paths() returns at most this many
_PATH_WORK: Final = 200_000  # steps paths() may spend enumerating before it stops


# A path under construction as a linked list (name, rest), shared by every path that extends
# it, so a step adds a name in O(1): walk() links from the node back to the root, paths()
# (which searches from a node towards the root) from the root end.
_Names: TypeAlias = "tuple[str, _Names] | None"
# paths()'s queue entries: node id, the names below it, their count, its cyclic nodes.
_Partial: TypeAlias = "tuple[int, _Names, int, frozenset[int]]"


@dataclass(frozen=True)
class Attribute:
    """A tensor owned by a node: `name` (e.g. VARIABLE_VALUE) -> bundle `checkpoint_key`.

    `full_name` is the variable's graph name ("Variable" for an unnamed tf.Variable), used only
    by TF's name-based fallback.
    """

    name: str
    checkpoint_key: str
    full_name: str = ""


@dataclass(frozen=True)
class SlotVariable:
    """On an optimizer node: slot `slot_name` of node `original_variable` is `slot_variable`."""

    original_variable: int
    slot_name: str
    slot_variable: int


@dataclass(frozen=True)
class RegisteredSaver:
    name: str
    object_name: str


class WalkStep:
    """A child edge met by `ObjectGraph.walk`: `parent` --`name`--> `node`.

    `path` is the raw local names from the root to `node` along the walk; `first_seen`, when
    the walk met `node` before, is where (``()`` for the root), and `node` is not entered
    again. Both are built when read, so a walk that does not read them stays linear in the
    graph's size however deep it is.
    """

    __slots__ = ("_first", "_names", "_seen", "name", "node", "parent")

    def __init__(
        self,
        parent: GraphNode,
        name: str,
        node: GraphNode,
        names: _Names,
        first: _Names = None,
        seen: bool = False,
    ) -> None:
        self.parent = parent
        self.name = name
        self.node = node
        self._names = names
        self._first = first
        self._seen = seen

    @property
    def path(self) -> tuple[str, ...]:
        return _unroll(self._names)

    @property
    def first_seen(self) -> tuple[str, ...] | None:
        return _unroll(self._first) if self._seen else None

    def __repr__(self) -> str:
        seen = f", first seen at {self.first_seen!r}" if self._seen else ""
        return f"<WalkStep {self.path!r} -> node {self.node.id}{seen}>"


def _unroll(names: _Names) -> tuple[str, ...]:
    """The names of a linked list built leaf end first, root end first."""
    out: list[str] = []
    while names is not None:
        name, names = names
        out.append(name)
    out.reverse()
    return tuple(out)


class GraphNode:
    """One object of the graph. Identity is `id` (its index in the graph's node list)."""

    __slots__ = (
        "_children",
        "attributes",
        "child_ids",
        "graph",
        "has_checkpoint_values",
        "id",
        "registered_saver",
        "slot_variables",
    )

    def __init__(
        self,
        graph: ObjectGraph,
        node_id: int,
        child_ids: tuple[tuple[str, int], ...],
        attributes: Mapping[str, Attribute],
        slot_variables: tuple[SlotVariable, ...],
        registered_saver: RegisteredSaver | None,
        has_checkpoint_values: bool | None,
    ) -> None:
        self.graph = graph
        self.id = node_id
        #: (local name, node id) in the graph's order, names unescaped.
        self.child_ids = child_ids
        #: attribute name -> Attribute, in the graph's order.
        self.attributes = attributes
        self.slot_variables = slot_variables
        self.registered_saver = registered_saver
        #: The stored flag; None when the writer left it out (older TF versions).
        self.has_checkpoint_values = has_checkpoint_values
        self._children: Mapping[str, GraphNode] | None = None

    @property
    def children(self) -> Mapping[str, GraphNode]:
        """Local name (unescaped) -> child node, in the graph's order."""
        if self._children is None:
            nodes = self.graph.nodes
            self._children = MappingProxyType({n: nodes[i] for n, i in self.child_ids})
        return self._children

    @property
    def value_key(self) -> str | None:
        """The key of this node's VARIABLE_VALUE (or only) attribute; None if it owns none."""
        a = self.attributes.get(VARIABLE_VALUE)
        if a is None and len(self.attributes) == 1:
            a = next(iter(self.attributes.values()))
        return None if a is None else a.checkpoint_key

    @property
    def is_variable(self) -> bool:
        return VARIABLE_VALUE in self.attributes

    @property
    def path(self) -> str | None:
        """The node's canonical (first breadth-first) path; None if unreachable from the root."""
        return self.graph.path_of(self)

    def __repr__(self) -> str:
        what = [f"{len(self.child_ids)} children"] if self.child_ids else []
        what += [f"{a.name}={a.checkpoint_key!r}" for a in self.attributes.values()]
        if self.slot_variables:
            what.append(f"{len(self.slot_variables)} slots")
        return f"<GraphNode {self.id}: {', '.join(what) or 'empty'}>"


class ObjectGraph(Sequence[GraphNode]):
    """A checkpoint's object graph: a sequence of nodes (node 0 is the root).

    Example:
        g = tfckpt_lite.load_checkpoint("ckpt-3").object_graph
        g.root.children["model"].children["dense"].children["kernel"].attributes
        g.find("model/dense/kernel").value_key   # 'model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE'
        g.paths("optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE")  # Keras 3
        # ['optimizer/_trainable_variables/0', ..., 'model/_functional/_operations/1/_kernel']
    """

    def __init__(self, proto: _pb.TrackableObjectGraph, path: str | None = None) -> None:
        self.path = path
        self.proto = proto
        n = len(proto.nodes)
        if n == 0:
            raise CorruptCheckpointError(
                "object graph has no nodes", path=path, key=OBJECT_GRAPH_KEY
            )
        nodes: list[GraphNode] = []
        for i, obj in enumerate(proto.nodes):
            child_ids: list[tuple[str, int]] = []
            seen: set[str] = set()
            for ref in obj.children:
                self._check_id(ref.node_id, i, "child")
                if ref.local_name in seen:
                    raise CorruptCheckpointError(
                        f"object graph node {i} has two children named {ref.local_name!r}",
                        path=path,
                        key=OBJECT_GRAPH_KEY,
                    )
                seen.add(ref.local_name)
                child_ids.append((ref.local_name, ref.node_id))
            attrs: dict[str, Attribute] = {}
            for a in obj.attributes:
                if a.name in attrs:
                    raise CorruptCheckpointError(
                        f"object graph node {i} has two attributes named {a.name!r}",
                        path=path,
                        key=OBJECT_GRAPH_KEY,
                    )
                attrs[a.name] = Attribute(a.name, a.checkpoint_key, a.full_name)
            slots = []
            for s in obj.slot_variables:
                self._check_id(s.original_variable_node_id, i, "slot's original variable")
                self._check_id(s.slot_variable_node_id, i, "slot variable")
                slots.append(
                    SlotVariable(s.original_variable_node_id, s.slot_name, s.slot_variable_node_id)
                )
            saver = (
                RegisteredSaver(obj.registered_saver.name, obj.registered_saver.object_name)
                if obj.HasField("registered_saver")
                else None
            )
            hcv = obj.has_checkpoint_values.value if obj.HasField("has_checkpoint_values") else None
            nodes.append(
                GraphNode(
                    self, i, tuple(child_ids), MappingProxyType(attrs), tuple(slots), saver, hcv
                )
            )
        self.nodes: tuple[GraphNode, ...] = tuple(nodes)
        self._by_key: dict[str, GraphNode] = {}
        for node in self.nodes:
            for attr in node.attributes.values():
                self._by_key.setdefault(attr.checkpoint_key, node)
        self._canonical: dict[int, str] | None = None
        self._dist: dict[int, int] | None = None
        self._cyclic: frozenset[int] | None = None
        self._reverse: (
            tuple[dict[int, list[tuple[int, str]]], dict[int, list[tuple[int, SlotVariable]]]]
            | None
        ) = None

    def _check_id(self, node_id: int, at: int, what: str) -> None:
        if not 0 <= node_id < len(self.proto.nodes):
            raise CorruptCheckpointError(
                f"object graph node {at} refers to {what} node {node_id}, "
                f"but the graph has {len(self.proto.nodes)} nodes",
                path=self.path,
                key=OBJECT_GRAPH_KEY,
            )

    @classmethod
    def from_bytes(cls, data: bytes, path: str | None = None) -> ObjectGraph:
        """Parse and validate a serialized TrackableObjectGraph (`path` only names errors)."""
        if len(data) > MAX_GRAPH_BYTES:
            raise CorruptCheckpointError(
                f"object graph of {len(data)} bytes exceeds {MAX_GRAPH_BYTES}",
                path=path,
                key=OBJECT_GRAPH_KEY,
            )
        proto = _pb.TrackableObjectGraph()
        try:
            proto.ParseFromString(data)
        except (DecodeError, ValueError, RecursionError) as e:
            raise CorruptCheckpointError(
                f"object graph does not parse: {e}", path=path, key=OBJECT_GRAPH_KEY
            ) from None
        return cls(proto, path)

    def to_bytes(self) -> bytes:
        return self.proto.SerializeToString()

    # -- Sequence ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, i: int) -> GraphNode:  # type: ignore[override]
        return self.nodes[i]

    def __iter__(self) -> Iterator[GraphNode]:
        return iter(self.nodes)

    def __repr__(self) -> str:
        return f"<ObjectGraph {len(self.nodes)} nodes, {len(self._by_key)} tensors>"

    @property
    def root(self) -> GraphNode:
        return self.nodes[0]

    # -- lookups ----------------------------------------------------------------------------

    def owner(self, key: str) -> GraphNode:
        """The node whose attribute has checkpoint key `key`.

        An attribute's `checkpoint_key` may also be a *prefix* of the keys it owns: objects
        saved through a legacy SaveableObject (e.g. a tf.data iterator: attribute key
        `it/.ATTRIBUTES/ITERATOR`, tensor `it/.ATTRIBUTES/ITERATOR_STATE`) store their
        tensors under suffixed names, and TF's restore matches them by prefix too. The
        longest matching attribute key wins.
        """
        node = self._by_key.get(key)
        i = len(key)
        while node is None and i > 0:
            i -= 1
            node = self._by_key.get(key[:i])
        if node is None:
            raise TensorNotFoundError(
                "no object in the graph owns this key", path=self.path, key=key
            )
        return node

    def checkpoint_keys(self) -> list[str]:
        """Every checkpoint key the graph references, in node order."""
        return list(self._by_key)

    def _reverse_edges(
        self,
    ) -> tuple[dict[int, list[tuple[int, str]]], dict[int, list[tuple[int, SlotVariable]]]]:
        """child id -> [(parent id, escaped name)], and slot-variable id -> [(optimizer id,
        reference)]; built once, as paths() is typically called for every key."""
        if self._reverse is None:
            parents: dict[int, list[tuple[int, str]]] = collections.defaultdict(list)
            slots: dict[int, list[tuple[int, SlotVariable]]] = collections.defaultdict(list)
            for node in self.nodes:
                for name, cid in node.child_ids:
                    parents[cid].append((node.id, escape_local_name(name)))
                for s in node.slot_variables:
                    slots[s.slot_variable].append((node.id, s))
            self._reverse = (dict(parents), dict(slots))
        return self._reverse

    def _cyclic_nodes(self) -> frozenset[int]:
        """The nodes that lie on a cycle of child edges (a strongly connected component of
        two or more nodes, or a node that is its own child): the only nodes a path can
        reach twice. Tarjan's algorithm with an explicit stack."""
        if self._cyclic is None:
            index: dict[int, int] = {}
            low: dict[int, int] = {}
            on_stack: set[int] = set()
            stack: list[int] = []
            cyclic: set[int] = set()
            for root in range(len(self.nodes)):
                if root in index:
                    continue
                index[root] = low[root] = len(index)
                stack.append(root)
                on_stack.add(root)
                work = [(root, iter(self.nodes[root].child_ids))]
                while work:
                    nid, edges = work[-1]
                    for _, cid in edges:
                        if cid == nid:
                            cyclic.add(nid)
                        if cid not in index:
                            index[cid] = low[cid] = len(index)
                            stack.append(cid)
                            on_stack.add(cid)
                            work.append((cid, iter(self.nodes[cid].child_ids)))
                            break
                        if cid in on_stack:
                            low[nid] = min(low[nid], index[cid])
                    else:
                        work.pop()
                        if work:
                            parent = work[-1][0]
                            low[parent] = min(low[parent], low[nid])
                        if low[nid] == index[nid]:
                            component = []
                            while True:
                                member = stack.pop()
                                on_stack.discard(member)
                                component.append(member)
                                if member == nid:
                                    break
                            if len(component) > 1:
                                cyclic.update(component)
            self._cyclic = frozenset(cyclic)
        return self._cyclic

    def canonical_paths(self) -> dict[int, str]:
        """node id -> its first breadth-first path (TF's path for its keys); slots included."""
        if self._canonical is None:
            paths: dict[int, str] = {0: ""}
            queue = collections.deque([0])
            while queue:
                nid = queue.popleft()
                base = paths[nid]
                for name, cid in self.nodes[nid].child_ids:
                    if cid not in paths:
                        esc = escape_local_name(name)
                        paths[cid] = f"{base}/{esc}" if base else esc
                        queue.append(cid)
            # Slots: var path / .OPTIMIZER_SLOT / optimizer path / slot. Only when both ends
            # are reachable; a slot of a slot (never made by TF) resolves in a later round.
            pending = True
            while pending:
                pending = False
                for node in self.nodes:
                    if node.id not in paths:
                        continue
                    for s in node.slot_variables:
                        if s.slot_variable in paths or s.original_variable not in paths:
                            continue
                        paths[s.slot_variable] = (
                            f"{paths[s.original_variable]}/{OPTIMIZER_SLOT}/"
                            f"{paths[node.id]}/{escape_local_name(s.slot_name)}"
                        )
                        pending = True
            self._canonical = paths
        return self._canonical

    def _distances(self) -> dict[int, int]:
        """node id -> number of child edges on its shortest path from the root."""
        if self._dist is None:
            dist = {0: 0}
            queue = collections.deque([0])
            while queue:
                nid = queue.popleft()
                for _, cid in self.nodes[nid].child_ids:
                    if cid not in dist:
                        dist[cid] = dist[nid] + 1
                        queue.append(cid)
            self._dist = dist
        return self._dist

    def path_of(self, node: GraphNode | int) -> str | None:
        nid = node if isinstance(node, int) else node.id
        return self.canonical_paths().get(nid)

    def find(self, path: str | Sequence[str]) -> GraphNode:
        """The node at `path`: a `/`-joined string of escaped local names (as in keys), or a
        sequence of raw local names. `.OPTIMIZER_SLOT` paths reach slot variables.

        Raises:
            KeyError: no such path.
        """
        parts = split_path(path)
        node = self.root
        i = 0
        while i < len(parts):
            name = parts[i]
            if name == OPTIMIZER_SLOT and name not in node.children:
                if len(parts) - i < 2:
                    raise KeyError(f"{path!r}: {OPTIMIZER_SLOT} needs an optimizer path and a slot")
                optimizer = self.find(parts[i + 1 : -1])
                for s in optimizer.slot_variables:
                    if s.original_variable == node.id and s.slot_name == parts[-1]:
                        return self.nodes[s.slot_variable]
                raise KeyError(
                    f"{path!r}: the optimizer has no slot {parts[-1]!r} for that variable"
                )
            child = node.children.get(name)
            if child is None:
                raise KeyError(f"{path!r}: no child {name!r} at node {node.id}")
            node = child
            i += 1
        return node

    def walk(self, *, breadth_first: bool = False) -> Iterator[WalkStep]:
        """Every child edge from the root, children in the graph's order, depth first or
        breadth first: each node is entered once, at its first path; later edges to it
        (shared nodes, cycles) are reported with `first_seen` and not followed. Breadth first,
        the first path of a node is its canonical path (the one its keys are named by).
        Explicit stacks and queues: graphs may be deeper than Python's recursion limit."""
        seen: dict[int, _Names] = {0: None}
        if breadth_first:
            queue: collections.deque[tuple[GraphNode, _Names]] = collections.deque(
                [(self.root, None)]
            )
            while queue:
                parent, base = queue.popleft()
                for name, child in parent.children.items():
                    names = (name, base)
                    if child.id in seen:
                        yield WalkStep(parent, name, child, names, seen[child.id], True)
                        continue
                    seen[child.id] = names
                    yield WalkStep(parent, name, child, names)
                    queue.append((child, names))
            return
        stack: list[tuple[GraphNode, _Names, Iterator[tuple[str, GraphNode]]]] = [
            (self.root, None, iter(self.root.children.items()))
        ]
        while stack:
            parent, base, children = stack[-1]
            step = next(children, None)
            if step is None:
                stack.pop()
                continue
            name, child = step
            names = (name, base)
            if child.id in seen:
                yield WalkStep(parent, name, child, names, seen[child.id], True)
                continue
            seen[child.id] = names
            yield WalkStep(parent, name, child, names)
            stack.append((child, names, iter(child.children.items())))

    def paths(self, key_or_node: str | GraphNode | int, limit: int = MAX_PATHS) -> list[str]:
        """Every simple object path from the root to the node owning a key, shortest first.

        `key_or_node` is a checkpoint key, a node or a node id. Paths never visit a node twice,
        so cycles cannot make the list infinite; it is further cut at `limit` paths (and a fixed
        work budget), which only very densely shared graphs reach. Ties in length are in
        alphabetical order, except that the canonical path (the one TF used for the node's
        keys, its first breadth-first path) always comes first.
        """
        if isinstance(key_or_node, str):
            target = self.owner(key_or_node).id
        else:
            target = key_or_node if isinstance(key_or_node, int) else key_or_node.id
        if not 0 <= target < len(self.nodes):
            raise IndexError(f"node {target} is not in the graph")
        parents, slot_owners = self._reverse_edges()
        dist = self._distances()
        cyclic = self._cyclic_nodes()
        budget = [_PATH_WORK]

        def child_paths(tid: int, avoid: frozenset[int]) -> list[list[str]]:
            # Best-first walk of parent edges from `tid` back to the root. Priority is the
            # suffix length plus the node's distance from the root, a lower bound of the
            # full length, so complete paths come out shortest first even when cut short.
            # An edge never lowers the priority (dist[parent] >= dist[child] - 1), so the
            # queue is a FIFO per priority, taken in increasing order: O(1) a step. A
            # partial path is a shared linked list of names (name, rest); the nodes it
            # holds only need remembering where they lie on a cycle, since only those can
            # be met again (a repeat closes a cycle), so an acyclic stretch copies nothing.
            found: list[list[str]] = []
            if tid not in dist:
                return found
            start = frozenset({tid}) if tid in cyclic else frozenset()
            queues: dict[int, collections.deque[_Partial]] = {
                dist[tid]: collections.deque([(tid, None, 0, start)])
            }
            levels = [dist[tid]]  # priorities with a queue, a heap
            while levels and budget[0] > 0 and len(found) < limit:
                queue = queues[levels[0]]
                nid, names, n, on_path = queue.popleft()
                if not queue:
                    del queues[heapq.heappop(levels)]
                budget[0] -= 1
                if nid == 0:
                    path: list[str] = []
                    while names is not None:
                        name, names = names
                        path.append(name)
                    found.append(path)
                    continue
                for pid, esc in parents.get(nid, ()):
                    if pid in avoid or pid not in dist:
                        continue
                    seen = on_path
                    if pid in cyclic:
                        if pid in on_path:
                            continue
                        seen = on_path | {pid}
                    priority = n + 1 + dist[pid]
                    waiting = queues.get(priority)
                    if waiting is None:
                        waiting = queues[priority] = collections.deque()
                        heapq.heappush(levels, priority)
                    waiting.append((pid, (esc, names), n + 1, seen))
            return found

        results = {"/".join(p) for p in child_paths(target, frozenset())}
        for opt_id, s in slot_owners.get(target, ()):
            # A slot variable: var path / .OPTIMIZER_SLOT / optimizer path / slot name.
            var_paths = child_paths(s.original_variable, frozenset({target}))
            opt_paths = child_paths(opt_id, frozenset({target}))
            for vp in var_paths:
                for op in opt_paths:
                    results.add(
                        "/".join([*vp, OPTIMIZER_SLOT, *op, escape_local_name(s.slot_name)])
                    )
                    if len(results) >= limit:
                        break
        canonical = self.canonical_paths().get(target)
        if canonical is not None:
            results.add(canonical)  # even when the enumeration was cut short

        def rank(p: str) -> tuple[int, bool, str]:
            return (0 if p == "" else p.count("/") + 1, p != canonical, p)

        ordered = sorted(results, key=rank)
        return ordered[:limit]


def model_path(graph: ObjectGraph, key: str) -> str | None:
    """The object path a user knows a tensor by (``model/dense/kernel``): the first of
    `graph.paths(key)` that does not pass through an optimizer (Keras 3 reaches a Dense kernel
    first as ``optimizer/_trainable_variables/0``, and also as ``model/optimizer/...``), else
    the first path; None when the graph does not own `key`.

    Used wherever tensors are named by model path instead of storage key (conversions,
    `to_torch`, listings); names that collide there are the caller's error to report.
    """
    try:
        paths = graph.paths(key)
    except (LookupError, CheckpointError):
        return None
    for p in paths:
        if "optimizer" not in p.split("/"):
            return p
    return paths[0] if paths else None


def model_name(graph: ObjectGraph | None, key: str) -> str:
    """The name a tensor goes by when tensors are named by model path (conversions and edits
    with ``model_paths``/name-based output): its `model_path` or, when the graph does not own
    it, its key; either without ``/.ATTRIBUTES/VARIABLE_VALUE``."""
    path = model_path(graph, key) if graph is not None else None
    return (path or key).removesuffix(VARIABLE_VALUE_SUFFIX)
