"""The public reading API: `load_checkpoint` and the `CheckpointReader` mapping around it.

`CheckpointReader` is format-agnostic: it delegates to a backend (`BundleReader` for V2
bundles, `V1Reader` for legacy table files) that exposes keys, (dtype, shape) per key, and
values. Names mirror `tf.train.load_checkpoint` so existing code keeps working.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from ._backend import Backend, Progress
from ._bundle_reader import BundleReader
from ._dtypes import DType
from ._errors import (
    CheckpointError,
    CorruptCheckpointError,
    TensorNotFoundError,
    VerificationError,
)
from ._gcpause import gc_paused
from ._naming import OBJECT_GRAPH_KEY, VARIABLE_VALUE_SUFFIX
from ._paths import resolve
from ._storage import FileSystem, filesystem_for

if TYPE_CHECKING:
    from ._graph import ObjectGraph

__all__ = [
    "CheckpointReader",
    "TensorSlicer",
    "latest_checkpoint",
    "list_variables",
    "load",
    "load_checkpoint",
    "load_variable",
]


def _filesystem(path: str, fs: Any, use_mmap: bool = True) -> tuple[FileSystem, str]:
    """Our FileSystem for `path`: local, an fsspec URL, or a wrapped fsspec object."""
    if fs is None:
        return filesystem_for(path, use_mmap=use_mmap)
    if not hasattr(fs, "open_source") and hasattr(fs, "cat_file"):  # an fsspec filesystem
        from ._remote import FsspecFileSystem

        wrapped = FsspecFileSystem(fs)
        return wrapped, fs._strip_protocol(path) if hasattr(fs, "_strip_protocol") else path
    return fs, path


def _open_backend(
    path: str | os.PathLike[str], fs: Any, use_mmap: bool = True, readonly: bool = False
) -> Backend:
    fs, spath = _filesystem(os.fspath(path), fs, use_mmap)
    where = resolve(spath, fs)
    if where.format == "v2":
        return BundleReader(where.prefix, fs, readonly=readonly)
    from ._v1 import V1Reader  # legacy files are rare: its import is paid when one is opened

    return V1Reader(where.prefix, fs, readonly=readonly)


_ENUM_NAMES = {"float32": "DT_FLOAT", "float64": "DT_DOUBLE", "float16": "DT_HALF"}


def _enum_name(dt: DType) -> str:
    """TF's `DataType` enum name (`DT_FLOAT`), as `debug_string` prints it."""
    if dt.name.endswith("_ref"):
        return _enum_name(dt.base_dtype) + "_REF"
    return _ENUM_NAMES.get(dt.name) or (
        dt.name.upper() if dt.name.startswith("DT_") else f"DT_{dt.name.upper()}"
    )


class TensorSlicer:
    """`reader.get_slice(key)[...]`: index a tensor along its leading axis.

    TF's checksum covers a tensor's bytes as a whole, so no subset of rows can be checked on its
    own. With ``verify=True`` (the default) the first indexing of a tensor checks its whole CRC32C
    once per reader, streaming over the memory-mapped shard (nothing is copied for aligned
    fixed-size tensors); it and every later indexing then read only the rows they touch, into
    a writable array of their own (read-only views with ``readonly=True``). With
    ``verify=False`` only those rows' bytes are ever read (a remote tensor: only their byte
    range is fetched), and damage inside them goes unnoticed.
    """

    def __init__(self, backend: Backend, key: str, verified: set[str] | None) -> None:
        self._backend = backend
        self.key = key
        dtype, self.shape = backend.info(key)
        self.dtype = dtype.name
        # The reader's set of keys whose checksum has passed; None: the caller opted out.
        self._verified = verified

    def _rows(self, start: int, stop: int) -> np.ndarray[Any, Any]:
        if self._verified is not None and self.key not in self._verified:
            self._backend.read(self.key, verify=True)
            self._verified.add(self.key)
        return self._backend.read_rows(self.key, start, stop)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a scalar tensor")
        return self.shape[0]

    def __getitem__(self, index: Any) -> np.ndarray[Any, Any]:
        idx = index if isinstance(index, tuple) else (index,)
        if not self.shape or not idx or idx[0] is Ellipsis:
            out: np.ndarray[Any, Any] = self._backend.read(self.key)[index]
            return out
        first, rest = idx[0], idx[1:]
        n = self.shape[0]
        if isinstance(first, (int, np.integer)) and not isinstance(first, bool):
            i = int(first)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis 0 with size {n}")
            i %= n
            row: np.ndarray[Any, Any] = self._rows(i, i + 1)[(0, *rest)]
            return row
        if isinstance(first, slice):
            rows = range(*first.indices(n))
            if not rows:
                empty: np.ndarray[Any, Any] = self._rows(0, 0)
                return empty[(slice(None), *rest)]
            lo, hi = min(rows[0], rows[-1]), max(rows[0], rows[-1]) + 1
            block = self._rows(lo, hi)
            stop = rows.stop - lo
            local = slice(rows.start - lo, stop if stop >= 0 else None, rows.step)
            sliced: np.ndarray[Any, Any] = block[(local, *rest)]
            return sliced
        whole: np.ndarray[Any, Any] = self._backend.read(self.key)[index]
        return whole


class CheckpointReader(Mapping[str, "np.ndarray[Any, Any]"]):
    """A checkpoint opened for reading: a read-only mapping of tensor keys to NumPy arrays.

    Values are verified against their CRC32C on every read. Every read returns a new, writable
    array that is the caller's alone, as TensorFlow's ``get_tensor`` does: writing to it never
    reaches the file, another read, another reader or another process. A large fixed-size
    tensor is a private copy-on-write mapping of its bytes in the data file (no copy is made;
    a page is copied in memory only when written), a small one a copy. Strings come back as
    object arrays of ``bytes``. Opened with ``readonly=True``, arrays are instead read-only
    views of one shared mapping per data file (``flags.writeable`` is False).

    Example:
        with tfckpt_lite.load_checkpoint("runs/ckpt-5") as r:
            for key in r:
                print(key, r.dtype(key), r.shape(key))
            kernel = r["dense/kernel/.ATTRIBUTES/VARIABLE_VALUE"]
    """

    def __init__(self, backend: Backend | str | os.PathLike[str]) -> None:
        """`CheckpointReader(path)` opens a checkpoint as TF's reader does (the same as
        `load_checkpoint(path)`); the library itself passes an opened backend."""
        if isinstance(backend, (str, os.PathLike)):
            backend = _open_backend(backend, None)
        self._backend = backend
        self._keys = backend.keys()
        self._graph: ObjectGraph | bool | None = False  # False: not parsed yet
        self._verified: set[str] = set()  # keys whose checksum get_slice has checked

    # -- identity -------------------------------------------------------------------------

    @property
    def prefix(self) -> str:
        """The checkpoint prefix (or V1 file) that was opened."""
        return self._backend.prefix

    @property
    def format(self) -> str:
        """``"v2"`` for tensor bundles, ``"v1"`` for legacy table files."""
        return self._backend.format

    def __repr__(self) -> str:
        return f"<CheckpointReader {self.format} {self.prefix!r}: {len(self._keys)} tensors>"

    # -- Mapping --------------------------------------------------------------------------

    def __getitem__(self, key: str) -> np.ndarray[Any, Any]:
        self._need(key)
        return self._backend.read(key)

    def _need(self, key: str) -> None:
        """Raise TF's NotFound wording for a missing key, with close matches and, for an
        object path (``model/dense/kernel``), the storage key it names."""
        if key in self._backend:
            return
        hints: list[str] = []
        graph = self.object_graph if isinstance(key, str) else None
        if graph is not None:
            try:
                stored = graph.find(key).value_key
            except (KeyError, ValueError):
                stored = None
            if stored is not None and stored in self._backend:
                hints.append(f"{key!r} is an object path; its value is stored as {stored!r}")
        if not hints and isinstance(key, str):
            import difflib

            near = difflib.get_close_matches(key, self._keys, n=3, cutoff=0.6)
            if not near:  # try without TF2's attribute suffix
                short = {k.removesuffix(VARIABLE_VALUE_SUFFIX): k for k in self._keys}
                near = [short[k] for k in difflib.get_close_matches(key, list(short), n=3)]
            if near:
                hints.append("did you mean " + " or ".join(repr(k) for k in near) + "?")
        try:
            self._backend.info(key)  # the backend's own error names the file it looked in
        except TensorNotFoundError as e:
            if hints:
                e.message = f"{e.message}; {'; '.join(hints)}"
                e.args = (e.message,)
            raise
        raise TensorNotFoundError(f"Key {key} not found in checkpoint", path=self.prefix, key=key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._backend

    # -- TF-compatible names --------------------------------------------------------------

    def get_tensor(self, key: str, *, verify: bool = True) -> Any:
        """The value of `key`, checksum verified unless ``verify=False``, typed as TF's.

        Like TF's ``CheckpointReader.get_tensor``, a 0-d tensor comes back as a NumPy scalar,
        and a 0-d string (such as ``_CHECKPOINTABLE_OBJECT_GRAPH``) as ``bytes``; anything else
        as an array. ``reader[key]`` always returns an array.
        """
        self._need(key)
        value = self._backend.read(key, verify=verify)
        return value[()] if value.ndim == 0 else value

    def has_tensor(self, key: str) -> bool:
        return key in self._backend

    def shape(self, key: str) -> tuple[int, ...]:
        self._need(key)
        return self._backend.info(key)[1]

    def dtype(self, key: str) -> str:
        """TensorFlow's name for the dtype: ``"float32"``, ``"bfloat16"``, ``"string"``..."""
        self._need(key)
        return self._backend.info(key)[0].name

    def dtype_info(self, key: str) -> DType:
        self._need(key)
        return self._backend.info(key)[0]

    def debug_string(self) -> bytes:
        """One line per tensor, sorted, as TF's ``debug_string()``:
        ``b"dense/kernel (DT_FLOAT) [2,3]\n"``."""
        lines = [
            f"{k} ({_enum_name(dt)}) [{','.join(str(d) for d in shape)}]\n"
            for k, dt, shape in sorted(self._infos(), key=lambda i: i[0])
        ]
        return "".join(lines).encode("utf-8", "surrogateescape")

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        with gc_paused():
            return {k: list(shape) for k, _, shape in self._infos()}

    def get_variable_to_dtype_map(self) -> dict[str, DType]:
        with gc_paused():
            return {k: dtype for k, dtype, _ in self._infos()}

    def _infos(self) -> list[tuple[str, DType, tuple[int, ...]]]:
        return self._backend.infos()

    def stored_size(self, key: str) -> int:
        """Bytes the value of `key` occupies in the checkpoint's files (V2: its data-file
        entries; V1: its serialized slices in the table)."""
        return self._backend.stored_size(key)

    def get_slice(self, key: str, *, verify: bool = True) -> TensorSlicer:
        """A lazy handle: ``reader.get_slice("emb")[1000:1010]`` returns only those rows.

        The tensor's checksum is checked once per reader, on first use (one pass over its
        bytes, no copy); ``verify=False`` skips it and reads only the rows' bytes, which is what
        you want for a few rows of a huge remote tensor. See `TensorSlicer`.
        """
        self._need(key)
        return TensorSlicer(self._backend, key, self._verified if verify else None)

    def verify(
        self,
        *,
        progress: Progress | None = None,
        fail_fast: bool = True,
    ) -> int:
        """Check every block and tensor checksum; return the number of tensors checked.

        Args:
            progress: called as ``progress(done, total, key)`` after each tensor.
            fail_fast: raise the first tensor's error (the default). With ``False`` every
                tensor is checked and damage is raised at the end: one damaged tensor's own
                error, or, for several, a `VerificationError` whose ``errors`` lists each.
        """
        errors: list[CheckpointError] = []
        for i, key in enumerate(self._keys):
            try:
                self._backend.verify_tensor(key)
            except CheckpointError as e:
                if fail_fast:
                    raise
                errors.append(e)
            if progress is not None:
                progress(i + 1, len(self._keys), key)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            lines = "".join(f"\n  {e.key or '(no tensor)'}: {e.message}" for e in errors)
            raise VerificationError(
                f"{len(errors)} of {len(self._keys)} tensors are damaged:{lines}",
                path=self.prefix,
                errors=tuple(errors),
            )
        return len(self._keys)

    # -- object graph ---------------------------------------------------------------------

    @property
    def object_graph(self) -> ObjectGraph | None:
        """The TF2 object graph, or None for name-based checkpoints."""
        if self._graph is False:
            if OBJECT_GRAPH_KEY not in self._backend:
                self._graph = None
            else:
                from ._graph import ObjectGraph

                raw = self._backend.read(OBJECT_GRAPH_KEY)
                # One serialized proto in a scalar string. Anything else is damage: an empty
                # tensor has no bytes, and bytes(<numpy int>) would allocate that many bytes.
                if raw.dtype != object or raw.size != 1:
                    dtype = self._backend.info(OBJECT_GRAPH_KEY)[0].name
                    raise CorruptCheckpointError(
                        f"the object graph must be a single string, found {dtype}{list(raw.shape)}",
                        path=self.prefix,
                        key=OBJECT_GRAPH_KEY,
                    )
                self._graph = ObjectGraph.from_bytes(bytes(raw.reshape(-1)[0]), self.prefix)
        assert self._graph is not True
        return self._graph

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Release the files. Arrays already returned stay valid."""
        self._backend.close()

    def __enter__(self) -> CheckpointReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


#: A source of conversions, edits and ports: an open reader, or anything `load_checkpoint`
#: opens.
ReaderOrPath: TypeAlias = "CheckpointReader | str | os.PathLike[str]"


def read_values(
    reader: CheckpointReader, keys: Sequence[str], *, window: int | None = None
) -> Iterator[tuple[str, np.ndarray[Any, Any]]]:
    """``(key, reader[key])`` for many keys. Remote checkpoints fetch the bytes ahead in
    coalesced parallel range requests (`_remote.read_ahead`): with ``window=None`` all at
    once, pairs then coming in data-file order; with a window in bytes, in `keys`' order
    with about two windows fetched ahead (streaming conversions)."""
    backend = reader._backend
    if not backend.remote:
        if window is None:  # all at once: one mapping per data file, checksums threaded
            try:
                yield from backend.read_many(keys).items()
            except TensorNotFoundError as e:
                if e.key is not None:
                    reader._need(e.key)  # the same error, with its hints
                raise
            return
        for k in keys:
            yield k, reader[k]
        return
    from ._remote import read_ahead

    for k in read_ahead(backend, keys, window):
        yield k, reader[k]


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    filesystem: FileSystem | Any | None = None,
    mmap: bool = True,
    readonly: bool = False,
) -> CheckpointReader:
    """Open a checkpoint for reading.

    Args:
        path: a checkpoint prefix (``dir/ckpt-5``), its ``.index`` or any ``.data-*`` file, a
            directory with a ``checkpoint`` state file (its latest checkpoint), a SavedModel
            directory (its ``variables/variables``), or a V1 checkpoint file. A URL
            (``s3://``, ``gs://``, ``https://``, any fsspec protocol) reads remotely: opening
            fetches the index only, each tensor read fetches only its byte range (needs the
            ``remote`` extra, i.e. fsspec).
        filesystem: where `path` lives: an fsspec filesystem object (e.g.
            ``fsspec.filesystem("s3", anon=True)``) or an object implementing tfckpt-lite's
            `FileSystem` protocol. Default: the local disk, or fsspec for URLs.
        mmap: local data files are memory-mapped (the default): a large fixed-size tensor
            is a private copy-on-write mapping of its bytes. With ``mmap=False`` every read
            copies into a new buffer: use it when a data file may be truncated in place while
            you hold arrays (``cp``/``rsync --inplace`` onto it), which with a mapping ends the
            process with SIGBUS; a file that shrinks is then reported as
            `CorruptCheckpointError`.
        readonly: return read-only arrays (``flags.writeable`` False): fixed-size tensors are
            then views of one shared private mapping per data file, with no per-read mapping
            or copy, the fastest way to scan a checkpoint. Reads of the same key share memory;
            copy (``np.array(x)``) what you want to modify. Default False: every read returns
            a writable array of its own.

    Raises:
        CheckpointNotFoundError: nothing checkpoint-like exists there.
        NotACheckpointError: the file is something else (the message says what).
        CorruptCheckpointError: the index is damaged.
    """
    return CheckpointReader(_open_backend(path, filesystem, mmap, readonly))


def load(
    path: str | os.PathLike[str],
    *,
    filesystem: FileSystem | Any | None = None,
    mmap: bool = True,
    readonly: bool = False,
) -> dict[str, Any]:
    """Every tensor of a checkpoint as a dict of NumPy arrays (checksums verified).

    The arrays are writable and the caller's own (see `CheckpointReader`); with
    ``readonly=True`` they are read-only views of the mapped data files. Remote checkpoints
    are fetched in a few large parallel range requests first. `filesystem`, `mmap` and
    `readonly` are as for `load_checkpoint`.

    Entries that hold no array (DT_VARIANT, e.g. a tf.data iterator's state, and DT_RESOURCE)
    are left out with a warning that lists them, so the weights beside them still load in
    one call; `reader[key]` on one of them raises `UnsupportedCheckpointError`.
    """
    with load_checkpoint(path, filesystem=filesystem, mmap=mmap, readonly=readonly) as r:
        opaque = [k for k, dt, _ in r._infos() if dt.numpy_dtype is None]
        if opaque:
            import warnings

            warnings.warn(
                f"load({os.fspath(path)!r}) skipped {len(opaque)} entries that hold no array "
                f"(DT_VARIANT/DT_RESOURCE): {opaque[:10]}"
                + (f" and {len(opaque) - 10} more" if len(opaque) > 10 else ""),
                UserWarning,
                stacklevel=2,
            )
        skip = set(opaque)
        keys = [k for k in r if k not in skip]
        got = dict(read_values(r, keys))
        return {k: got[k] for k in keys}


def list_variables(path: str | os.PathLike[str]) -> list[tuple[str, list[int]]]:
    """``[(name, shape), ...]`` sorted by name, as ``tf.train.list_variables`` returns."""
    with gc_paused(), load_checkpoint(path) as r:
        return list(zip(r._keys, map(list, r._backend.shapes())))


def load_variable(path: str | os.PathLike[str], name: str) -> Any:
    """One tensor's value, as ``tf.train.load_variable``: an array, or for a 0-d tensor a NumPy
    scalar (``bytes`` for a string). A trailing ``:0`` is ignored."""
    if name.endswith(":0"):
        name = name[:-2]
    with load_checkpoint(path) as r:
        return r.get_tensor(name)


def latest_checkpoint(
    checkpoint_dir: str | os.PathLike[str], latest_filename: str | None = None
) -> str | None:
    """The prefix of the newest checkpoint named by ``checkpoint_dir/checkpoint`` (or the state
    file `latest_filename`), or None, as `tf.train.latest_checkpoint`."""
    from ._state import latest_checkpoint_in  # the state file's module, off the read path

    directory = os.fspath(checkpoint_dir)
    return latest_checkpoint_in(directory, filesystem_for(directory)[0], latest_filename)
