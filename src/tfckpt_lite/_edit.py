"""Checkpoint surgery: checkpoint -> checkpoint edits, streaming tensor by tensor.

Strategy: an edit is a *plan* made from the index and the object graph alone (no tensor is
read), then a *stream* that reads one source tensor at a time, casts it if asked, and hands it
to `BundleWriter`. Memory is the largest tensor (twice that while it is cast; `average` adds
one float64 accumulator). Nothing is written when planning fails, and the writer is atomic, so
every error (a bad argument, a damaged source tensor found mid-stream) leaves no output.

Planning, in order:
  1. which tensors stay: `strip` (rules below), `select`, `exclude`, `keep`;
  2. the object graph is pruned to what still holds them and renumbered breadth-first, and
     every key is recomputed from its node's new path, exactly as TF names keys (a Keras 3
     kernel first reached through `optimizer/_trainable_variables/0` gets its model path
     back once the optimizer is gone);
  3. `rename` rules run on the names that result (a key without `/.ATTRIBUTES/VARIABLE_VALUE`)
     and are carried into the graph as renamed edges; a rename the graph cannot express is a
     ValueError that suggests ``name_based=True`` (a flat, TF1-style checkpoint);
  4. `cast` picks floating tensors by glob.
Tensors go out in the new graph's node order, then the keys it does not own, sorted, then the
graph: TF's own order, so an edit that changes nothing, or a strip of a
`tf.train.Checkpoint(model=m, optimizer=o)`, gives TF's bytes for the same objects.

Strip rules (documented in docs/inference_prep.md; `keep` globs override them):
  * object-based checkpoints: the subtree under any edge named one of `OPTIMIZER_EDGES`, any
    node that owns optimizer slots (and so every slot variable), a scalar integer variable
    under an edge named one of `COUNTER_EDGES`, and an object holding no tensors under an edge
    named one of `COMPILE_EDGES`; other objects reachable from the root through anything else
    stay (Keras 3's model weights are also reachable from its optimizer);
  * keys the graph does not own, and name-based checkpoints: the regexes of
    `_torch.DEFAULT_EXCLUDE`, the one list of optimizer slot and counter names.

Globs (`select`, `exclude`, `keep`, `cast`) are shell patterns (`*` crosses `/`) tried
against the storage key, the key without `/.ATTRIBUTES/VARIABLE_VALUE` and every object path
of the tensor; a pattern also matches everything below the path it names (`optimizer`
matches `optimizer/iterations`). A pattern that matches nothing is an error (a typo would
otherwise silently change nothing).
"""

from __future__ import annotations

import bisect
import difflib
import fnmatch
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from ._backend import Progress
from ._dtypes import DType, dtype_from_name
from ._errors import CheckpointError, UnsupportedCheckpointError
from ._graph import ObjectGraph, model_name
from ._naming import (
    OBJECT_GRAPH_KEY,
    OPTIMIZER_SLOT,
    VARIABLE_VALUE_SUFFIX,
    unescape_local_name,
)
from ._storage import destination
from ._torch import DEFAULT_EXCLUDE, RenameRules, rename_key
from ._writer import BundleWriter

if TYPE_CHECKING:
    from ._api import CheckpointReader, ReaderOrPath
    from ._proto import trackable_object_graph_pb2 as _pb
    from ._sharding import ShardingCallback

__all__ = [
    "COMPILE_EDGES",
    "COUNTER_EDGES",
    "OPTIMIZER_EDGES",
    "EditReport",
    "average",
    "cast_array",
    "edit",
    "merge",
    "plan_edit",
    "reshard",
]

OPTIMIZER_EDGES: Final = frozenset({"optimizer", "_optimizer"})
"""Edge names whose whole subtree is optimizer state (tf-keras, Keras 3, tf.train.Checkpoint)."""
COUNTER_EDGES: Final = frozenset({"save_counter", "global_step", "step", "epoch", "iterations"})
"""Edge names that are bookkeeping when they lead to a scalar integer variable."""
COMPILE_EDGES: Final = frozenset(
    {
        "train_function",
        "train_tf_function",
        "test_function",
        "predict_function",
        "_compiled_trainable_state",
    }
)
"""Edge names of what `compile()`/`fit()` leave on a Keras model: objects with no tensors,
stripped so the output is what TF writes for a model that was never compiled."""

_VV: Final = VARIABLE_VALUE_SUFFIX
_CAST_TARGETS: Final = ("bfloat16", "float16", "float32", "float64")
_CHUNK: Final = 1 << 20  # elements per step when accumulating or checking casts
_NAME_RULES: Final = tuple(
    re.compile(p) for p in DEFAULT_EXCLUDE if not re.fullmatch(p, OBJECT_GRAPH_KEY)
)

Globs = str | Sequence[str] | None
CastSpec = str | Mapping[str, str] | Sequence[tuple[str, str]] | None
# `rename`: ordered (regex, replacement) rules, or a function of the name.
Rules = RenameRules | Callable[[str], str | None] | None


@dataclass
class EditReport:
    """What an edit wrote.

    Attributes:
        dst: the output prefix (or file, for conversions).
        written: output names in the order written (the object graph not counted).
        dropped: source key -> why it was left out.
        renamed: source key -> output name, for the names that changed.
        cast: output name -> ``"float32->bfloat16"``.
        overflow: output name -> number of finite values that became +-inf in the cast.
        shards: data files written.
    """

    dst: str
    written: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    cast: dict[str, str] = field(default_factory=dict)
    overflow: dict[str, int] = field(default_factory=dict)
    shards: int = 1

    def __str__(self) -> str:
        lines = [f"wrote {len(self.written)} tensors to {self.dst}"]
        if self.shards > 1:
            lines[0] += f" in {self.shards} shards"
        if self.dropped:
            reasons: dict[str, int] = {}
            for why in self.dropped.values():
                reasons[why] = reasons.get(why, 0) + 1
            lines.append(
                f"dropped {len(self.dropped)}: "
                + ", ".join(f"{n} {why}" for why, n in sorted(reasons.items()))
            )
        if self.renamed:
            lines.append(f"renamed {len(self.renamed)}")
        if self.cast:
            lines.append(f"cast {len(self.cast)}")
        for name, n in self.overflow.items():
            lines.append(f"warning: {name}: {n} finite values overflowed to inf in the cast")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Item:
    """One output tensor: `key` of source `src`, written as `name` (cast to `to`)."""

    src: int
    key: str
    name: str
    dtype: DType
    shape: tuple[int, ...]
    to: DType | None = None


@dataclass
class _Plan:
    items: list[_Item]
    graph: bytes | None
    report: EditReport


# -- globs ------------------------------------------------------------------------------------


def _as_list(globs: Globs, arg: str) -> list[str]:
    if globs is None:
        return []
    if isinstance(globs, str):
        return [globs]
    out = list(globs)
    for g in out:
        if not isinstance(g, str) or not g:
            raise TypeError(f"{arg}: patterns are non-empty str, got {g!r}")
    return out


class _Globs:
    """Shell patterns, each also matching everything below the path it names."""

    def __init__(self, patterns: list[str], arg: str, what: str = "tensor") -> None:
        self.arg = arg
        self.what = what
        self.patterns = patterns
        self._rx = [
            re.compile(f"(?:{fnmatch.translate(p)[:-2]})(?:/.*)?\\Z", re.DOTALL) for p in patterns
        ]
        self.used = [False] * len(patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def match(self, names: Iterable[str]) -> int | None:
        """Index of the first pattern matching one of `names`, else None."""
        names = list(names)
        for i, rx in enumerate(self._rx):
            if any(rx.match(n) for n in names):
                self.used[i] = True
                return i
        return None

    def check_used(self, universe: Iterable[str]) -> None:
        for p, used in zip(self.patterns, self.used):
            if not used:
                close = difflib.get_close_matches(p, list(universe), n=3, cutoff=0.5)
                hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
                raise ValueError(f"{self.arg}: pattern {p!r} matches no {self.what}{hint}")


def _compile_rules(rename: Rules) -> Rules:
    """Check regexes up front (a bad one is the caller's mistake, named); callables pass."""
    if rename is None or callable(rename):
        return rename
    if isinstance(rename, (str, bytes)):  # type: ignore[unreachable]
        raise TypeError("rename: a sequence of (regex, replacement) pairs, not a string")
    rules: list[tuple[str, str | None]] = []
    for i, rule in enumerate(rename):
        if not isinstance(rule, (tuple, list)) or len(rule) != 2:
            raise TypeError(f"rename[{i}]: a (regex, replacement) pair, got {rule!r}")
        pattern, repl = rule
        try:
            rx = re.compile(pattern)
        except re.error as e:
            raise ValueError(f"rename[{i}]: bad regex {pattern!r}: {e}") from None
        if repl is not None and not isinstance(repl, str):
            raise TypeError(f"rename[{i}]: the replacement is a str or None, got {repl!r}")
        rules.append((rx.pattern, repl))
    return rules


def _rename(name: str, rules: Rules) -> str | None:
    """`rename_key`, with a bad replacement template (``\\3`` of a 2-group pattern) reported
    as the caller's mistake, before anything is written."""
    try:
        return rename_key(name, rules)
    except (re.error, IndexError) as e:
        raise ValueError(f"rename: a rule fails on {name!r}: {e}") from None


def _cast_rules(cast: CastSpec) -> list[tuple[str, DType]]:
    if cast is None:
        return []
    pairs: list[tuple[str, str]]
    if isinstance(cast, str):
        pairs = [("*", cast)]
    elif isinstance(cast, Mapping):
        pairs = list(cast.items())
    else:
        pairs = [tuple(p) for p in cast]  # type: ignore[misc]
    out = []
    for glob, target in pairs:
        if target not in _CAST_TARGETS:
            raise ValueError(f"cast: target {target!r} is not one of {', '.join(_CAST_TARGETS)}")
        out.append((glob, dtype_from_name(target)))
    return out


def _is_float(dt: DType) -> bool:
    return dt.name == "bfloat16" or dt.name.startswith("float")


# -- which tensors are bookkeeping ------------------------------------------------------------


Edge = tuple[int, int]  # (parent node id, index among its children)


def _bookkeeping(
    reader: CheckpointReader, graph: ObjectGraph | None, keys: _Keys
) -> tuple[dict[str, str], set[Edge]]:
    """Source key -> reason for every tensor the strip rules remove, and the graph edges
    they cut."""
    out: dict[str, str] = {}
    cut: set[Edge] = set()
    owned: set[str] = set()
    if graph is not None:
        reach: set[int] = {0}
        stack = [0]
        while stack:
            node = graph.nodes[stack.pop()]
            for i, (name, cid) in enumerate(node.child_ids):
                if _strip_edge(reader, graph, name, cid):
                    cut.add((node.id, i))
                elif cid not in reach:
                    reach.add(cid)
                    stack.append(cid)
        slots = {s.slot_variable for n in graph.nodes for s in n.slot_variables}
        for node in graph.nodes:
            for attr in node.attributes.values():
                owned.update(keys.of(attr.checkpoint_key))
                if node.id not in reach:
                    why = "optimizer slot" if node.id in slots else "optimizer state or counter"
                    for k in keys.of(attr.checkpoint_key):
                        out[k] = why
    for k in keys.sorted:
        if k not in owned and k not in out and any(rx.search(k) for rx in _NAME_RULES):
            out[k] = "optimizer state or counter"
    return out, cut


def _first_edges(graph: ObjectGraph) -> dict[int, Edge]:
    """node id -> the edge by which breadth-first search first reaches it (TF's key path)."""
    via: dict[int, Edge] = {}
    queue = [0]
    for nid in queue:  # grows while iterating: a queue
        for i, (_, cid) in enumerate(graph.nodes[nid].child_ids):
            if cid not in via and cid != 0:
                via[cid] = (nid, i)
                queue.append(cid)
    return via


def _path_edges(via: Mapping[int, Edge], nid: int) -> list[Edge]:
    out = []
    while nid in via:
        out.append(via[nid])
        nid = via[nid][0]
    return out


def _strip_edge(reader: CheckpointReader, graph: ObjectGraph, name: str, cid: int) -> bool:
    child = graph.nodes[cid]
    if name in OPTIMIZER_EDGES or child.slot_variables:
        return True
    if name in COMPILE_EDGES:
        return child.has_checkpoint_values is False or (
            child.has_checkpoint_values is None and not child.attributes and not child.child_ids
        )
    if name in COUNTER_EDGES:
        key = child.value_key
        if key is not None and key in reader and not child.child_ids:
            dt = reader.dtype_info(key)
            return reader.shape(key) == () and dt.name.startswith(("int", "uint"))
    return False


class _Keys:
    """The bundle keys an attribute stores: its own key, or, for a legacy saveable whose
    attribute key is only a prefix (`it/.ATTRIBUTES/ITERATOR` stores `..._STATE`), the keys it
    prefixes. Sorted once, so each lookup is a bisection, not a scan."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.sorted = sorted(keys)
        self.set = set(self.sorted)

    def of(self, attr_key: str) -> list[str]:
        if attr_key in self.set:
            return [attr_key]
        i = bisect.bisect_left(self.sorted, attr_key)
        out = []
        while i < len(self.sorted) and self.sorted[i].startswith(attr_key):
            out.append(self.sorted[i])
            i += 1
        return out


# -- graph pruning, renumbering and re-keying -------------------------------------------------


def _prune(
    graph: ObjectGraph, kept: set[str], keys: _Keys, cut: set[Edge]
) -> tuple[_pb.TrackableObjectGraph, dict[str, str], set[str]] | None:
    """The graph without what no longer holds a kept tensor, renumbered breadth-first as TF
    numbers nodes, keys recomputed from the new paths. Returns (proto, old key -> new key,
    the kept keys the graph still owns), or None when nothing of the graph is left."""
    from ._checkpoint import _fill_has_checkpoint_values
    from ._proto import trackable_object_graph_pb2 as pb

    nodes = graph.nodes
    n = len(nodes)
    # An attribute stays while one of its tensors does; one that never had a tensor in this
    # bundle (an uninitialized variable of a SavedModel) stays as it was.
    attrs_kept = [
        [
            a
            for a in nd.attributes.values()
            if not keys.of(a.checkpoint_key) or any(k in kept for k in keys.of(a.checkpoint_key))
        ]
        for nd in nodes
    ]
    # Which nodes held values at all: those that never did (a layer without weights) stay
    # as TF would write them; those that lost every value go.
    parents: list[list[int]] = [[] for _ in range(n)]
    for nd in nodes:
        for i, (_, cid) in enumerate(nd.child_ids):
            if (nd.id, i) not in cut:
                parents[cid].append(nd.id)
        for s in nd.slot_variables:
            parents[s.slot_variable].append(nd.id)
    had = _upward(
        {i for i, nd in enumerate(nodes) if nd.attributes or nd.registered_saver}, parents
    )
    dead: set[int] = set()
    while True:
        reach = _reach(graph, dead, cut)
        has = _upward(
            {i for i in reach if attrs_kept[i] or nodes[i].registered_saver},
            [[p for p in parents[i] if p in reach] for i in range(n)],
        )
        new_dead = {i for i in reach if i in had and i not in has}
        if not new_dead - dead:
            break
        dead |= new_dead
    if 0 in dead:
        return None
    reach = _reach(graph, dead, cut)
    # Breadth-first over the kept children, then the slot variables (TF appends those).
    order = [0]
    seen = {0}
    for nid in order:  # grows while iterating: a queue
        for i, (_, cid) in enumerate(nodes[nid].child_ids):
            if cid in reach and cid not in seen and (nid, i) not in cut:
                seen.add(cid)
                order.append(cid)
    order += sorted(reach - seen)
    new_id = {old: new for new, old in enumerate(order)}
    proto = pb.TrackableObjectGraph()
    for old in order:
        src = graph.proto.nodes[old]
        dst = proto.nodes.add()
        dst.CopyFrom(src)
        del dst.children[:]
        for i, ref in enumerate(src.children):
            if ref.node_id in new_id and (old, i) not in cut:
                r = dst.children.add()
                r.CopyFrom(ref)
                r.node_id = new_id[ref.node_id]
        del dst.attributes[:]
        keep_names = {a.name for a in attrs_kept[old]}
        for a in src.attributes:
            if a.name in keep_names:
                dst.attributes.add().CopyFrom(a)
        del dst.slot_variables[:]
        for sref in src.slot_variables:
            orig, slot = sref.original_variable_node_id, sref.slot_variable_node_id
            if orig in new_id and slot in new_id:
                r2 = dst.slot_variables.add()
                r2.CopyFrom(sref)
                r2.original_variable_node_id = new_id[orig]
                r2.slot_variable_node_id = new_id[slot]
    if any(nd.has_checkpoint_values is not None for nd in nodes):
        _fill_has_checkpoint_values(proto)
    key_map = _rekey(graph, proto, order, keys)
    owned = {k for old in order for a in attrs_kept[old] for k in keys.of(a.checkpoint_key)}
    return proto, key_map, owned & kept


def _reach(graph: ObjectGraph, dead: set[int], cut: set[Edge]) -> set[int]:
    """Nodes reachable from the root avoiding `dead` nodes and `cut` edges; slot variables
    when their optimizer and their variable both are."""
    reach = {0}
    stack = [0]
    changed = True
    while changed:
        while stack:
            nid = stack.pop()
            for i, (_, cid) in enumerate(graph.nodes[nid].child_ids):
                if cid not in reach and cid not in dead and (nid, i) not in cut:
                    reach.add(cid)
                    stack.append(cid)
        changed = False
        for nid in sorted(reach):
            for s in graph.nodes[nid].slot_variables:
                sid = s.slot_variable
                if sid not in reach and sid not in dead and s.original_variable in reach:
                    reach.add(sid)
                    stack.append(sid)
                    changed = True
    return reach


def _upward(start: set[int], parents: Sequence[Sequence[int]]) -> set[int]:
    out = set(start)
    stack = list(start)
    while stack:
        for p in parents[stack.pop()]:
            if p not in out:
                out.add(p)
                stack.append(p)
    return out


def _rekey(
    old: ObjectGraph, proto: _pb.TrackableObjectGraph, order: Sequence[int], keys: _Keys
) -> dict[str, str]:
    """Set every attribute's key from its node's new canonical path; old key -> new key.

    A key is rewritten only where it starts with its node's old path (always, for keys TF
    wrote); the part after the path (`/.ATTRIBUTES/...`) is kept."""
    old_paths = old.canonical_paths()
    new_paths = ObjectGraph(proto).canonical_paths()
    out: dict[str, str] = {}
    for new, oid in enumerate(order):
        op, np_ = old_paths.get(oid), new_paths.get(new)
        for a in proto.nodes[new].attributes:
            k = a.checkpoint_key
            if op is None or np_ is None or op == np_ or not op or not k.startswith(op + "/"):
                continue
            a.checkpoint_key = np_ + k[len(op) :]
            for bk in keys.of(k):
                out[bk] = a.checkpoint_key + bk[len(k) :]
    return out


def _local_name(component: str) -> str:
    try:
        return unescape_local_name(component)
    except ValueError as e:
        raise ValueError(f"rename: {component!r} is not a valid path component ({e})") from None


def _rename_graph(
    proto: _pb.TrackableObjectGraph, names: Mapping[str, str], src_path: str
) -> dict[str, str]:
    """Carry renamed keys into the graph as renamed edges: `names` maps each key the graph
    owns to its wanted new name (the key without `/.ATTRIBUTES/VARIABLE_VALUE`). Edits `proto`
    in place; returns old key -> new key. ValueError when the graph cannot express it."""
    graph = ObjectGraph(proto)
    paths = graph.canonical_paths()
    via = _first_edges(graph)
    wanted: dict[Edge, tuple[str, str]] = {}  # edge -> (new escaped name, because)
    hint = "; pass name_based=True (--name-based) to write a flat TF1-style checkpoint instead"
    for node in graph.nodes:
        path = paths.get(node.id)
        for a in node.attributes.values():
            key = a.checkpoint_key
            new = names.get(key)
            if new is None or path is None or not path:
                continue
            old_name = key[: -len(_VV)] if key.endswith(_VV) else key
            if OPTIMIZER_SLOT in path.split("/") or not old_name.startswith(path):
                continue  # slots follow their variable and optimizer; checked below
            tail = old_name[len(path) :]
            head = new[: len(new) - len(tail)]
            if not new.endswith(tail) or head.count("/") != path.count("/"):
                raise ValueError(
                    f"rename: {old_name!r} -> {new!r} changes the depth of the object path "
                    f"{path!r} (or its attribute){hint}"
                )
            parts = head.split("/")
            nid = node.id
            for comp in reversed(parts):
                edge = via[nid]
                prev = wanted.get(edge)
                if prev is not None and prev[0] != comp:
                    raise ValueError(
                        f"rename: {prev[1]!r} and {old_name!r} would rename the same object "
                        f"to {prev[0]!r} and {comp!r}{hint}"
                    )
                wanted[edge] = (comp, old_name)
                nid = edge[0]
    for (parent, i), (comp, _) in wanted.items():
        proto.nodes[parent].children[i].local_name = _local_name(comp)
    for nd in proto.nodes:
        seen: set[str] = set()
        for ref in nd.children:
            if ref.local_name in seen:
                raise ValueError(
                    f"rename: two objects would be named {ref.local_name!r} under the same "
                    f"parent{hint}"
                )
            seen.add(ref.local_name)
    key_map = _rekey(graph, proto, range(len(proto.nodes)), _Keys(names))
    for key, new in names.items():
        got = key_map.get(key, key)
        want = new + (_VV if key.endswith(_VV) else "")
        if got != want:
            raise ValueError(
                f"rename: {key!r} -> {new!r} cannot be expressed in the object graph of "
                f"{src_path!r} (it would be stored as {got!r}){hint}"
            )
    return key_map


# -- planning ---------------------------------------------------------------------------------


def _strip_vv(name: str) -> str:
    return name.removesuffix(_VV)


class _Names:
    """The names a tensor's globs are tried against (computed on first need: `paths()` for
    every key of a big graph is not free)."""

    def __init__(self, graph: ObjectGraph | None) -> None:
        self.graph = graph
        self._cache: dict[str, list[str]] = {}

    def __call__(self, key: str) -> list[str]:
        got = self._cache.get(key)
        if got is None:
            got = [key]
            if key.endswith(_VV):
                got.append(_strip_vv(key))
            if self.graph is not None:
                try:
                    got += [p for p in self.graph.paths(key) if p not in got]
                except (LookupError, CheckpointError):
                    pass
            self._cache[key] = got
        return got


def _choose(
    graph: ObjectGraph | None,
    keys: _Keys,
    names: _Names,
    sel: _Globs,
    exc: _Globs,
    kp: _Globs,
    strip: bool,
    bookkeeping: Mapping[str, str],
    cut: set[Edge],
    report: EditReport,
) -> tuple[set[str], set[Edge]]:
    """The keys that stay (the others go to `report.dropped` with the reason), and the graph
    edges strip cuts: none without strip, and none on the key path of what `keep` rescues."""
    kept: set[str] = set()
    rescued: list[str] = []
    for k in keys.sorted:
        if sel and sel.match(names(k)) is None:
            report.dropped[k] = "not selected"
        elif exc and exc.match(names(k)) is not None:
            report.dropped[k] = "excluded"
        elif strip and k in bookkeeping and kp.match(names(k)) is None:
            report.dropped[k] = bookkeeping[k]
        else:
            kept.add(k)
            if k in bookkeeping:
                rescued.append(k)
    if not strip:
        return kept, set()
    if rescued and graph is not None:
        # What `keep` rescues stays where TF put it: the edges of its key path are not cut.
        via = _first_edges(graph)
        owner = {
            k: nd.id
            for nd in graph.nodes
            for a in nd.attributes.values()
            for k in keys.of(a.checkpoint_key)
        }
        for k in rescued:
            if k in owner:
                cut = cut - set(_path_edges(via, owner[k]))
    return kept, cut


def _renamed(
    reader: CheckpointReader,
    graph: ObjectGraph | None,
    proto: _pb.TrackableObjectGraph | None,
    stored: dict[str, str],
    kept: set[str],
    rules: Rules,
    report: EditReport,
) -> tuple[dict[str, str], _pb.TrackableObjectGraph | None]:
    """Source key -> output name after `rules` (and the graph they rename, never the
    reader's own); keys a rule drops leave `kept`."""
    if rules is None:
        return dict(stored), proto
    wanted: dict[str, str] = {}
    for k in sorted(kept):
        new = _rename(_strip_vv(stored[k]), rules)
        if new is None:
            if proto is not None:
                raise ValueError(
                    f"rename: a rule drops {k!r}: use exclude= to drop tensors of an "
                    "object-based checkpoint (or name_based=True)"
                )
            report.dropped[k] = "dropped by a rename rule"
            kept.discard(k)
            continue
        if not new:
            raise ValueError(f"rename: {stored[k]!r} becomes the empty name")
        wanted[k] = new
    if proto is None:
        return wanted, None
    if graph is not None and proto is graph.proto:  # renamed in place: a copy
        unshared = type(proto)()
        unshared.CopyFrom(proto)
        proto = unshared
    in_graph = {a.checkpoint_key for nd in proto.nodes for a in nd.attributes}
    by_stored = {stored[k]: wanted[k] for k in kept if stored[k] in in_graph}
    key_map = _rename_graph(proto, by_stored, reader.prefix)
    out = {}
    for k in kept:
        s = stored[k]
        out[k] = key_map.get(s, s) if s in in_graph else wanted[k] + s[len(_strip_vv(s)) :]
    return out, proto


def plan_edit(
    reader: CheckpointReader,
    *,
    select: Globs = None,
    exclude: Globs = None,
    strip: bool = False,
    keep: Globs = None,
    rename: Rules = None,
    cast: CastSpec = None,
    name_based: bool = False,
    dst: str = "",
    src: int = 0,
    allow_empty: bool = False,
) -> _Plan:
    """Decide every output tensor from the index and the graph alone (module docstring)."""
    sel = _Globs(_as_list(select, "select"), "select")
    exc = _Globs(_as_list(exclude, "exclude"), "exclude")
    kp = _Globs(_as_list(keep, "keep"), "keep")
    if kp and not strip:
        raise ValueError("keep: only meaningful with strip=True (--strip)")
    rules = _compile_rules(rename)
    casts = [
        (None if g == "*" else _Globs([g], "cast", "floating-point model tensor"), t)
        for g, t in _cast_rules(cast)
    ]
    report = EditReport(dst)
    graph = reader.object_graph
    keys = _Keys(k for k in reader if k != OBJECT_GRAPH_KEY)
    names = _Names(graph)
    bookkeeping, cut = _bookkeeping(reader, graph, keys)

    # 1. which tensors stay
    kept, cut = _choose(graph, keys, names, sel, exc, kp, strip, bookkeeping, cut, report)

    def universe() -> list[str]:
        """Every name a glob could have meant, object paths above the tensors included."""
        out: set[str] = set()
        for k in keys.sorted:
            for n in names(k):
                parts = n.split("/")
                out.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        return sorted(out)

    for g in (sel, exc, kp):
        if not all(g.used):
            g.check_used(universe())

    # 2. the graph: pruned, renumbered, re-keyed
    stored = {k: k for k in kept}  # source key -> storage key in the output
    proto = None
    if graph is not None and not cut and len(kept) == len(keys.sorted):
        proto = graph.proto  # nothing leaves: the graph stays as it is (a reshard, a cast)
        if name_based:
            stored = {k: model_name(graph, k) for k in kept}
            proto = None
    elif graph is not None:
        pruned = _prune(graph, kept, keys, cut)
        owned: set[str] = set()
        if pruned is not None:
            proto, key_map, owned = pruned
            stored = {k: key_map.get(k, k) for k in kept}
        graph_keys = {
            k
            for nd in graph.nodes
            for a in nd.attributes.values()
            for k in keys.of(a.checkpoint_key)
        }
        for k in sorted(kept & graph_keys - owned):
            report.dropped[k] = "its object is no longer reachable"
            kept.discard(k)
        if name_based:
            ng = ObjectGraph(proto) if proto is not None else None
            stored = {k: model_name(ng, stored[k]) for k in kept}
            proto = None

    # 3. renaming
    out, proto = _renamed(reader, graph, proto, stored, kept, rules, report)
    out = {k: out[k] for k in kept}
    origin: dict[str, str] = {}
    for k in sorted(kept):
        name = out[k]
        if name == OBJECT_GRAPH_KEY:
            raise ValueError(f"{k!r} would be written under the reserved {OBJECT_GRAPH_KEY!r}")
        if name in origin:
            raise ValueError(f"rename: {origin[name]!r} and {k!r} both become {name!r}")
        origin[name] = k
        if name != k:
            report.renamed[k] = name

    # 4. casting, in the order TF writes
    items = []
    for k in _write_order(proto, out):
        dt = reader.dtype_info(k)
        if dt.numpy_dtype is None:
            raise UnsupportedCheckpointError(
                f"cannot copy a {dt.name} tensor; leave it out with exclude={_strip_vv(k)!r}",
                path=reader.prefix,
                key=k,
            )
        to = None
        if casts and _is_float(dt) and k not in bookkeeping:
            for glob, target in casts:
                if glob is None or glob.match([*names(k), out[k]]) is not None:
                    if target.name != dt.name:
                        to = target
                        report.cast[out[k]] = f"{dt.name}->{target.name}"
                    break
        items.append(_Item(src, k, out[k], dt, reader.shape(k), to))
    for glob, _ in casts:
        if glob is not None and not glob.used[0]:
            glob.check_used(universe())
    if not items and report.dropped and not allow_empty:
        raise ValueError(f"nothing left to write: every tensor of {reader.prefix!r} was dropped")
    graph_bytes = None
    if proto is not None:
        assert graph is not None
        # An unchanged graph keeps its bytes (writers differ in how they serialize one proto).
        if proto is graph.proto or proto == graph.proto:
            graph_bytes = bytes(reader[OBJECT_GRAPH_KEY].reshape(-1)[0])
        else:
            graph_bytes = proto.SerializeToString()
    return _Plan(items, graph_bytes, report)


def _write_order(proto: _pb.TrackableObjectGraph | None, out: Mapping[str, str]) -> list[str]:
    """Source keys in TF's save order: the graph's node order, then the rest by name."""
    by_name = {name: k for k, name in out.items()}
    order: list[str] = []
    if proto is not None:
        names = _Keys(by_name)
        for nd in proto.nodes:
            for a in nd.attributes:
                order += [by_name.pop(n) for n in names.of(a.checkpoint_key) if n in by_name]
    return order + [by_name[n] for n in sorted(by_name)]


# -- streaming and writing --------------------------------------------------------------------


def cast_array(arr: np.ndarray[Any, Any], to: DType) -> tuple[np.ndarray[Any, Any], int]:
    """`arr` as `to`, and how many finite values became infinite on the way."""
    assert to.numpy_dtype is not None
    with np.errstate(over="ignore", invalid="ignore"):  # counted below, and reported
        out = arr.astype(to.numpy_dtype)
    src, dst = arr.reshape(-1), out.reshape(-1)
    overflow = 0
    for i in range(0, src.size, _CHUNK):
        a, b = src[i : i + _CHUNK], dst[i : i + _CHUNK]
        overflow += int(np.count_nonzero(np.isfinite(a) & ~np.isfinite(b)))
    return out, overflow


def _check_dst(dst: str | os.PathLike[str], sources: Sequence[CheckpointReader]) -> str:
    if not isinstance(dst, (str, os.PathLike)):
        raise TypeError(f"dst: a path prefix, got {type(dst).__name__}")
    out = os.fspath(dst)
    if "://" in out:  # a bucket (BundleWriter writes there) or a refusal naming the URL
        store = getattr(destination(out)[0], "fs", None)
        # A source opened through an fsspec filesystem object holds the store's bare key.
        names = {out, store._strip_protocol(out)} if store is not None else {out}
        if any(r.prefix in names for r in sources):
            raise ValueError(
                f"dst: {out!r} is the source checkpoint; write to another prefix "
                "(an edit never overwrites what it reads)"
            )
        return out
    if os.path.isdir(out):
        raise ValueError(
            f"dst: {out!r} is a directory; give a checkpoint prefix such as "
            f"{os.path.join(out, 'ckpt')!r}"
        )
    real = os.path.realpath(out)
    for r in sources:
        if "://" not in r.prefix and os.path.realpath(r.prefix) == real:
            raise ValueError(
                f"dst: {out!r} is the source checkpoint {r.prefix!r}; write to another prefix "
                "(an edit never overwrites what it reads)"
            )
    return out


Value = Callable[["_Item"], "np.ndarray[Any, Any]"]


def _write(
    dst: str,
    plan: _Plan,
    value_of: Value,
    *,
    max_shard_size: int | None,
    progress: Progress | None,
    fsync: bool,
) -> EditReport:
    """Write `plan` at `dst`, each tensor's value from `value_of(item)` (read, cast,
    averaged...), in one data file or split as TF's MaxShardSizePolicy splits."""
    policy = None
    if max_shard_size is not None:
        from ._sharding import MaxShardSizePolicy

        policy = MaxShardSizePolicy(max_shard_size)  # checks the argument before any read
    report = plan.report
    report.dst = dst
    if policy is not None:
        report.shards = _write_sharded(dst, plan, value_of, policy, progress, fsync, report)
        return report
    total = len(plan.items)
    with BundleWriter(dst, fsync=fsync) as w:
        for i, item in enumerate(plan.items):
            w.add(item.name, value_of(item), dtype=item.dtype if item.to is None else None)
            report.written.append(item.name)
            if progress is not None:
                progress(i + 1, total, item.name)
        if plan.graph is not None:
            w.add(OBJECT_GRAPH_KEY, np.array(plan.graph, dtype=object))
    report.shards = 1
    return report


def _write_sharded(
    dst: str,
    plan: _Plan,
    value_of: Value,
    policy: ShardingCallback,
    progress: Progress | None,
    fsync: bool,
    report: EditReport,
) -> int:
    """The policy decides from shapes and dtypes alone, so it runs on zero-stride stand-ins
    (no memory) for fixed-size tensors; only strings, whose sizes are their contents, are read
    for it. The writer then pulls each piece through `_Pieces`, which holds one tensor at a
    time (TF places a tensor's pieces consecutively, except pieces larger than a shard, which
    go last and cost one more read). Returns the number of data files."""
    from ._sharding import ShardableTensor, shard_tensors
    from ._slices import parse_shape_and_slice
    from ._writer import write_shards

    by_name = {item.name: item for item in plan.items}
    shardable = []
    for item in plan.items:
        dt = item.to or item.dtype
        assert dt.numpy_dtype is not None
        if dt.is_fixed_size:
            stand_in = np.lib.stride_tricks.as_strided(
                np.zeros(1, dt.numpy_dtype), item.shape, (0,) * len(item.shape), writeable=False
            )
        else:
            stand_in = value_of(item)
        shardable.append(ShardableTensor(stand_in, dt, item.shape, "", item.name))
    graph = None if plan.graph is None else np.array(plan.graph, dtype=object)
    if graph is not None:
        string = dtype_from_name("string")
        shardable.append(ShardableTensor(graph, string, (), "", OBJECT_GRAPH_KEY))
    shards = shard_tensors(shardable, policy)
    done: set[str] = set()  # names in the order first written: `report.written`
    cache: dict[str, np.ndarray[Any, Any]] = {}

    def piece(name: str, spec: str) -> np.ndarray[Any, Any]:
        if graph is not None and name == OBJECT_GRAPH_KEY:
            return graph
        if name not in cache:
            cache.clear()
            cache[name] = value_of(by_name[name])
            if name not in done:
                done.add(name)
                report.written.append(name)
                if progress is not None:
                    progress(len(done), len(by_name), name)
        arr = cache[name]
        if not spec.strip():
            return arr
        _, extents = parse_shape_and_slice(spec)
        return arr[tuple(slice(start, start + n) for start, n in extents)]

    lazy = [{n: _Pieces(n, list(slices), piece) for n, slices in s.items()} for s in shards]
    dtypes = {i.name: i.dtype for i in plan.items if i.to is None}
    write_shards(dst, lazy, dtypes=dtypes, fsync=fsync)
    return len(shards)


class _Pieces(Mapping[str, Any]):
    """One tensor's slices in one shard, `spec -> value`, each value made when asked for."""

    def __init__(
        self, name: str, specs: list[str], piece: Callable[[str, str], np.ndarray[Any, Any]]
    ) -> None:
        self._name, self._specs, self._piece = name, specs, piece

    def __getitem__(self, spec: str) -> np.ndarray[Any, Any]:
        return self._piece(self._name, spec)

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


def _reader_values(readers: Sequence[CheckpointReader], report: EditReport) -> Value:
    """A tensor read from its source, cast if the plan says so (overflows reported)."""

    def value_of(item: _Item) -> np.ndarray[Any, Any]:
        arr = readers[item.src][item.key]
        if item.to is not None:
            arr, n = cast_array(arr, item.to)
            if n:
                report.overflow[item.name] = n
        return arr

    return value_of


class _Open:
    """Open every source (paths or open readers); close the ones opened here."""

    def __init__(self, sources: Sequence[ReaderOrPath], arg: str) -> None:
        from ._api import CheckpointReader, load_checkpoint

        if isinstance(sources, (str, os.PathLike, CheckpointReader)):
            raise TypeError(f"{arg}: a list of checkpoints, got a single {sources!r}")
        self.readers: list[CheckpointReader] = []
        self._owned: list[CheckpointReader] = []
        try:
            for s in sources:
                if isinstance(s, CheckpointReader):
                    self.readers.append(s)
                else:
                    # Copying reads: each tensor is a fresh buffer, freed once written, where
                    # a memory map would keep every page read so far resident until the end
                    # (measured: peak RSS the size of the checkpoint, not of one tensor).
                    r = load_checkpoint(s, mmap=False)
                    self._owned.append(r)
                    self.readers.append(r)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for r in self._owned:
            r.close()

    def __enter__(self) -> list[CheckpointReader]:
        return self.readers

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- public -----------------------------------------------------------------------------------


def edit(
    src: ReaderOrPath,
    dst: str | os.PathLike[str],
    *,
    select: Globs = None,
    exclude: Globs = None,
    strip: bool = False,
    keep: Globs = None,
    rename: Rules = None,
    cast: CastSpec = None,
    name_based: bool = False,
    max_shard_size: int | None = None,
    progress: Progress | None = None,
    fsync: bool = True,
) -> EditReport:
    """Write an edited copy of checkpoint `src` at prefix `dst`, tensor by tensor.

    Args:
        src: anything `load_checkpoint` accepts, or an open `CheckpointReader`.
        dst: the output prefix (written atomically; never `src` itself).
        select: globs; only tensors matching one stay. Globs are tried on the key, the key
            without ``/.ATTRIBUTES/VARIABLE_VALUE`` and every object path, and match what is
            below the path they name (``"model/dense"``).
        exclude: globs; matching tensors go.
        strip: drop optimizer slots and state, ``save_counter``, ``global_step`` and other
            bookkeeping (rules: docs/inference_prep.md).
        keep: globs exempt from `strip` (``keep="save_counter"``).
        rename: ordered ``(regex, replacement)`` rules, the language of `to_torch`, applied
            to each name without ``/.ATTRIBUTES/VARIABLE_VALUE``; object-based checkpoints get
            the renames as renamed objects, or a ValueError when the graph cannot hold them.
        cast: ``"bfloat16"``/``"float16"``/``"float32"`` for every floating-point model
            tensor, or ``{glob: dtype}`` / ``[(glob, dtype)]`` (first match wins); integers,
            strings, optimizer slots and counters keep their dtype.
        name_based: write a flat TF1-style checkpoint, keys the model paths (after
            `rename`), no object graph.
        max_shard_size: split the data into files of at most this many bytes, as TF's
            ``MaxShardSizePolicy`` does; None writes one data file.
        progress: ``progress(done, total, name)`` after each tensor.

    Returns:
        An `EditReport` (written, dropped with reasons, renamed, cast, cast overflows).

    Raises:
        ValueError: a caller mistake (a glob that matches nothing, a bad regex, two names that
            collide, `dst` equal to `src`); nothing is written.
        CheckpointError: `src` is damaged; nothing is left at `dst`.
    """
    with _Open([src], "src") as readers:
        out = _check_dst(dst, readers)
        plan = plan_edit(
            readers[0],
            select=select,
            exclude=exclude,
            strip=strip,
            keep=keep,
            rename=rename,
            cast=cast,
            name_based=name_based,
            dst=out,
        )
        return _write(
            out,
            plan,
            _reader_values(readers, plan.report),
            max_shard_size=max_shard_size,
            progress=progress,
            fsync=fsync,
        )


def reshard(
    src: ReaderOrPath,
    dst: str | os.PathLike[str],
    max_shard_size: int | None = None,
    *,
    progress: Progress | None = None,
    fsync: bool = True,
) -> EditReport:
    """Rewrite `src` at `dst` split into data files of at most `max_shard_size` bytes, as
    TF's ``tf.train.experimental.MaxShardSizePolicy`` splits them (tensors larger than a shard
    are sliced the same way); ``None`` merges every shard into one data file. Keys, values
    and the object graph are unchanged."""
    return edit(src, dst, max_shard_size=max_shard_size, progress=progress, fsync=fsync)


_CONFLICT_RULES: Final = ("error", "first", "last")


def merge(
    sources: Sequence[ReaderOrPath],
    dst: str | os.PathLike[str],
    *,
    on_conflict: str = "error",
    name_based: bool = False,
    max_shard_size: int | None = None,
    progress: Progress | None = None,
    fsync: bool = True,
) -> EditReport:
    """Merge several checkpoints into one at `dst`.

    Every tensor of every source is written once. A name in several sources is a conflict:
    ``on_conflict="first"`` takes it from the earliest source that has it, ``"last"`` from the
    latest, ``"error"`` (the default) refuses. Conflicting tensors must agree in dtype and
    shape whatever the rule. Example, EMA weights over the training checkpoint:
    ``merge(["ema/ckpt", "train/ckpt"], "serve/ckpt", on_conflict="first")``.

    Object-based sources: the output keeps the object graph of the first source that holds
    every merged name (other graphs are only read for names); when none does, pass
    ``name_based=True`` for a flat checkpoint named by model paths.
    """
    if on_conflict not in _CONFLICT_RULES:
        raise ValueError(f"on_conflict: one of {', '.join(_CONFLICT_RULES)}, not {on_conflict!r}")
    with _Open(sources, "sources") as readers:
        if not readers:
            raise ValueError("sources: no checkpoint to merge")
        out = _check_dst(dst, readers)
        plans = [
            plan_edit(r, name_based=name_based, dst=out, src=i, allow_empty=True)
            for i, r in enumerate(readers)
        ]
        chosen: dict[str, _Item] = {}
        for plan in plans:
            for item in plan.items:
                prev = chosen.get(item.name)
                if prev is None:
                    chosen[item.name] = item
                    continue
                _check_same(readers, prev, item)
                if on_conflict == "error":
                    raise ValueError(
                        f"merge: {item.name!r} is in {readers[prev.src].prefix!r} and "
                        f"{readers[item.src].prefix!r}; choose on_conflict='first' or 'last' "
                        "(--on-conflict)"
                    )
                if on_conflict == "last":
                    chosen[item.name] = item
        base = _base_plan(plans, chosen, readers)
        report = EditReport(out)
        first = [i.name for i in base.items] if base is not None else []
        rest = sorted(set(chosen) - set(first))
        merged = _Plan(
            [chosen[n] for n in [*first, *rest]], None if base is None else base.graph, report
        )
        if not merged.items:
            raise ValueError("merge: the sources hold no tensors")
        return _write(
            out,
            merged,
            _reader_values(readers, merged.report),
            max_shard_size=max_shard_size,
            progress=progress,
            fsync=fsync,
        )


def _check_same(readers: Sequence[CheckpointReader], a: _Item, b: _Item) -> None:
    if a.dtype.name != b.dtype.name or a.shape != b.shape:
        raise ValueError(
            f"{a.name!r} is {a.dtype.name}{list(a.shape)} in {readers[a.src].prefix!r} but "
            f"{b.dtype.name}{list(b.shape)} in {readers[b.src].prefix!r}"
        )


def _base_plan(
    plans: Sequence[_Plan], chosen: Mapping[str, _Item], readers: Sequence[CheckpointReader]
) -> _Plan | None:
    """The first plan with a graph whose names cover all of `chosen`; None if no source has
    a graph; ValueError when graphs exist but none covers the merge."""
    with_graph = [p for p in plans if p.graph is not None]
    if not with_graph:
        return None
    for p in with_graph:
        if not set(chosen) - {i.name for i in p.items}:
            return p
    p = with_graph[0]
    missing = sorted(set(chosen) - {i.name for i in p.items})
    raise ValueError(
        f"merge: no object graph holds every merged tensor ({missing[0]!r}, from "
        f"{readers[chosen[missing[0]].src].prefix!r}, is not in {readers[plans.index(p)].prefix!r}"
        f"'s graph); pass name_based=True (--name-based) for a flat checkpoint, or "
        "select/rename first"
    )


def _accumulator(dt: DType) -> np.dtype[Any] | None:
    """The dtype to sum `dt` values in: float64, or wider when the input is float64 already;
    None for tensors that are not averaged."""
    if dt.name.startswith("complex"):
        return np.dtype(np.clongdouble if dt.itemsize >= 16 else np.complex128)
    if _is_float(dt):
        return np.dtype(np.longdouble if dt.itemsize >= 8 else np.float64)
    return None


def average(
    sources: Sequence[ReaderOrPath],
    dst: str | os.PathLike[str],
    *,
    weights: Sequence[float] | None = None,
    max_shard_size: int | None = None,
    progress: Progress | None = None,
    fsync: bool = True,
) -> EditReport:
    """The (weighted) mean of N checkpoints of the same model, written at `dst`.

    Every source must hold the same names with the same dtypes and shapes. Floating-point
    (and complex) tensors are summed in float64 (in long double for float64 input), divided by
    the total weight and rounded back to their dtype; integer, bool and string tensors
    (counters, step numbers) are taken from the first source. The first source's object graph
    is kept. Memory: one tensor plus its float64 accumulator.
    """
    with _Open(sources, "sources") as readers:
        if len(readers) < 2:
            raise ValueError(f"average: needs at least 2 checkpoints, got {len(readers)}")
        w = [1.0] * len(readers) if weights is None else [float(x) for x in weights]
        if len(w) != len(readers):
            raise ValueError(f"weights: {len(w)} weights for {len(readers)} checkpoints")
        if not all(np.isfinite(x) and x >= 0 for x in w) or sum(w) <= 0:
            raise ValueError(f"weights: finite, non-negative and not all zero, got {w}")
        out = _check_dst(dst, readers)
        plans = [plan_edit(r, dst=out, src=i) for i, r in enumerate(readers)]
        first = {i.name: i for i in plans[0].items}
        for i, p in enumerate(plans[1:], 1):
            names = {it.name: it for it in p.items}
            extra, missing = sorted(set(names) - set(first)), sorted(set(first) - set(names))
            if extra or missing:
                what = f"{missing[0]!r} is missing from it" if missing else f"it has {extra[0]!r}"
                raise ValueError(
                    f"average: {readers[i].prefix!r} does not hold the same tensors as "
                    f"{readers[0].prefix!r} ({len(missing)} missing, {len(extra)} extra: {what})"
                )
            for name, it in names.items():
                _check_same(readers, first[name], it)
        plan = plans[0]
        total = sum(w)

        def mean(item: _Item) -> np.ndarray[Any, Any]:
            acc_dt = _accumulator(item.dtype)
            if acc_dt is None:
                return readers[0][item.key]
            acc = np.zeros(item.shape, acc_dt)
            flat = acc.reshape(-1)
            for r, wi in zip(readers, w):
                x = r[item.key].reshape(-1)
                for j in range(0, flat.size, _CHUNK):
                    flat[j : j + _CHUNK] += x[j : j + _CHUNK].astype(acc_dt) * wi
            acc /= total
            assert item.dtype.numpy_dtype is not None
            return acc.astype(item.dtype.numpy_dtype)

        return _write(
            out,
            plan,
            mean,
            max_shard_size=max_shard_size,
            progress=progress,
            fsync=fsync,
        )
