"""Restoring an object-based checkpoint into live Python objects, with TF's status objects.

The Python side is a tree of "objects", the same one `Checkpoint` writes:
  * a dict (its str keys), a list or tuple ("0", "1", ...) is an object with children;
  * a plain Python object is an object whose children are its instance attributes, by name,
    in assignment order, as `tf.Module` tracks attributes; an attribute counts when it holds
    NumPy state (an array or NumPy scalar) directly or somewhere inside (containers, other
    objects). Python ints, strings, loggers, ... beside them are configuration, not state;
  * anything else (arrays, NumPy and Python scalars, bytes/str) is a variable.

Matching follows TF's restore: starting from the root, each checkpoint object's children are
matched to the Python object's children of the same name; a matched variable gets the
checkpoint's value. What was matched or not decides what the status asserts (TF's rules):
  * `assert_existing_objects_matched`: every Python variable was matched;
  * `assert_consumed`: that, and every checkpoint object holding values (attributes) was
    matched, and none of them holds a value nothing used (e.g. a value where Python has a
    dict); optimizer slot variables count as checkpoint objects;
  * `assert_nontrivial_match`: something besides the root was matched;
  * `expect_partial`: no warning about unmatched checkpoint values when the status goes away.

All-or-nothing: every matched value is read, checked (shape and dtype, exactly as TF's
restore requires) and converted first; only then are arrays filled in place (`arr[...] =`,
what TF's `assign` does) and immutable values (scalars, read-only arrays) replaced in their
container. A failure before that point changes nothing.
"""

from __future__ import annotations

import itertools
import types
import warnings
from collections.abc import Callable, Collection, Mapping, MutableMapping, MutableSequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._errors import InvalidArgumentError
from ._graph import ObjectGraph
from ._naming import VARIABLE_VALUE, attribute_key, escape_local_name, unescape_local_name

__all__ = [
    "CheckpointLoadStatus",
    "InitializationOnlyStatus",
    "is_container",
    "restore_by_name",
    "restore_objects",
    "tracked_children",
]

_NOT_OBJECTS = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                types.ModuleType)  # fmt: skip


def _is_plain_object(value: object) -> bool:
    return hasattr(value, "__dict__") and not isinstance(value, _NOT_OBJECTS)


def is_container(value: object) -> bool:
    """Whether `value` is an object with children rather than a variable."""
    if isinstance(value, (np.ndarray, np.generic, str, bytes, int, float, complex)):
        return False
    if isinstance(value, (Mapping, list, tuple)):
        return True
    return _is_plain_object(value) and not hasattr(value, "__array__")


def _holds_state(value: object, seen: dict[int, bool]) -> bool:
    """Whether `value` is or contains an array / NumPy scalar (cycles count as no)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return True
    if not is_container(value):
        return False
    vid = id(value)
    if vid in seen:
        return seen[vid]
    seen[vid] = False
    if isinstance(value, Mapping):
        kids: Any = value.values()
    elif isinstance(value, (list, tuple)):
        kids = value
    else:
        kids = vars(value).values()
    found = any(_holds_state(v, seen) for v in kids)
    seen[vid] = found
    return found


def tracked_children(value: object) -> list[tuple[str, object]]:
    """The (local name, child) edges of a container, in order (see the module docstring)."""
    if isinstance(value, Mapping):
        out = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"object names must be str, got {type(k).__name__} key {k!r}")
            out.append((k, v))
        return out
    if isinstance(value, (list, tuple)):
        return [(str(i), v) for i, v in enumerate(value)]
    seen: dict[int, bool] = {}
    return [
        (k, v)
        for k, v in vars(value).items()
        if isinstance(v, (np.ndarray, np.generic)) or (is_container(v) and _holds_state(v, seen))
    ]


# -- positions: where a Python value lives, so that it can be replaced -------------------


@dataclass
class _Slot:
    parent: object
    name: str
    path: str  # escaped object path, for messages

    def get(self) -> object:
        p = self.parent
        if isinstance(p, Mapping):
            return p[self.name]
        if isinstance(p, (list, tuple)):
            return p[int(self.name)]
        return getattr(p, self.name)

    def set(self, value: object) -> None:
        p = self.parent
        if isinstance(p, MutableMapping):
            p[self.name] = value
        elif isinstance(p, MutableSequence):
            p[int(self.name)] = value
        elif isinstance(p, (Mapping, tuple)):
            raise TypeError(
                f"{self.path}: cannot replace a value inside a {type(p).__name__} (use a "
                "list/dict, or a writable array that can be filled in place)"
            )
        else:
            setattr(p, self.name, value)


def _convert(slot: _Slot, target: object, stored: np.ndarray[Any, Any], key: str) -> object:
    """The value to put at `slot` (or the array to fill `target` with), checked as TF checks
    a restore: same shape, same dtype."""

    def mismatch(want: str) -> InvalidArgumentError:
        return InvalidArgumentError(
            f"cannot restore {slot.path}: the checkpoint holds {stored.dtype}{list(stored.shape)}"
            f", the object is {want}",
            key=key,
        )

    if isinstance(target, np.ndarray):
        if target.shape != stored.shape:
            raise InvalidArgumentError(
                f"Received incompatible tensor with shape {stored.shape} when attempting to "
                f"restore variable with shape {target.shape} at {slot.path}",
                key=key,
            )
        if target.dtype != stored.dtype:
            raise mismatch(f"{target.dtype}{list(target.shape)}")
        return stored
    if stored.shape != ():
        raise mismatch(f"a scalar {type(target).__name__}")
    item = stored[()]
    kind = stored.dtype.kind
    if isinstance(target, np.generic):
        if np.dtype(type(target)) != stored.dtype:
            raise mismatch(f"a {np.dtype(type(target))} scalar")
        return stored.reshape(())[()]
    if isinstance(target, bool):
        if kind != "b":
            raise mismatch("a bool")
        return bool(item)
    if isinstance(target, int):
        if kind not in "iu":
            raise mismatch("an int")
        return int(item)
    if isinstance(target, float):
        if kind != "f" and stored.dtype.name != "bfloat16":
            raise mismatch("a float")
        return float(item)
    if isinstance(target, (bytes, str)):
        if kind != "O":
            raise mismatch(f"a {type(target).__name__}")
        b = bytes(item)
        return b.decode("utf-8") if isinstance(target, str) else b
    raise TypeError(f"{slot.path}: cannot restore into a {type(target).__name__}")


# -- statuses -----------------------------------------------------------------------------


class InitializationOnlyStatus:
    """What `restore(None)` returns: nothing was restored; the asserts say so, as in TF."""

    _MESSAGE = "No checkpoint specified (save_path=None); nothing is being restored."

    def assert_consumed(self) -> InitializationOnlyStatus:
        raise AssertionError(self._MESSAGE)

    def assert_existing_objects_matched(self) -> InitializationOnlyStatus:
        raise AssertionError(self._MESSAGE)

    def assert_nontrivial_match(self) -> InitializationOnlyStatus:
        raise AssertionError(self._MESSAGE)

    def expect_partial(self) -> InitializationOnlyStatus:
        return self

    def initialize_or_restore(self, session: object = None) -> None:
        """Nothing to run: values are in place already."""

    def run_restore_ops(self, session: object = None) -> None:
        """Nothing to run: values are in place already."""


class CheckpointLoadStatus:
    """TF's load status: what a restore matched, for assertions (they return self)."""

    def __init__(
        self,
        path: str,
        unmatched_python: list[str],
        unmatched_checkpoint: list[str],
        unused_attributes: list[str],
        matched_count: int,
    ) -> None:
        self.path = path
        self._unmatched_python = unmatched_python
        self._unmatched_checkpoint = unmatched_checkpoint
        self._unused_attributes = unused_attributes
        self._matched = matched_count
        self._expect_partial = False

    def assert_existing_objects_matched(self) -> CheckpointLoadStatus:
        """Every variable of the Python objects got a value from the checkpoint."""
        if self._unmatched_python:
            shown = self._unmatched_python[:10]
            raise AssertionError(
                f"Found {len(self._unmatched_python)} Python objects that were not bound to "
                "checkpointed values, likely due to changes in the Python program. Showing "
                f"{len(shown)} of {len(self._unmatched_python)} unmatched objects: {shown}"
            )
        return self

    def assert_consumed(self) -> CheckpointLoadStatus:
        """Everything matched both ways: no Python variable and no checkpoint value left over."""
        self.assert_existing_objects_matched()
        if self._unmatched_checkpoint:
            raise AssertionError(
                f"Unresolved object in checkpoint {self.path!r}: "
                f"{self._unmatched_checkpoint[0]}"
                + (
                    f" (and {len(self._unmatched_checkpoint) - 1} more: "
                    f"{self._unmatched_checkpoint[1:11]})"
                    if len(self._unmatched_checkpoint) > 1
                    else ""
                )
            )
        if self._unused_attributes:
            joined = "\n".join(self._unused_attributes)
            raise AssertionError(
                "Unused attributes in these objects (the attributes exist in the checkpoint "
                f"but were not restored):\n{joined}"
            )
        return self

    def assert_nontrivial_match(self) -> CheckpointLoadStatus:
        """At least one object besides the root matched."""
        if self._matched <= 1:
            if self._unmatched_python:
                raise AssertionError(
                    "Nothing except the root object matched a checkpointed value. Typically "
                    "this means that the checkpoint does not match the Python program. The "
                    "following objects have no matching checkpointed value: "
                    f"{self._unmatched_python}"
                )
            raise AssertionError(
                "Nothing to load. No dependencies have been added to the root yet."
            )
        return self

    def expect_partial(self) -> CheckpointLoadStatus:
        """Silence the warning about checkpoint values that nothing matched."""
        self._expect_partial = True
        return self

    def initialize_or_restore(self, session: object = None) -> None:
        """Nothing to run: values are in place already (TF's graph-mode step)."""

    def run_restore_ops(self, session: object = None) -> None:
        """Nothing to run: values are in place already (TF's graph-mode step)."""

    def __del__(self) -> None:
        if self._expect_partial or not (self._unmatched_checkpoint or self._unused_attributes):
            return
        lines = [f"  value in checkpoint not restored: {p}" for p in self._unmatched_checkpoint]
        lines += [f"  unused attribute: {a}" for a in self._unused_attributes]
        if len(lines) > 20:
            lines = [*lines[:20], f"  ... and {len(lines) - 20} more"]
        warnings.warn(
            f"a restore from {self.path!r} left checkpoint values unrestored (to silence "
            "this, call status.expect_partial()):\n" + "\n".join(lines),
            UserWarning,
            stacklevel=2,
        )


# -- the restore ----------------------------------------------------------------------------


def _leaf_identity(slot: _Slot, value: object) -> int | tuple[int, str]:
    return id(value) if isinstance(value, np.ndarray) else (id(slot.parent), slot.name)


_Plan = list[tuple[_Slot, object, Any]]


def _apply(plan: _Plan) -> None:
    """Put checked values in place: fill writable arrays, replace everything else."""
    for slot, target, new in plan:
        if isinstance(target, np.ndarray) and target.flags.writeable:
            target[...] = new
        elif isinstance(target, np.ndarray):
            slot.set(np.array(new, dtype=target.dtype))
        else:
            slot.set(new)


def _python_variables(
    root: Mapping[str, object],
) -> list[tuple[int | tuple[int, str], str, _Slot, object]]:
    """Every Python variable once (identity, escaped path, slot, value), breadth-first as the
    writer numbers them."""
    out: dict[int | tuple[int, str], tuple[int | tuple[int, str], str, _Slot, object]] = {}
    queue: list[tuple[object, str]] = [(root, "")]
    seen: set[int] = set()
    for value, path in queue:
        if id(value) in seen:
            continue
        seen.add(id(value))
        for name, child in tracked_children(value):
            cpath = f"{path}/{escape_local_name(name)}" if path else escape_local_name(name)
            if is_container(child):
                queue.append((child, cpath))
            else:
                slot = _Slot(value, name, cpath)
                ident = _leaf_identity(slot, child)
                out.setdefault(ident, (ident, cpath, slot, child))
    return list(out.values())


def restore_by_name(
    root: MutableMapping[str, object],
    keys: Collection[str],
    read: Callable[[str], np.ndarray[Any, Any]],
    path: str,
) -> CheckpointLoadStatus:
    """Restore from a name-based (TF1) checkpoint: the variable at object path `a/b/c` takes
    the tensor named `a/b/c` (or the object-style key `a/b/c/.ATTRIBUTES/VARIABLE_VALUE`)."""
    plan: _Plan = []
    unmatched: list[str] = []
    used: set[str] = set()
    for _, epath, slot, value in _python_variables(root):
        raw = "/".join(unescape_local_name(p) for p in epath.split("/"))
        key = next((k for k in (raw, attribute_key(epath)) if k in keys), None)
        if key is None:
            unmatched.append(epath)
            continue
        used.add(key)
        plan.append((slot, value, _convert(slot, value, read(key), key)))
    _apply(plan)
    rest = sorted(k for k in keys if k not in used)
    return CheckpointLoadStatus(path, unmatched, rest, [], 1 + len(used))


def restore_objects(
    root: MutableMapping[str, object],
    graph: ObjectGraph,
    read: Callable[[str], np.ndarray[Any, Any]],
    path: str,
) -> CheckpointLoadStatus:
    """Match `root`'s objects to `graph`, then fill them with `read(key)` values; see the
    module docstring. Raises before changing anything when a value does not fit."""
    matched: dict[int, _Slot | None] = {0: None}
    unused: list[str] = []
    plan: _Plan = []
    matched_leaves: set[int | tuple[int, str]] = set()
    queue: list[tuple[int, object, str]] = [(0, root, "")]
    for nid, value, opath in queue:
        node = graph[nid]
        for name, child in tracked_children(value):
            cid = node.children.get(name)
            if cid is None:
                continue
            slot = _Slot(value, name, f"{opath}/{escape_local_name(name)}".lstrip("/"))
            cnode = cid
            if cnode.id in matched:
                if not is_container(child):  # an alias of a variable already matched
                    matched_leaves.add(_leaf_identity(slot, child))
                continue
            matched[cnode.id] = slot
            if is_container(child):
                if cnode.attributes:
                    unused.append(f"{slot.path} ({type(child).__name__}): {list(cnode.attributes)}")
                queue.append((cnode.id, child, slot.path))
                continue
            attr = cnode.attributes.get(VARIABLE_VALUE)
            if attr is None:
                if cnode.attributes:
                    unused.append(f"{slot.path}: {list(cnode.attributes)}")
                continue
            others = [a for a in cnode.attributes if a != VARIABLE_VALUE]
            if others:
                unused.append(f"{slot.path}: {others}")
            stored = read(attr.checkpoint_key)
            new = _convert(slot, child, stored, attr.checkpoint_key)
            plan.append((slot, child, new))
            matched_leaves.add(_leaf_identity(slot, child))

    _apply(plan)
    python_vars = {ident: p for ident, p, _, _ in _python_variables(root)}
    unmatched_python = [p for ident, p in python_vars.items() if ident not in matched_leaves]
    canonical = graph.canonical_paths()
    holders = [n for n in graph if n.attributes]
    unmatched_ckpt = [canonical.get(n.id, f"node {n.id}") for n in holders if n.id not in matched]
    return CheckpointLoadStatus(path, unmatched_python, unmatched_ckpt, unused, len(matched))


# -- init_from_checkpoint (TF1 assignment maps) ------------------------------------------------


def _parts(name: str, variables: Mapping[str, Any]) -> list[Any] | None:
    """A partitioned variable's parts `name/part_0`, `name/part_1`, ... in order, or None."""
    parts: list[Any] = []
    while f"{name}/part_{len(parts)}" in variables:
        parts.append(variables[f"{name}/part_{len(parts)}"])
    return parts or None


def _fill_plan(
    target: Any, stored: np.ndarray[Any, Any], what: str, tensor: str
) -> list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """(array, value) pairs that put `stored` into `target` (an array, or the parts of a
    partitioned variable, split along axis 0 in order)."""
    targets = target if isinstance(target, list) else [target]
    for t in targets:
        if not isinstance(t, np.ndarray):
            raise TypeError(f"{what}: variables are NumPy arrays, got {type(t).__name__}")
    if isinstance(target, list):
        rows = [t.shape[0] if t.ndim else 1 for t in targets]
        if sum(rows) != (stored.shape[0] if stored.ndim else 1) or any(
            t.shape[1:] != stored.shape[1:] for t in targets
        ):
            raise ValueError(
                f"Shape of partitioned variable {what} ({[list(t.shape) for t in targets]}) "
                f"doesn't match with shape of tensor {tensor} ({list(stored.shape)}) from "
                "checkpoint reader."
            )
        bounds = np.cumsum([0, *rows])
        pieces = [stored[a:b] for a, b in itertools.pairwise(bounds.tolist())]
    else:
        if target.shape != stored.shape:
            raise ValueError(
                f"Shape of variable {what} ({list(target.shape)}) doesn't match with shape of "
                f"tensor {tensor} ({list(stored.shape)}) from checkpoint reader."
            )
        pieces = [stored]
    for t, p in zip(targets, pieces):
        if t.dtype != p.dtype:
            raise ValueError(
                f"dtype of variable {what} ({t.dtype}) doesn't match the dtype of tensor "
                f"{tensor} ({p.dtype}) from checkpoint reader."
            )
        if not t.flags.writeable:
            raise ValueError(f"variable {what} is a read-only array; pass a writable one")
    return list(zip(targets, pieces))


def init_from_checkpoint(
    ckpt_dir_or_file: Any,
    assignment_map: Mapping[str, Any] | Collection[tuple[str, Any]],
    variables: Mapping[str, Any],
    *,
    read: Callable[[str], np.ndarray[Any, Any]],
    shapes: Mapping[str, list[int]],
) -> list[tuple[str, str]]:
    """TF1's `init_from_checkpoint` on a mapping `variables` (current name -> array; the parts
    of a partitioned variable are `name/part_0`, `name/part_1`, ... split along axis 0).

    `assignment_map` is TF's: `{'ckpt/name': 'current/name' or an array or a list of part
    arrays}` for one variable, `{'ckpt/scope/': 'current/scope/'}` for every current variable
    under a scope, with `'/'` naming the root on either side. Every target is checked first;
    then the arrays are filled in place. Returns the (checkpoint tensor, current variable)
    pairs filled, in order.
    """
    items = sorted(
        assignment_map.items() if isinstance(assignment_map, Mapping) else assignment_map,
        key=lambda kv: kv[0],
    )
    plan: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = []
    done: list[tuple[str, str]] = []

    def one(tensor: str, target: Any, what: str) -> None:
        if tensor not in shapes:
            raise ValueError(
                f"Tensor {tensor} is not found in {ckpt_dir_or_file} checkpoint "
                f"{_close(tensor, shapes)}"
            )
        plan.extend(_fill_plan(target, read(tensor), what, tensor))
        done.append((tensor, what))

    for tensor_name, current in items:
        if isinstance(current, np.ndarray) or (
            isinstance(current, list)
            and current
            and all(isinstance(v, np.ndarray) for v in current)
        ):
            one(tensor_name, current, f"<array for {tensor_name}>")
            continue
        if not isinstance(current, str):
            raise TypeError(
                f"assignment_map[{tensor_name!r}]: a variable name, an array or a list of "
                f"arrays, got {type(current).__name__}"
            )
        var = variables.get(current)
        if var is None:
            var = _parts(current, variables)
        if var is not None:
            one(tensor_name, var, current)
            continue
        scopes = current[: current.rindex("/")] if "/" in current else ""
        if not tensor_name.endswith("/"):
            raise ValueError(
                f"Assignment map with scope only name {scopes} should map to scope only "
                f"{tensor_name}. Should be 'scope/': 'other_scope/'."
            )
        in_scope = set()
        for name in variables:
            if not scopes or name.startswith(scopes + "/"):
                if "/part_" in name:
                    name = name[: name.index("/part_")]
                in_scope.add(name)
        if not in_scope:
            raise ValueError(f"no variable under scope {current!r} (for {tensor_name!r})")
        for name in sorted(in_scope):
            full = name[len(scopes) :]
            if current != "/":
                full = full[1:]
            if tensor_name != "/":
                full = tensor_name + full
            full = full.removesuffix("/")
            target = variables.get(name)
            if target is None:
                target = _parts(name, variables)
            one(full, target, name)
    for arr, value in plan:
        arr[...] = value
    return done


def _close(name: str, names: Collection[str]) -> str:
    import difflib

    near = difflib.get_close_matches(name, list(names), n=3)
    return f"(did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
