"""Saving one checkpoint from many processes: each writes a part, one step merges them.

This is how TensorFlow saves a checkpoint whose variables live on several devices or hosts:

    worker i of n:  a complete bundle at  <prefix>_temp/part-0000i-of-0000n
                    (.index + .data-00000-of-00001), holding only its own tensors
    then, once:     MergeV2Checkpoints(parts, <prefix>)
                      - data files are renamed to <prefix>.data-SSSSS-of-NNNNN, numbered in the
                        order in which the merged index (sorted by key) first refers to them
                      - entries get their file's new shard number; the full entries of a tensor
                        partitioned across parts are joined (their slice lists concatenated in
                        part order); any other key in two parts is an error
                      - the header takes the first part's endianness and version (all must
                        agree) and the sum of the parts' shard counts
                      - the merged index is written, then the parts' indexes are deleted and
                        their (now empty) directories removed

`merge_v2_checkpoints` produces the same bytes as TF's op for the same parts, so a launcher of
any kind (multiprocessing, torch.distributed, Ray, Dask, Slurm) can drive the two halves:
`part_prefix` says where each worker writes (with `BundleWriter` or `save`), and one process
merges when all have finished. The merged index is written atomically after every data file is
in place, so the checkpoint appears whole or not at all.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

from ._bundle import (
    Entry,
    Header,
    check_header,
    decode_entry,
    decode_header,
    encode_entry,
    encode_header,
)
from ._errors import CheckpointError, CorruptCheckpointError, _with_context
from ._naming import data_filename, decode_key, index_filename
from ._naming import part_prefix as _part_prefix
from ._storage import destination, same_store
from ._table import build_table, read_table

__all__ = ["merge_v2_checkpoints", "part_prefix"]


def part_prefix(file_prefix: str | os.PathLike[str], part: int, num_parts: int) -> str:
    """Where worker `part` of `num_parts` writes its bundle: TF's temporary name
    ``<file_prefix>_temp/part-0000<part>-of-0000<num_parts>``."""
    if not isinstance(part, int) or not isinstance(num_parts, int) or num_parts < 1:
        raise ValueError(f"num_parts must be a positive int, got {num_parts!r}")
    if not 0 <= part < num_parts:
        raise ValueError(f"part must be in [0, {num_parts}), got {part!r}")
    return _part_prefix(os.fspath(file_prefix), part, num_parts)


class _Merge:
    """The accumulated state of TF's MergeBundles."""

    def __init__(self) -> None:
        self.header: Header | None = None
        self.num_shards = 0
        self.entries: dict[bytes, Entry] = {}
        self.shard_ids: dict[str, int] = {}  # source data file -> new shard number (ordered)
        self.part_shards: list[tuple[str, int]] = []  # (part prefix, its shard count)

    def add(self, prefix: str, raw_index: bytes) -> None:
        index_path = index_filename(prefix)
        try:
            items = read_table(raw_index)
            if not items or items[0][0] != b"":
                raise CorruptCheckpointError("the index has no bundle header")
            header = decode_header(items[0][1])
            check_header(header)
        except CheckpointError as e:
            raise _with_context(e, path=index_path) from None
        if self.header is None:
            self.header = header
        elif (header.big_endian, header.producer, header.min_consumer, header.bad_consumers) != (
            self.header.big_endian,
            self.header.producer,
            self.header.min_consumer,
            self.header.bad_consumers,
        ):
            raise ValueError(
                f"cannot merge {prefix!r}: its endianness or format version differs from the "
                f"first part's"
            )
        self.num_shards += header.num_shards
        self.part_shards.append((prefix, header.num_shards))
        for raw_key, raw in items[1:]:
            existing = self.entries.get(raw_key)
            key = decode_key(raw_key)
            if existing is not None and not existing.slices:
                raise ValueError(
                    f"duplicate tensor keyed by {key!r} encountered when merging {prefix!r}: "
                    f"each tensor must be written by exactly one part"
                )
            try:
                entry = decode_entry(raw)
            except CheckpointError as e:
                raise _with_context(e, path=index_path, key=key) from None
            if existing is not None:
                # The full entry of a partitioned tensor: its slices were written by several
                # parts, each listing its own.
                if (
                    not entry.slices
                    or entry.dtype != existing.dtype
                    or (entry.shape != existing.shape)
                ):
                    raise ValueError(
                        f"duplicate tensor keyed by {key!r} in {prefix!r} is not a matching "
                        f"partitioned tensor ({entry.dtype_info.name}{list(entry.shape)} vs "
                        f"{existing.dtype_info.name}{list(existing.shape)})"
                    )
                existing.slices.extend(entry.slices)
                continue
            if not 0 <= entry.shard_id < max(header.num_shards, 1):
                raise _with_context(
                    CorruptCheckpointError(
                        f"shard_id {entry.shard_id} out of range for {header.num_shards} shards"
                    ),
                    path=index_path,
                    key=key,
                )
            source = data_filename(prefix, entry.shard_id, header.num_shards)
            entry.shard_id = self.shard_ids.setdefault(source, len(self.shard_ids))
            self.entries[raw_key] = entry


def merge_v2_checkpoints(
    checkpoint_prefixes: Sequence[str | os.PathLike[str]],
    destination_prefix: str | os.PathLike[str],
    delete_old_dirs: bool = True,
    allow_missing_files: bool = False,
    *,
    fsync: bool = True,
) -> str:
    """Merge the bundles written by the workers of a sharded save into one checkpoint.

    The counterpart of ``tf.raw_ops.MergeV2Checkpoints`` (same arguments, same output bytes):
    the parts' data files are renamed to ``destination_prefix.data-*``, one index is written
    for all of them, and the parts' indexes are deleted. With `delete_old_dirs`, each part's
    directory is removed afterwards when it is empty and is not the destination's. With
    `allow_missing_files`, parts without an index are skipped (at least one must exist).
    Returns the destination prefix.

    The parts and the destination may be in a bucket (``s3://``, ``gs://``, ...), all in one
    store: there each data file is moved with a server-side copy and a delete, and the
    merged index, uploaded last, is what makes the checkpoint appear (docs/remote.md).

    Raises:
        CheckpointNotFoundError: a part's index is missing (and not allowed to be).
        CorruptCheckpointError: a part's index is damaged.
        ValueError: two parts hold the same (non-partitioned) tensor, or their formats differ;
            or the parts are not in the destination's store, or it cannot be written.
    """
    dest_url = os.fspath(destination_prefix)
    urls = [os.fspath(p) for p in checkpoint_prefixes]
    if isinstance(checkpoint_prefixes, (str, bytes)) or not urls:
        raise ValueError("checkpoint_prefixes must be a non-empty list of checkpoint prefixes")
    # The stores first: a URL that cannot be written, or parts in another store than the
    # destination (a rename cannot cross stores), are refused before anything is read.
    store, dest = destination(dest_url)
    prefixes = []
    for url in urls:
        part_store, prefix = destination(url)
        if not same_store(store, part_store):
            raise ValueError(
                f"cannot merge {url!r} into {dest_url!r}: the parts and the destination must "
                "be in one store (their data files are renamed, and a rename cannot cross "
                "stores); write the parts where the checkpoint goes"
            )
        prefixes.append(prefix)
    merge = _Merge()
    merged_parts = []
    for prefix in prefixes:
        index_path = index_filename(prefix)
        if allow_missing_files and not store.exists(index_path):
            continue
        merge.add(prefix, store.read_bytes(index_path))
        merged_parts.append(prefix)
    if merge.header is None:
        raise ValueError(f"none of the checkpoint_prefixes exist: {urls}")
    # Validate every data file before anything is renamed: a merge fails without side effects.
    for source in merge.shard_ids:
        if not store.isfile(source):
            raise CorruptCheckpointError("data file of a part is missing", path=source)

    header = merge.header
    # TF writes the sum of the parts' shard counts; that equals the number of data files
    # whenever every data file holds a tensor. A part whose data file holds none (a worker
    # with nothing to save) would make TF's result name files it does not have; ours counts
    # the files it keeps and deletes such empty ones.
    header.num_shards = len(merge.shard_ids)
    orphans = [
        data_filename(p, i, n)
        for p, n in merge.part_shards
        for i in range(n)
        if data_filename(p, i, n) not in merge.shard_ids
    ]
    items = [(b"", encode_header(header))]
    items += [(k, encode_entry(e)) for k, e in sorted(merge.entries.items())]
    index = build_table(items)
    index_path = index_filename(dest)
    # An old index must never sit beside new data: remove it before the data files move.
    store.remove(index_path)
    total = len(merge.shard_ids)
    for source, shard in merge.shard_ids.items():
        store.rename(source, data_filename(dest, shard, total))
    # Last, the index: the checkpoint exists from here on, whole. (On disk its commit fsyncs
    # the directory, which makes the renames durable too.)
    with store.create(index_path, fsync=fsync) as out:
        out.file.write(index)
    for path in [*map(index_filename, merged_parts), *orphans]:
        with contextlib.suppress(OSError):  # best effort, as TF
            store.remove(path)
    if delete_old_dirs and not store.remote:  # an object store has no empty directories
        dest_dir = os.path.dirname(dest) or "."
        for prefix in merged_parts:
            d = os.path.dirname(prefix) or "."
            if os.path.abspath(d) == os.path.abspath(dest_dir):
                continue
            try:
                os.rmdir(d)
            except OSError:
                pass  # not empty (or already removed by an earlier part): TF also ignores it
    return dest_url
