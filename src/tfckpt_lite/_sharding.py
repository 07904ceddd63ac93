"""How tensors are split into data shards: TF's checkpoint sharding policies on NumPy arrays.

A policy is TF's `ShardingCallback`: it receives the tensors to save as `ShardableTensor`s, in
save order, and returns a list of shards, each ``{checkpoint key: {slice spec: array}}``. The
writer (`_writer.write_shards`) then writes shard i as TF's per-shard SaveV2 does and merges
the indexes as MergeV2Checkpoints does, so the files are byte-identical to TF's.

A slice spec is TF's `SaveSliceInfo.spec` string: the full shape, a space, then
``start,length`` per dimension joined by ``:`` (``"4 6 0,2:0,6"``); ``""`` is the whole tensor
(parsed and formatted by `_slices`).

`MaxShardSizePolicy` replays TF 2.21's `MaxShardSizePartitioner` decision for decision (the
same integer and float arithmetic), because the split it picks decides the bytes:
  * tensors are placed in order; a shard's budget is `max_shard_size` bytes of tensor data
    (element count x `DType.size`; a string tensor counts the sum of its element lengths, and
    its largest element length per element when it has to be split);
  * a tensor larger than what is left of the current shard is cut along the axis that needs
    the fewest pieces to fill that remainder; the piece goes in, and the rest continues in
    the next shard;
  * a scalar larger than `max_shard_size` gets a shard of its own, placed after all others;
  * the object graph (`_CHECKPOINTABLE_OBJECT_GRAPH`) counts as 0 bytes.
Where TF 2.21 fails, this module chooses (and the docs say so): TF silently leaves out tensors
with zero elements (they are kept here, in the current shard); it raises for string tensors of
rank 2+ and empty string vectors (here sized like rank 1); it loops forever when no single
hyperplane of a tensor fits in `max_shard_size` (here a ValueError naming the tensor).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._dtypes import DType
from ._naming import OBJECT_GRAPH_KEY
from ._slices import format_slice_spec, parse_shape_and_slice

__all__ = [
    "CheckpointOptions",
    "MaxShardSizePolicy",
    "Shard",
    "ShardableTensor",
    "ShardingCallback",
    "shard_tensors",
]

Array = np.ndarray[Any, Any]
# {checkpoint key: {slice spec: array}}: the tensors of one data file, as TF's callbacks give.
Shard = MutableMapping[str, MutableMapping[str, Array]]


@dataclass(frozen=True)
class ShardableTensor:
    """One tensor (or one slice of a partitioned one) handed to a sharding policy.

    Attributes:
        tensor: the value (for a slice: just the slice's elements).
        dtype: its TF dtype.
        shape: ``tensor.shape``.
        slice_spec: ``""`` for a whole tensor, else TF's spec string of this slice.
        checkpoint_key: the key it is stored under.
    """

    tensor: Array
    dtype: DType
    shape: tuple[int, ...]
    slice_spec: str
    checkpoint_key: str


class ShardingCallback(abc.ABC):
    """TF's `tf.train.experimental.ShardingCallback`: decides how tensors split into shards.

    `__call__` returns a list of shards ``{checkpoint key: {slice spec: array}}``. Every input
    tensor must come back exactly once, whole or as slices that tile it, with its dtype; the
    writer checks this.
    """

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """A short text naming the policy."""

    @abc.abstractmethod
    def __call__(self, shardable_tensors: Sequence[ShardableTensor]) -> Sequence[Shard]:
        """The shards for `shardable_tensors`, in data-file order."""


class MaxShardSizePolicy(ShardingCallback):
    """Split tensors into data files of at most `max_shard_size` bytes, as TF does.

    Example:
        opts = tfckpt_lite.CheckpointOptions(
            experimental_sharding_callback=tfckpt_lite.MaxShardSizePolicy(max_shard_size=1 << 30))
        tfckpt_lite.save("out/model", tensors, options=opts)   # out/model.data-0000i-of-0000N

    A shard exceeds the limit only for a scalar (or string scalar) larger than it; tensors are
    cut between rows, columns, ... as TF cuts them (the files are byte-identical to TF's).
    """

    def __init__(self, max_shard_size: int) -> None:
        if isinstance(max_shard_size, bool) or not isinstance(max_shard_size, (int, np.integer)):
            raise TypeError(
                f"max_shard_size must be an int (bytes), got {type(max_shard_size).__name__}"
            )
        if max_shard_size <= 0:
            raise ValueError(f"max_shard_size must be positive, got {max_shard_size}")
        self.max_shard_size = int(max_shard_size)

    @property
    def description(self) -> str:
        return "Split tensors into shards with a max shard size."

    def __call__(self, shardable_tensors: Sequence[ShardableTensor]) -> list[Shard]:
        return _Partitioner(self.max_shard_size).run(shardable_tensors)

    def __repr__(self) -> str:
        return f"MaxShardSizePolicy(max_shard_size={self.max_shard_size})"


class CheckpointOptions:
    """TF's `tf.train.CheckpointOptions`, same arguments in the same order.

    Only `experimental_sharding_callback` changes what is written (a `ShardingCallback`, e.g.
    `MaxShardSizePolicy`; None writes one data file). The others are accepted so that TF code
    runs unchanged and are ignored: there are no devices to place I/O on, saves are
    synchronous (they return once the files are durable), there are no write callbacks and
    no optimizer slot variables created by this library.
    """

    __slots__ = (
        "enable_async",
        "experimental_enable_async_checkpoint",
        "experimental_io_device",
        "experimental_sharding_callback",
        "experimental_skip_slot_variables",
        "experimental_write_callbacks",
    )

    def __init__(
        self,
        experimental_io_device: str | None = None,
        experimental_enable_async_checkpoint: bool = False,
        experimental_write_callbacks: Sequence[Callable[..., Any]] | None = None,
        enable_async: bool = False,
        experimental_skip_slot_variables: bool = False,
        experimental_sharding_callback: ShardingCallback | None = None,
    ) -> None:
        if experimental_sharding_callback is not None and not isinstance(
            experimental_sharding_callback, ShardingCallback
        ):
            raise ValueError(
                "The experimental_sharding_callback checkpoint option must be of type "
                "ShardingCallback (e.g. MaxShardSizePolicy(max_shard_size=...)), got "
                f"{type(experimental_sharding_callback).__name__}"
            )
        self.experimental_io_device = experimental_io_device
        self.experimental_enable_async_checkpoint = experimental_enable_async_checkpoint
        self.experimental_write_callbacks = experimental_write_callbacks
        self.enable_async = enable_async
        self.experimental_skip_slot_variables = experimental_skip_slot_variables
        self.experimental_sharding_callback = experimental_sharding_callback

    def __repr__(self) -> str:
        cb = self.experimental_sharding_callback
        return f"CheckpointOptions(experimental_sharding_callback={cb!r})"


# -- MaxShardSizePolicy ---------------------------------------------------------------------


def _string_sizes(arr: Array) -> list[int]:
    return [len(v) for v in arr.reshape(-1).tolist()]


class _Partitioner:
    """One run of the max-shard-size policy over a list of tensors (TF's algorithm)."""

    def __init__(self, max_shard_size: int) -> None:
        self.max = max_shard_size
        self.shards: list[Shard] = [{}]
        self.large: list[Shard] = []
        self.remaining = max_shard_size

    def _new_shard(self) -> None:
        self.shards.append({})
        self.remaining = self.max

    def run(self, tensors: Sequence[ShardableTensor]) -> list[Shard]:
        for t in tensors:
            self._place(t)
        out: list[Shard] = []
        if self.shards[0]:
            out.extend(s for s in self.shards if s)
        out.extend(self.large)
        return out

    def _place(self, t: ShardableTensor) -> None:
        key, arr = t.checkpoint_key, t.tensor
        if t.slice_spec:
            full_shape, extents = parse_shape_and_slice(t.slice_spec)
            root_offset = [s for s, _ in extents]
            root_shape = [n for _, n in extents]
        else:
            full_shape = tuple(arr.shape)
            root_offset = [0] * arr.ndim
            root_shape = list(arr.shape)
        elem = t.dtype.itemsize
        total = math.prod(root_shape) * elem
        if key == OBJECT_GRAPH_KEY or t.dtype.name == "variant":
            total = elem = 0  # unknown sizes, small in practice: placed where we are
        elif t.dtype.name == "string":
            sizes = _string_sizes(arr)
            total = sum(sizes)
            elem = max(sizes, default=0)

        if not root_shape:  # a scalar cannot be cut
            if total > self.max:
                self.large.append({key: {t.slice_spec: arr}})
                return
            if total > self.remaining:
                self._new_shard()
            self.shards[-1].setdefault(key, {})[t.slice_spec] = arr
            self.remaining -= total
            return

        offset = list(root_offset)  # where the uncut rest starts, in full-tensor coordinates
        rest = list(root_shape)
        size = total
        while size > self.remaining:
            axis, part = self._next_partition(rest, elem)
            if part == 0:
                if not self.shards[-1]:
                    # TF loops forever here; no hyperplane of the tensor fits in a shard.
                    smallest = math.prod(rest) // max(rest) * elem
                    raise ValueError(
                        f"{key!r}: the smallest slice of this {list(rest)} {t.dtype.name} "
                        f"tensor has {smallest} bytes, more than max_shard_size={self.max}"
                    )
                self._new_shard()
                continue
            self._add_part(t, elem, full_shape, root_offset, root_shape, offset, axis, part)
            rel = [o - r for o, r in zip(offset, root_offset)]
            rest = [n - r for n, r in zip(root_shape, rel)]
            size = math.prod(rest) * elem
        if math.prod(rest) > 0 or math.prod(root_shape) == 0:  # TF drops empty tensors
            rel = [o - r for o, r in zip(offset, root_offset)]
            piece = arr[tuple(slice(r, r + n) for r, n in zip(rel, rest))]
            spec = format_slice_spec(full_shape, offset, rest)
            self.shards[-1].setdefault(key, {})[spec] = piece
        self.remaining -= size

    def _next_partition(self, rest: list[int], elem: int) -> tuple[int, int]:
        """The axis to cut along and the piece's length on it, chosen as TF chooses."""
        num = math.prod(rest)

        def parts_along(axis: int) -> float:
            per_slice = num // rest[axis] * elem
            fit = self.remaining // per_slice
            return math.inf if fit == 0 else math.ceil(rest[axis] / fit)

        best_axis, best = 0, parts_along(0)
        for axis in range(1, len(rest)):
            n = parts_along(axis)
            if n < best and num * elem / n <= self.remaining:
                best_axis, best = axis, int(n)
        return best_axis, math.ceil(rest[best_axis] / best)

    def _add_part(
        self,
        t: ShardableTensor,
        elem: int,
        full_shape: tuple[int, ...],
        root_offset: list[int],
        root_shape: list[int],
        offset: list[int],
        axis: int,
        part: int,
    ) -> None:
        """Put the next `part` hyperplanes along `axis` into the current shard; advance."""
        rel = [o - r for o, r in zip(offset, root_offset)]
        shape = [n - r for n, r in zip(root_shape, rel)]
        shape[axis] = part
        nbytes = math.prod(shape) * elem
        piece = t.tensor[tuple(slice(r, r + n) for r, n in zip(rel, shape))]
        spec = format_slice_spec(full_shape, offset, shape)
        if nbytes > self.max:
            self.large.append({t.checkpoint_key: {spec: piece}})
        else:
            self.shards[-1].setdefault(t.checkpoint_key, {})[spec] = piece
            self.remaining -= nbytes
            if self.remaining == 0:
                self._new_shard()
        offset[axis] += part


# -- running a policy -----------------------------------------------------------------------


def shard_tensors(
    tensors: Sequence[ShardableTensor], callback: ShardingCallback | None
) -> list[Shard]:
    """The shards `callback` makes of `tensors` (one shard without a callback), checked:
    every tensor exactly once, none added, shapes and dtypes kept."""
    if callback is None:
        one: Shard = {}
        for t in tensors:
            one.setdefault(t.checkpoint_key, {})[t.slice_spec] = t.tensor
        return [one]
    shards: list[Shard] = [dict(s) for s in callback(tensors)]
    _validate(shards, tensors, callback.description)
    return shards


def _validate(
    shards: Sequence[Mapping[str, Mapping[str, Array]]],
    tensors: Sequence[ShardableTensor],
    description: str,
) -> None:
    """TF's `validate_shards` for what can go wrong without devices: every input tensor is
    covered exactly by the slices returned for it, with its dtype; nothing is added."""
    inputs: dict[str, list[ShardableTensor]] = {}
    for t in tensors:
        inputs.setdefault(t.checkpoint_key, []).append(t)
    covered: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    for shard in shards:
        for key, slices in shard.items():
            if key not in inputs:
                raise RuntimeError(
                    f"the sharding callback ({description}) returned {key!r}, which was not "
                    "among the tensors to save"
                )
            want = inputs[key][0]
            for spec, value in slices.items():
                spec = spec.strip()
                if (key, spec) in seen:
                    raise RuntimeError(
                        f"the sharding callback ({description}) returned {key!r} slice "
                        f"{spec!r} twice"
                    )
                seen.add((key, spec))
                arr = np.asarray(value)
                if arr.dtype != want.tensor.dtype:
                    raise RuntimeError(
                        f"the sharding callback ({description}) changed the dtype of {key!r} "
                        f"from {want.tensor.dtype} to {arr.dtype}"
                    )
                shape = tuple(n for _, n in parse_shape_and_slice(spec)[1]) if spec else None
                expect = shape if shape is not None else want.shape
                if tuple(arr.shape) != expect:
                    raise RuntimeError(
                        f"the sharding callback ({description}) returned {key!r} slice "
                        f"{spec!r} with shape {list(arr.shape)}, expected {list(expect)}"
                    )
                covered[key] = covered.get(key, 0) + int(arr.size)
    for key, ts in inputs.items():
        need = sum(int(t.tensor.size) for t in ts)
        if covered.get(key, -1) != need and not (need == 0 and key in covered):
            raise RuntimeError(
                f"the sharding callback ({description}) did not return all of {key!r} "
                f"({covered.get(key, 0)} of {need} elements)"
            )
