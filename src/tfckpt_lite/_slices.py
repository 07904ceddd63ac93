"""Partitioned tensors: the rules for a tensor stored as slices, shared by the V2 reader, the
V1 reader and the writer (the TensorSliceProto codec is `_bundle`'s).

A slice is one extent `(start, length)` per dimension; `length == -1` (no length stored) is
the whole dimension, and TF requires its start to be 0. As a box, a slice is the half-open
interval `[start, start + length)` per dimension. The rules, TF's (`TensorSlice`,
`TensorSliceSet::Register`, the bundle reader's `GetSliceValue`):
  * a slice has the tensor's rank and lies inside its shape;
  * no two slices of a tensor share an element;
  * a tensor can be read when its slices cover it: their element counts add up to at least
    the tensor's (then, none overlapping and all inside, they tile it exactly).

Overlaps are found on the grid that the slices' own boundaries cut the tensor into: every
slice covers whole cells, so two slices overlap exactly when a cell is claimed twice. The
grid has at most as many cells as the tensor has elements, and for the usual partitioning
along one axis as many as there are slices: checking k slices costs O(k log k + cells), where
comparing them pairwise cost minutes for 50,000 slices. A grid larger than `MAX_GRID_CELLS`
(only hostile layouts produce one) is checked by comparing each slice with all earlier ones
in NumPy instead.

Slice specs are TF's text form of a slice (`TensorSlice::DebugString`, `SaveSliceInfo.spec`):
one extent per dimension joined by ``:``, each ``start,length`` or ``-`` (the whole
dimension), e.g. ``"0,2:-"``; a *shape and slice* spec puts the full shape in front,
space-separated: ``"4 6 0,2:-"`` (``""`` names the whole tensor). This module is their one
parser and formatter (sharding policies, the writer's `add_slice`, edits).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Final

import numpy as np

from ._bundle import Extent
from ._errors import CorruptCheckpointError

__all__ = [
    "Box",
    "SliceSet",
    "box_extents",
    "box_region",
    "box_shape",
    "check_coverage",
    "check_no_overlap",
    "find_overlap",
    "format_slice_spec",
    "parse_shape_and_slice",
    "parse_slice_spec",
    "slice_box",
]

MAX_GRID_CELLS: Final = 1 << 24

Box = tuple[tuple[int, int], ...]  # [begin, end) per dimension


def slice_box(extents: Sequence[Extent], shape: tuple[int, ...]) -> Box:
    """The box of a stored slice of a tensor of `shape`; CorruptCheckpointError if invalid."""
    if len(extents) != len(shape):
        raise CorruptCheckpointError(
            f"slice {list(extents)} has rank {len(extents)}, tensor has rank {len(shape)}"
        )
    box = []
    for (start, length), dim in zip(extents, shape):
        if length < 0:
            if start != 0:
                raise CorruptCheckpointError(f"slice {list(extents)} is malformed")
            start, length = 0, dim
        if start < 0 or start > dim or length > dim - start:
            raise CorruptCheckpointError(f"slice {list(extents)} lies outside shape {list(shape)}")
        box.append((start, start + length))
    return tuple(box)


def box_shape(box: Box) -> tuple[int, ...]:
    return tuple(b - a for a, b in box)


def box_region(box: Box) -> tuple[slice, ...]:
    """The box as an index into the whole tensor's array."""
    return tuple(slice(a, b) for a, b in box)


def box_extents(box: Box) -> list[Extent]:
    return [(a, b - a) for a, b in box]


def find_overlap(boxes: Sequence[Box]) -> int | None:
    """The index of the first box that shares an element with an earlier one, or None.

    All boxes have the same rank and lie inside one tensor (as `slice_box` returns them).
    """
    if len(boxes) < 2:
        return None
    rank = len(boxes[0])
    cuts = [sorted({x for box in boxes for x in box[d]}) for d in range(rank)]
    cells = math.prod(max(len(c) - 1, 1) for c in cuts)
    if cells > MAX_GRID_CELLS:
        return _find_overlap_pairwise(boxes)
    claimed = np.zeros(tuple(max(len(c) - 1, 1) for c in cuts), np.bool_)
    for i, box in enumerate(boxes):
        if any(a == b for a, b in box):
            continue  # an empty box holds no element
        region = tuple(
            slice(bisect.bisect_left(c, a), bisect.bisect_left(c, b))
            for c, (a, b) in zip(cuts, box)
        )
        if claimed[region].any():
            return i
        claimed[region] = True
    return None


def _find_overlap_pairwise(boxes: Sequence[Box]) -> int | None:
    s = SliceSet(len(boxes[0]))
    for i, box in enumerate(boxes):
        if s.overlaps(box):
            return i
        s.add(box)
    return None


class SliceSet:
    """Boxes added one at a time (the writer's slices of one tensor), each checked against
    all earlier ones with one vectorized comparison."""

    def __init__(self, rank: int) -> None:
        self._lo = np.zeros((0, rank), np.int64)
        self._hi = np.zeros((0, rank), np.int64)
        self._n = 0

    def overlaps(self, box: Box) -> bool:
        if not self._n or any(a == b for a, b in box):
            return False
        lo = np.array([a for a, _ in box], np.int64)
        hi = np.array([b for _, b in box], np.int64)
        both = (self._lo[: self._n] < hi) & (lo < self._hi[: self._n])
        return bool(both.all(axis=1).any())

    def add(self, box: Box) -> None:
        if self._n == len(self._lo):  # grow by doubling: k adds copy O(k) rows in all
            grow = max(self._n, 4)
            self._lo = np.concatenate([self._lo, np.zeros((grow, self._lo.shape[1]), np.int64)])
            self._hi = np.concatenate([self._hi, np.zeros((grow, self._hi.shape[1]), np.int64)])
        self._lo[self._n] = [a for a, _ in box]
        self._hi[self._n] = [b for _, b in box]
        self._n += 1


def check_coverage(shape: tuple[int, ...], boxes: Sequence[Box]) -> int:
    """Refuse slices too few to cover the tensor; return how many elements they hold."""
    n = math.prod(shape)
    covered = sum(math.prod(box_shape(box)) for box in boxes)
    if covered < n:
        raise CorruptCheckpointError(
            f"does not have sufficient slices for partitioned tensor: slices cover "
            f"{covered} of {n} elements"
        )
    return covered


def check_no_overlap(boxes: Sequence[Box]) -> None:
    i = find_overlap(boxes)
    if i is not None:
        raise CorruptCheckpointError(
            f"overlapping slices: {box_extents(boxes[i])} overlaps another"
        )


# -- slice specs ----------------------------------------------------------------------------


def format_slice_spec(
    full_shape: Sequence[int], offset: Sequence[int], shape: Sequence[int]
) -> str:
    """TF's `SaveSliceInfo(...).spec.strip()`: ``"4 6 0,2:0,6"``."""
    dims = " ".join(str(int(d)) for d in full_shape)
    extents = ":".join(f"{int(o)},{int(s)}" for o, s in zip(offset, shape))
    return f"{dims} {extents}".strip()


def _extent(token: str) -> Extent:
    """One ``start,length`` extent of a spec; ValueError unless it is two integers."""
    start, length = token.split(",")
    return int(start), int(length)


def parse_shape_and_slice(spec: str) -> tuple[tuple[int, ...], list[Extent]]:
    """The full shape and the (start, length) per dimension of a shape-and-slice spec (TF's
    `ParseShapeAndSlice`); a ``-`` extent is the whole dimension."""
    parts = spec.split()
    if not parts:
        raise ValueError("an empty slice spec names the whole tensor, not a slice")
    *dims, extents = parts
    try:
        shape = tuple(int(d) for d in dims)
        out = [
            (0, dim) if part == "-" else _extent(part)
            for part, dim in zip(extents.split(":"), shape, strict=True)
        ]
    except ValueError:
        raise ValueError(f"malformed slice spec {spec!r} (want e.g. '4 6 0,2:0,6')") from None
    for (start, length), dim in zip(out, shape):
        if start < 0 or length < 0 or start + length > dim or dim < 0:
            raise ValueError(f"slice spec {spec!r} does not fit its shape")
    return shape, out


def parse_slice_spec(spec: object, full_shape: tuple[int, ...]) -> list[Extent]:
    """Extents from a slice spec without the shape (``"0,2:-"``) or a sequence of
    (start, length) / None / slice objects, one per dimension. A full dimension is (0, -1)."""
    parts: list[object]
    if isinstance(spec, str):
        parts = [] if spec == "" else list(spec.split(":"))
    elif isinstance(spec, Sequence):
        parts = list(spec)
    else:
        raise TypeError(f"slice_spec must be a string or a sequence, got {type(spec).__name__}")
    if len(parts) != len(full_shape):
        raise ValueError(f"slice_spec {spec!r} has {len(parts)} dims, shape has {len(full_shape)}")
    extents: list[Extent] = []
    for p, dim in zip(parts, full_shape):
        if p is None or p == "-":
            extents.append((0, -1))
            continue
        if isinstance(p, str):
            start, length = _extent(p)
        elif isinstance(p, slice):
            start, stop, step = p.indices(dim)
            if step != 1:
                raise ValueError("slices must have step 1")
            length = max(0, stop - start)
        else:
            start, length = (int(x) for x in p)  # type: ignore[attr-defined]
        if start < 0 or length < 0 or start + length > dim:
            raise ValueError(f"slice ({start}, {length}) does not fit a dimension of {dim}")
        extents.append((start, length))
    return extents
