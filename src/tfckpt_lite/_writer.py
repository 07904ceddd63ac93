"""Writing a V2 tensor bundle, streaming and atomic.

Tensors go to the data file as they are added, in the caller's order (TF's layout for the
same order of SaveV2 arguments), so memory holds one tensor at a time plus the small index.
The CRC is computed over the very buffer handed to `write`, never a second copy of it.

Atomicity follows TF's BundleWriter, made durable (each file an `_storage.AtomicFile`):
  1. data   -> `P.data-<shard>-of-<shards so far>.tempstate<random u64>` per shard
  2. index  -> `P.index.tempstate<random u64>`, built from the sorted entries
  3. fsync all; if an older `P.index` exists, remove it first, so an old index never sits
     beside new data; rename the data files, then the index; fsync the directory.
A checkpoint "exists" exactly when `P.index` does, and `P.index` only ever appears after its
data is complete and durable. On any error the temporary files are deleted.
In a bucket (`P` a URL: `_storage.destination`) each file is an upload straight to its name
that appears only when published, in the same order: old index deleted, data objects
completed, index uploaded last; on an error the uploads are cancelled.

Several data files (`new_shard`, `write_shards`) give what TF's sharded save gives: each shard
written as its own SaveV2 would write it, then the indexes merged as MergeV2Checkpoints merges
them: entries keep their shard's offsets and get its number as `shard_id`; a partitioned
tensor's full entry lists its slices in shard order and takes the number of the first shard
holding one of them; the header counts the shards.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, BinaryIO

import numpy as np

from ._bundle import Entry, Header, check_shape, encode_entry, encode_header
from ._coding import crc32c, mask_crc
from ._dtypes import DType, dtype_of_array
from ._naming import INDEX_SUFFIX, data_file_prefix, data_filename, encode_key, index_filename
from ._ordered_code import encode_slice_key
from ._sharding import CheckpointOptions, Shard, ShardableTensor, shard_tensors
from ._slices import SliceSet, box_shape, parse_shape_and_slice, parse_slice_spec, slice_box
from ._storage import Sink, destination
from ._table import build_table
from ._tensor_codec import encode_fixed, encode_strings

__all__ = ["BundleWriter", "save", "to_array", "write_shards", "write_tensors"]

# Small tensors are gathered in this buffer; a tensor larger than it is handed to the kernel
# directly from the array's memory (BufferedWriter bypasses its buffer then), so big tensors
# are never copied once more on the way.
_WRITE_BUFFER = 256 << 10
# With fsync on (the data must reach the disk anyway), the writer manages the page cache:
#  - every _WRITEBACK_CHUNK bytes it asks the kernel to start writing back what was just
#    written, so the disk works while the next tensors are produced and the final fsync waits
#    only for the tail (measured: otherwise the fsync of 1 GiB costs as much as the writes);
#  - data more than _DROP_BEHIND bytes behind, written back by then, is dropped from the page
#    cache, so a checkpoint of any size occupies a few tens of MiB of it, not its own size, and
#    the same pages are reused. Measured on the project's machines (VMs whose memory is backed
#    lazily), putting 1 GiB of new pages into the page cache cost 1.5-2.3 s of system time in a
#    fresh process; reusing 40 MiB of them, 0.2 s. The price: reading a checkpoint right after
#    writing it reads it from disk. With fsync off the page cache is left alone.
_WRITEBACK_CHUNK = 8 << 20
_DROP_BEHIND = 4 * _WRITEBACK_CHUNK
_ADVISE = getattr(os, "posix_fadvise", None)
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def to_array(value: object) -> np.ndarray[Any, Any]:
    """Convert what users pass (arrays, scalars, bytes, lists) the way TF's SaveV2 would see it.

    Python ints become int32 (int64 if they do not fit), floats float32, str/bytes strings;
    torch tensors of any dtype (bfloat16 and float8 included) are detached and copied.
    """
    if isinstance(value, np.ndarray):
        arr = value
    elif value is None or isinstance(value, (Mapping, set, frozenset)):
        hint = (
            " (a nested mapping: join the names with '/' in one flat mapping, or write a tree "
            "with Checkpoint(**tree))"
            if isinstance(value, Mapping)
            else ""
        )
        raise TypeError(f"{type(value).__name__} is not a tensor{hint}")
    elif type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach"):
        arr = _from_torch(value)
    elif isinstance(value, np.generic):  # before float: np.float64 subclasses float
        arr = np.asarray(value)
    elif isinstance(value, (bytes, str)):
        arr = np.array(_as_bytes(value), dtype=object)
    elif isinstance(value, bool):
        arr = np.array(value, dtype=np.bool_)
    elif isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            # TF refuses these too (ValueError); NumPy would raise a bare OverflowError
            raise ValueError(f"the integer {value} does not fit in int64")
        arr = np.array(value, dtype=np.int32 if _INT32_MIN <= value <= _INT32_MAX else np.int64)
    elif isinstance(value, float):
        arr = np.array(value, dtype=np.float32)
    elif isinstance(value, (list, tuple)) and _has_strings(value):
        arr = np.array(value, dtype=object)
    else:
        arr = _as_numeric_array(value)
        if (
            arr.dtype == np.float64
            and not isinstance(value, np.generic)
            and not hasattr(value, "dtype")
        ):
            arr = arr.astype(np.float32)  # a list of Python floats, as TF converts it
        elif (
            arr.dtype == np.int64
            and not hasattr(value, "dtype")
            and (arr.size == 0 or (arr.min() >= _INT32_MIN and arr.max() <= _INT32_MAX))
        ):
            arr = arr.astype(np.int32)  # a list of Python ints, as TF converts it
    if arr.dtype.kind in "SUO":
        flat = [_as_bytes(v) for v in arr.reshape(-1).tolist()]
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        arr = out.reshape(arr.shape)
    return arr


def _as_numeric_array(value: object) -> np.ndarray[Any, Any]:
    """`np.asarray(value)`, refusing what would become an object array of non-strings
    (ragged lists, Decimal, arbitrary objects) with a message that says what is wrong."""
    try:
        arr = np.asarray(value)
    except ValueError as e:
        if isinstance(value, (list, tuple)):
            raise ValueError(
                "a nested list whose rows differ in length (ragged) is not a tensor; pad it "
                "or store each row under its own name"
            ) from e
        raise
    if arr.dtype == object:
        ok = (bytes, str, int, float, complex, np.generic)
        bad = [v for v in arr.reshape(-1).tolist() if not isinstance(v, ok)][:1]
        if isinstance(value, (list, tuple)) and any(isinstance(v, (list, tuple)) for v in value):
            raise ValueError(
                "a nested list whose rows differ in length (ragged) is not a tensor; pad it "
                "or store each row under its own name"
            )
        what = type(bad[0]).__name__ if bad else type(value).__name__
        raise TypeError(f"{what} is not a tensor value (use NumPy arrays, numbers, bytes or str)")
    return arr


def _from_torch(t: Any) -> np.ndarray[Any, Any]:
    """A NumPy copy of a torch tensor: detached, on the CPU; bfloat16/float8 as ml_dtypes."""
    t = t.detach().cpu()
    name = str(t.dtype).removeprefix("torch.")
    try:
        out: np.ndarray[Any, Any] = t.numpy().copy()
        return out
    except TypeError:
        import ml_dtypes
        import torch

        target = getattr(ml_dtypes, name, None)
        if target is None:
            raise TypeError(f"torch {name} tensors have no TensorFlow dtype") from None
        width = np.dtype(target).itemsize
        bits = t.contiguous().view(torch.int16 if width == 2 else torch.uint8).numpy()
        converted: np.ndarray[Any, Any] = bits.view(target).copy()
        return converted


def _has_strings(value: Sequence[Any]) -> bool:
    stack: list[Any] = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (bytes, str)):
            return True
        if isinstance(v, (list, tuple)):
            stack.extend(v)
    return False


def _as_bytes(v: object) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, (bytearray, memoryview, np.bytes_)):
        return bytes(v)
    raise TypeError(f"string tensors hold bytes or str, got {type(v).__name__}")


class BundleWriter:
    """Streams tensors into a new checkpoint at `prefix`; a context manager.

    Example:
        with BundleWriter("out/ckpt") as w:
            w.add("dense/kernel", kernel)
            w.add_slice("emb", (1000, 64), "0,500:-", emb_top)
            w.add_slice("emb", (1000, 64), "500,500:-", emb_bottom)

    Leaving the block normally writes the index and renames everything into place; an
    exception deletes the temporary files and leaves any previous checkpoint untouched.
    """

    def __init__(self, prefix: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.prefix = os.fspath(prefix)
        if not os.path.basename(self.prefix):
            raise ValueError(f"checkpoint prefix {self.prefix!r} names a directory, not a file")
        base = data_file_prefix(self.prefix) or (
            self.prefix[: -len(INDEX_SUFFIX)] if self.prefix.endswith(INDEX_SUFFIX) else None
        )
        if base is not None:
            raise ValueError(
                f"checkpoint prefix {self.prefix!r} names one of a checkpoint's files; pass the "
                f"prefix without the suffix: {base!r}"
            )
        # Where the files go: the local disk, or a URL's store (files are then uploads that
        # appear when published, in the same order).
        self._dest, self._where = destination(self.prefix)
        self._fsync = fsync
        self._index: Sink | None = None
        self._datas: list[Sink] = []  # one per shard, the last one being written
        self._f: BinaryIO | None = None
        self._entries: dict[bytes, Entry] = {}
        self._full: dict[bytes, tuple[Entry, SliceSet]] = {}
        self._done = False
        self._open_shard()

    def _open_shard(self) -> None:
        i = len(self._datas)
        try:
            data = self._dest.create(
                data_filename(self._where, i, i + 1), fsync=self._fsync, buffering=_WRITE_BUFFER
            )
        except OSError as e:
            self.abort()
            raise _saving_error(e, self.prefix) from e
        self._datas.append(data)
        self._f = data.file
        self._offset = 0
        self._written_back = 0  # data before this offset has had its writeback started
        self._dropped = 0  # data before this offset was dropped from the page cache

    @property
    def num_shards(self) -> int:
        """Data files so far: 1, plus one per `new_shard()`."""
        return len(self._datas)

    def new_shard(self) -> None:
        """Finish the current data file; tensors added from now on go to the next one.

        The checkpoint gets one data file per shard (`P.data-0000i-of-0000N`), as TF's
        sharded saves write it; an empty shard is written as an empty data file.
        """
        if self._done or self._f is None:
            raise ValueError("this BundleWriter is already finished")
        self._close_data()
        self._open_shard()

    def _close_data(self) -> None:
        try:
            self._datas[-1].close()
        except OSError as e:
            self.abort()
            raise _saving_error(e, self.prefix) from e
        self._f = None

    # -- adding -------------------------------------------------------------------------

    def add(self, name: str, value: object, *, dtype: DType | None = None) -> None:
        """Append one tensor. `value`: an array, scalar, bytes/str, or (nested) list.

        `dtype` records a TF dtype NumPy cannot tell apart (qint8 is stored like int8): the
        array's dtype must be exactly `dtype`'s NumPy form.
        """
        key = self._check_name(name)
        if key in self._entries or key in self._full:
            raise ValueError(f"adding duplicate key: {name!r}")
        try:
            arr = to_array(value)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{name!r}: {e}") from None
        self._entries[key] = self._write(arr, self._check_dtype(name, arr, dtype))

    @staticmethod
    def _check_dtype(name: str, arr: np.ndarray[Any, Any], dtype: DType | None) -> DType:
        if dtype is None:
            return dtype_of_array(arr)
        if dtype.numpy_dtype != arr.dtype.newbyteorder("<"):
            raise ValueError(f"{name!r}: a {arr.dtype} array cannot be stored as {dtype.name}")
        return dtype

    def add_slice(
        self,
        name: str,
        full_shape: Sequence[int],
        slice_spec: object,
        value: object,
        *,
        dtype: DType | None = None,
    ) -> None:
        """Add one slice of a partitioned tensor of `full_shape`; TF reads the whole back.

        `slice_spec` is TF's slice string (``"0,2:-"``: start,length per dimension, ``-`` for
        all of it) or a sequence of (start, length) pairs, ``None`` or `slice` objects.
        `dtype` as in `add`.
        """
        key = self._check_name(name)
        shape = tuple(int(d) for d in full_shape)
        check_shape(shape)
        extents = parse_slice_spec(slice_spec, shape)
        arr = to_array(value)
        box = slice_box(extents, shape)
        slice_shape = box_shape(box)
        if arr.shape != slice_shape:
            raise ValueError(f"value of shape {arr.shape} does not match slice shape {slice_shape}")
        if all(n < 0 for _, n in extents) or slice_shape == shape:
            self.add(name, arr, dtype=dtype)
            return
        if key in self._entries:
            raise ValueError(f"adding duplicate key: {name!r}")
        dt = self._check_dtype(name, arr, dtype)
        # A full entry belongs to the first shard holding one of its slices (as TF merges).
        full, boxes = self._full.setdefault(
            key,
            (Entry(dtype=dt.enum, shape=shape, shard_id=self.num_shards - 1), SliceSet(len(shape))),
        )
        if full.dtype != dt.enum or full.shape != shape:
            raise ValueError(f"slices of {name!r} disagree on dtype or full shape")
        if boxes.overlaps(box):
            raise ValueError(f"slice {slice_spec!r} of {name!r} overlaps an earlier slice")
        self._entries[encode_slice_key(key, extents)] = self._write(arr, dt)
        full.slices.append(extents)
        boxes.add(box)

    def _check_name(self, name: str) -> bytes:
        if self._done or self._f is None:
            raise ValueError("this BundleWriter is already finished")
        if not isinstance(name, str):
            raise TypeError(f"tensor names are str, got {type(name).__name__}")
        if not name:
            raise ValueError("the empty name is reserved for the bundle header")
        if name.startswith("\x00"):
            raise ValueError("names starting with NUL are reserved for slice keys")
        return encode_key(name)

    def _write(self, arr: np.ndarray[Any, Any], dt: DType) -> Entry:
        assert self._f is not None
        try:
            if dt.name == "string":
                payload, crc = encode_strings(arr.reshape(-1).tolist())
                self._f.write(payload)
                size = len(payload)
            else:
                flat = encode_fixed(arr)
                crc = mask_crc(crc32c(flat))
                self._f.write(flat.data)
                size = flat.nbytes
        except OSError as e:
            # Disk full, I/O error: the half-written temp file is of no use to anyone.
            self.abort()
            raise _saving_error(e, self.prefix) from e
        entry = Entry(
            dtype=dt.enum,
            shape=arr.shape,
            shard_id=self.num_shards - 1,
            offset=self._offset,
            size=size,
            crc32c=crc,
        )
        self._offset += size
        if self._fsync and self._offset - self._written_back >= _WRITEBACK_CHUNK:
            self._start_writeback()
        return entry

    def _start_writeback(self) -> None:
        """Start (not wait for) writeback of what was written since the last call, and drop
        what is far enough behind it from the page cache.

        Linux's POSIX_FADV_DONTNEED starts asynchronous writeback of the dirty pages in a
        range, then drops the clean ones; pages still dirty or being written stay cached. Only
        hints: the fsync in `finish` is what makes the data durable.
        """
        assert self._f is not None
        if _ADVISE is None or self._dest.remote:
            return
        self._f.flush()
        fd = self._f.fileno()
        start, self._written_back = self._written_back, self._offset
        behind = start - _DROP_BEHIND
        try:
            _ADVISE(fd, start, self._offset - start, os.POSIX_FADV_DONTNEED)
            if behind > self._dropped:
                _ADVISE(fd, self._dropped, behind - self._dropped, os.POSIX_FADV_DONTNEED)
                self._dropped = behind
        except OSError:
            pass

    # -- finishing ------------------------------------------------------------------------

    def finish(self) -> str:
        """Write the index and move the files into place; returns the prefix."""
        if self._done:
            return self.prefix
        if self._f is None:
            raise ValueError("this BundleWriter was aborted")
        index_path = index_filename(self._where)
        if self._dest.remote:
            # New objects appear only when published, so the old index can go first; and
            # must, as some stores (fsspec's memory) show a file from the moment it opens.
            self._dest.remove(index_path)
        self._close_data()
        n = self.num_shards
        try:
            items = [(b"", encode_header(Header(num_shards=n)))]
            merged = {k: encode_entry(e) for k, e in self._entries.items()}
            merged.update((k, encode_entry(full)) for k, (full, _) in self._full.items())
            items += sorted(merged.items())
            index = build_table(items)
            self._index = index_file = self._dest.create(index_path, fsync=self._fsync)
            index_file.file.write(index)
            index_file.close()
            if not self._dest.remote:
                self._dest.remove(index_path)  # only now: a full disk leaves the old one whole
            for i, data in enumerate(self._datas):
                data.path = data_filename(self._where, i, n)  # the shard count is final now
                data.publish()
            index_file.publish()
            if self._fsync:
                self._dest.sync_dir(self._dest.dirname(index_path) or ".")
        except BaseException as e:
            self.abort()
            if isinstance(e, OSError):
                raise _saving_error(e, self.prefix) from e
            raise
        self._done = True
        return self.prefix

    def abort(self) -> None:
        """Stop and delete the temporary files; nothing is left that looks like a checkpoint."""
        self._f = None
        for data in self._datas:
            data.discard()
        if self._index is not None:
            self._index.discard()
        self._done = True

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()

    def __del__(self) -> None:
        if not getattr(self, "_done", True):
            self.abort()


def _saving_error(err: OSError, prefix: str) -> OSError:
    """The same OSError subclass and errno, saying which checkpoint could not be saved and
    that nothing of it was left behind (the previous checkpoint, if any, is untouched)."""
    if err.errno is None:
        return err
    what = err.strerror or str(err)
    return type(err)(
        err.errno,
        f"{what}: could not save checkpoint {prefix!r} (temporary files removed)",
        err.filename,
    )


def write_shards(
    prefix: str | os.PathLike[str],
    shards: Sequence[Mapping[str, Mapping[str, object]]],
    *,
    dtypes: Mapping[str, DType] | None = None,
    fsync: bool = True,
) -> str:
    """Write a checkpoint with one data file per shard, as TF's sharded save writes it.

    `shards` is what a `ShardingCallback` returns: per data file, ``{key: {slice spec:
    value}}`` (spec ``""`` for a whole tensor, else TF's ``"4 6 0,2:0,6"``), in file order and
    write order. `dtypes` names the TF dtype of keys NumPy cannot tell apart (qint8).
    Returns the prefix.
    """
    with BundleWriter(prefix, fsync=fsync) as w:
        for i, shard in enumerate(shards):
            if i:
                w.new_shard()
            for key, slices in shard.items():
                dt = dtypes.get(key) if dtypes else None
                for spec, value in slices.items():
                    spec = spec.strip()
                    if not spec:
                        w.add(key, value, dtype=dt)
                        continue
                    full_shape, extents = parse_shape_and_slice(spec)
                    w.add_slice(key, full_shape, extents, value, dtype=dt)
    return w.prefix


def write_tensors(
    prefix: str | os.PathLike[str],
    tensors: Iterable[tuple[str, object]],
    *,
    options: CheckpointOptions | None = None,
    dtypes: Mapping[str, DType] | None = None,
    fsync: bool = True,
) -> str:
    """Write `(key, value)` pairs in order, sharded by `options.experimental_sharding_callback`
    when one is given (one data file otherwise, streamed). Returns the prefix."""
    callback = None if options is None else options.experimental_sharding_callback
    if callback is None:
        with BundleWriter(prefix, fsync=fsync) as w:
            for key, value in tensors:
                w.add(key, value, dtype=dtypes.get(key) if dtypes else None)
        return w.prefix
    shardable = []
    for key, value in tensors:
        arr = to_array(value)
        dt = BundleWriter._check_dtype(key, arr, dtypes.get(key) if dtypes else None)
        shardable.append(ShardableTensor(arr, dt, tuple(arr.shape), "", key))
    plan: list[Shard] = shard_tensors(shardable, callback)
    return write_shards(prefix, plan, dtypes=dtypes, fsync=fsync)


def save(
    prefix: str | os.PathLike[str],
    tensors: Mapping[str, object],
    *,
    fsync: bool = True,
    options: CheckpointOptions | None = None,
) -> str:
    """Write a name-based checkpoint at `prefix` from a mapping of names to values.

    Given the same tensors in the same order, `prefix.index` and `prefix.data-00000-of-00001`
    are byte-identical to what TensorFlow's SaveV2 writes. With `options` carrying a sharding
    callback (`MaxShardSizePolicy`), the data files are split as TF splits them. Returns the
    prefix.

    Example:
        tfckpt_lite.save("out/model", {"w": np.ones((2, 3), np.float32), "step": 7})
    """
    given: object = tensors  # callers without type checking pass anything
    if not isinstance(given, Mapping):
        hint = (
            " (a list of (name, value) pairs: pass dict(pairs))"
            if isinstance(given, (list, tuple))
            else ""
        )
        raise TypeError(
            f"save() takes a mapping of names to values, got {type(tensors).__name__}{hint}"
        )
    return write_tensors(prefix, tensors.items(), options=options, fsync=fsync)
