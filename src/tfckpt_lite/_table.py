"""The sorted string table (LevelDB format, TF's fork) that a checkpoint's `.index` file is.

    [data block][trailer] ... [metaindex block][trailer] [index block][trailer] [footer]

    trailer (5 bytes):  type u8 (0 none, 1 Snappy)  then  fixed32 Mask(CRC32C(block || type))
    block handle:       varint64 offset, varint64 size (size excludes the trailer)
    footer (48 bytes):  metaindex handle, index handle, zero padding to byte 40,
                        magic fixed64 0xdb4775248b80fb57

The index block maps, for each data block, a key >= every key in that block and < every key
in the next one to the block's handle. TF shortens those keys (FindShortestSeparator between
blocks, FindShortSuccessor after the last one); the writer below reproduces that so our
`.index` files are byte-identical to TF's. TF's options for bundles: 256 KiB blocks, restart
interval 16 (1 in the index block), no compression, an empty metaindex block.

The reader decodes the whole table eagerly and checks every block checksum, that handles stay
inside the file and that keys strictly increase. A checkpoint index is small next to its data
and TF's own reader also walks every entry on open, so eagerness costs nothing that matters and
leaves no lazily-found corruption for later.
"""

from __future__ import annotations

import itertools
import operator
import struct
from collections.abc import Iterable
from typing import Any, Final

import numpy as np

from ._block import BlockBuilder, decode_block, scan_blocks
from ._coding import crc32c, decode_varint, encode_varint, mask_crc
from ._errors import CheckpointError, ChecksumMismatchError, CorruptCheckpointError
from ._snappy import snappy_decompress

__all__ = [
    "BLOCK_SIZE",
    "FOOTER_SIZE",
    "TABLE_MAGIC",
    "TableBuilder",
    "TableColumns",
    "build_table",
    "read_table",
    "read_table_columns",
]

BLOCK_SIZE: Final = 262144
RESTART_INTERVAL: Final = 16
TABLE_MAGIC: Final = 0xDB4775248B80FB57
FOOTER_SIZE: Final = 48
TRAILER_SIZE: Final = 5
_NO_COMPRESSION: Final = 0
_SNAPPY: Final = 1
_MAGIC_BYTES: Final = struct.pack("<Q", TABLE_MAGIC)
_U32: Final = struct.Struct("<I")


def shortest_separator(start: bytes, limit: bytes) -> bytes:
    """A short key k with start <= k < limit (TF's bytewise FindShortestSeparator)."""
    n = min(len(start), len(limit))
    d = 0
    while d < n and start[d] == limit[d]:
        d += 1
    if d < n:
        b = start[d]
        if b < 0xFF and b + 1 < limit[d]:
            return start[:d] + bytes((b + 1,))
    return start


def short_successor(key: bytes) -> bytes:
    """A short key k >= key (TF's bytewise FindShortSuccessor)."""
    for i, b in enumerate(key):
        if b != 0xFF:
            return key[:i] + bytes((b + 1,))
    return key


class TableBuilder:
    """Builds a table in memory from entries added in strictly increasing key order."""

    def __init__(self, block_size: int = BLOCK_SIZE) -> None:
        self._block_size = block_size
        self._out = bytearray()
        self._data = BlockBuilder(RESTART_INTERVAL)
        self._index = BlockBuilder(1)
        self._last_key: bytes | None = None
        self._pending: tuple[int, int] | None = None  # handle of a block awaiting its index key

    def add(self, key: bytes, value: bytes) -> None:
        if self._last_key is not None and key <= self._last_key:
            raise ValueError(f"table keys must strictly increase: {key!r} after {self._last_key!r}")
        # TF's addition: an entry of two blocks' size or more starts a block of its own.
        if self._last_key is not None and len(key) + len(value) >= 2 * self._block_size:
            self._flush()
        if self._pending is not None:
            assert self._last_key is not None
            self._add_index(shortest_separator(self._last_key, key))
        self._last_key = key
        self._data.add(key, value)
        if self._data.size_estimate() >= self._block_size:
            self._flush()

    def finish(self) -> bytes:
        self._flush()
        meta_handle = self._write_block(BlockBuilder(RESTART_INTERVAL).finish())
        if self._pending is not None:
            assert self._last_key is not None
            self._add_index(short_successor(self._last_key))
        index_handle = self._write_block(self._index.finish())
        footer = bytearray()
        for offset, size in (meta_handle, index_handle):
            footer += encode_varint(offset) + encode_varint(size)
        footer += bytes(40 - len(footer)) + _MAGIC_BYTES
        self._out += footer
        return bytes(self._out)

    def _add_index(self, key: bytes) -> None:
        assert self._pending is not None
        offset, size = self._pending
        self._index.add(key, encode_varint(offset) + encode_varint(size))
        self._pending = None

    def _flush(self) -> None:
        if len(self._data) == 0:
            return
        self._pending = self._write_block(self._data.finish())
        self._data = BlockBuilder(RESTART_INTERVAL)

    def _write_block(self, contents: bytes) -> tuple[int, int]:
        handle = (len(self._out), len(contents))
        type_byte = bytes((_NO_COMPRESSION,))
        self._out += contents
        self._out += type_byte
        self._out += _U32.pack(mask_crc(crc32c(type_byte, crc32c(contents))))
        return handle


def build_table(items: Iterable[tuple[bytes, bytes]], block_size: int = BLOCK_SIZE) -> bytes:
    builder = TableBuilder(block_size)
    for key, value in items:
        builder.add(key, value)
    return builder.finish()


def _decode_handle(buf: bytes, pos: int, limit: int) -> tuple[int, int, int]:
    offset, pos = decode_varint(buf, pos, limit, "block handle")
    size, pos = decode_varint(buf, pos, limit, "block handle")
    return offset, size, pos


def _check_block(data: bytes, offset: int, size: int, what: str) -> int:
    """Check that the block at `offset` (`size` bytes, then its trailer) lies inside the
    table and matches its checksum; return its compression type."""
    end = len(data) - FOOTER_SIZE
    if offset > end or size > end - offset or end - offset - size < TRAILER_SIZE:
        raise CorruptCheckpointError(
            f"truncated block read: {what} at offset {offset} size {size} "
            f"runs past the end of the table ({len(data)} bytes)"
        )
    view = memoryview(data)
    trailer = offset + size
    stored: int = _U32.unpack_from(data, trailer + 1)[0]
    actual = mask_crc(crc32c(view[trailer : trailer + 1], crc32c(view[offset:trailer])))
    if stored != actual:
        raise ChecksumMismatchError(
            f"block checksum mismatch in {what} at offset {offset}: "
            f"stored {stored:#010x}, computed {actual:#010x}"
        )
    return data[trailer]


def _read_block(data: bytes, offset: int, size: int, what: str) -> bytes:
    """The contents of one block, checksum verified and decompressed."""
    type_byte = _check_block(data, offset, size, what)
    contents = data[offset : offset + size]
    if type_byte == _NO_COMPRESSION:
        return contents
    if type_byte == _SNAPPY:
        return snappy_decompress(contents)
    raise CorruptCheckpointError(f"bad block type {type_byte} in {what} at offset {offset}")


def read_table(data: bytes) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of a table, in key order, after validating the whole file."""
    n = len(data)
    if n < FOOTER_SIZE:
        raise CorruptCheckpointError(f"file is too short to be an sstable ({n} bytes)")
    footer = n - FOOTER_SIZE
    if data[n - 8 :] != _MAGIC_BYTES:
        raise CorruptCheckpointError("not an sstable (bad magic number)")
    _, _, pos = _decode_handle(data, footer, n - 8)  # the metaindex: TF never reads it
    index_offset, index_size, _ = _decode_handle(data, pos, n - 8)
    index = decode_block(_read_block(data, index_offset, index_size, "index block"))
    out: list[tuple[bytes, bytes]] = []
    last: bytes | None = None
    for block_no, (index_key, handle) in enumerate(index):
        offset, size, _ = _decode_handle(handle, 0, len(handle))
        what = f"data block {block_no}"
        entries = decode_block(_read_block(data, offset, size, what))
        for key, _ in entries:
            if last is not None and key <= last:
                kind = "duplicate" if key == last else "unsorted"
                raise CorruptCheckpointError(f"{kind} key {key!r} in {what}")
            last = key
        if entries and entries[-1][0] > index_key:
            raise CorruptCheckpointError(f"index key of {what} is below its last key")
        out += entries
    return out


class TableColumns:
    """A whole table as columns: keys decoded as Latin-1 (one character per byte, so they
    sort as the bytes do and `key.encode("latin-1")` gives the stored bytes back), and the
    value of key i at buf[value_start[i]:value_end[i]]."""

    __slots__ = (
        "buf",
        "keys",
        "value_end",
        "value_start",
    )

    def __init__(
        self,
        keys: list[str],
        buf: bytes,
        value_start: np.ndarray[Any, np.dtype[np.int64]],
        value_end: np.ndarray[Any, np.dtype[np.int64]],
    ) -> None:
        self.keys = keys
        self.buf = buf
        self.value_start = value_start
        self.value_end = value_end


def read_table_columns(data: bytes) -> TableColumns:
    """`read_table` as columns, with the same validation and the same errors.

    A checkpoint index of 100,000 or 1,000,000 keys is read mostly in bulk: every block's
    checksum over the file in place, its entries located all at once (`scan_blocks`), keys
    rebuilt from their shared prefixes in one comprehension, and values left in the file as
    offsets. Tables that the bulk scan does not accept as plainly well-formed (compressed
    blocks, multi-byte lengths, odd restart points) take `read_table`, which gives the same
    result or raises the same error.
    """
    n = len(data)
    if n < FOOTER_SIZE or data[n - 8 :] != _MAGIC_BYTES:
        return _columns_of(data, read_table(data))
    footer = n - FOOTER_SIZE
    _, _, pos = _decode_handle(data, footer, n - 8)
    index_offset, index_size, _ = _decode_handle(data, pos, n - 8)
    index = decode_block(_read_block(data, index_offset, index_size, "index block"))
    view = memoryview(data)
    blocks: list[tuple[int, int]] = []
    for block_no, (_, handle) in enumerate(index):
        offset, size, _ = _decode_handle(handle, 0, len(handle))
        try:
            kind = _check_block(data, offset, size, f"data block {block_no}")
        except CheckpointError:  # read_table reports the first problem in its own order
            return _columns_of(data, read_table(data))
        if kind != _NO_COMPRESSION:
            return _columns_of(data, read_table(data))
        blocks.append((offset, size))
    # Block by block, so that the temporaries stay small and their memory is reused.
    keys: list[str] = []
    value_start: list[np.ndarray[Any, np.dtype[np.int64]]] = []
    value_end: list[np.ndarray[Any, np.dtype[np.int64]]] = []
    for (offset, size), (index_key, _) in zip(blocks, index):
        scan = scan_blocks(data, [(offset, size)])
        if scan is None:
            return _columns_of(data, read_table(data))
        shared, key_start, key_end, ends = scan.shared, scan.key_start, scan.key_end, scan.value_end
        # Every key shares at most the previous key's length, and a block's first key nothing.
        lengths = shared + (key_end - key_start)
        if len(shared) and (shared[0] or bool((shared[1:] > lengths[:-1]).any())):
            return _columns_of(data, read_table(data))
        text = str(view[offset : offset + size], "latin-1")
        key = ""
        block_keys = [
            (key := key[:s] + text[a:b])
            for s, a, b in zip(
                shared.tolist(), (key_start - offset).tolist(), (key_end - offset).tolist()
            )
        ]
        if block_keys and block_keys[-1].encode("latin-1") > index_key:
            return _columns_of(data, read_table(data))
        keys += block_keys
        value_start.append(key_end)
        value_end.append(ends)
    if not all(map(operator.lt, keys, itertools.islice(keys, 1, None))):
        return _columns_of(data, read_table(data))
    empty = np.zeros(0, np.int64)
    return TableColumns(
        keys, data, np.concatenate([empty, *value_start]), np.concatenate([empty, *value_end])
    )


def _columns_of(data: bytes, items: list[tuple[bytes, bytes]]) -> TableColumns:
    """`read_table`'s result as columns (its values copied into one buffer)."""
    ends = np.cumsum([len(v) for _, v in items], dtype=np.int64)
    starts = ends - np.array([len(v) for _, v in items], np.int64)
    keys = [k.decode("latin-1") for k, _ in items]
    return TableColumns(keys, b"".join(v for _, v in items), starts, ends)
