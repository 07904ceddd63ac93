"""A block of the sorted table: prefix-compressed key/value entries plus a restart array.

    entry*:
        shared      varint32   bytes shared with the previous key (0 at a restart point)
        non_shared  varint32   length of the rest of the key
        value_len   varint32
        key_delta   non_shared bytes
        value       value_len bytes
    restarts:       fixed32 * num_restarts   offset of each restart entry from the block start
    num_restarts:   fixed32

Every `restart_interval` entries the full key is stored again (`shared == 0`) and its offset
recorded, so a reader can binary-search restart points. TF writes data blocks with interval 16
and the index block with interval 1. An empty block is `00000000 01000000`.

The decoder here reads a whole block into a list. It checks that no entry runs into the
restart array, that `shared` never exceeds the previous key, and that the restart array fits;
it does not trust the restart offsets, which a full scan does not need.
"""

from __future__ import annotations

import struct
from typing import Any, Final

import numpy as np

from ._coding import decode_varint, encode_varint
from ._errors import CorruptCheckpointError

__all__ = ["BlockBuilder", "BlockScan", "decode_block", "scan_blocks"]

_U32: Final = struct.Struct("<I")


class BlockBuilder:
    """Accumulates sorted entries into one block's bytes (TF's BlockBuilder, byte for byte)."""

    def __init__(self, restart_interval: int) -> None:
        if restart_interval < 1:
            raise ValueError("restart_interval must be >= 1")
        self._interval = restart_interval
        self._buf = bytearray()
        self._restarts = [0]
        self._counter = 0
        self._last_key = b""
        self._entries = 0

    def __len__(self) -> int:
        return self._entries

    def size_estimate(self) -> int:
        """The builder's own estimate, which decides when TF flushes a data block."""
        return len(self._buf) + 4 * len(self._restarts) + 4

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self._counter < self._interval:
            last = self._last_key
            limit = min(len(last), len(key))
            while shared < limit and last[shared] == key[shared]:
                shared += 1
        else:
            self._restarts.append(len(self._buf))
            self._counter = 0
        buf = self._buf
        buf += encode_varint(shared)
        buf += encode_varint(len(key) - shared)
        buf += encode_varint(len(value))
        buf += key[shared:]
        buf += value
        self._last_key = key
        self._counter += 1
        self._entries += 1

    def finish(self) -> bytes:
        out = bytearray(self._buf)
        for r in self._restarts:
            out += _U32.pack(r)
        out += _U32.pack(len(self._restarts))
        return bytes(out)


def decode_block(data: bytes) -> list[tuple[bytes, bytes]]:
    """All entries of one block, in stored order."""
    n = len(data)
    if n < 4:
        raise CorruptCheckpointError(f"bad block contents: {n} bytes is too short for a block")
    num_restarts: int = _U32.unpack_from(data, n - 4)[0]
    if num_restarts > (n - 4) // 4:
        raise CorruptCheckpointError(
            f"bad block contents: {num_restarts} restart points do not fit in {n} bytes"
        )
    if num_restarts == 0:
        # TF treats this as an empty block; so do we, unless entries would be lost.
        if n != 4:
            raise CorruptCheckpointError("bad block contents: entries but no restart points")
        return []
    limit = n - 4 - 4 * num_restarts
    out: list[tuple[bytes, bytes]] = []
    append = out.append
    pos = 0
    key = b""
    while pos < limit:
        # Fast path: the three lengths usually fit in one byte each.
        shared = data[pos]
        if shared < 0x80 and pos + 2 < limit:
            non_shared = data[pos + 1]
            value_len = data[pos + 2]
            if non_shared < 0x80 and value_len < 0x80:
                pos += 3
            else:
                shared, pos = decode_varint(data, pos, limit, "entry header")
                non_shared, pos = decode_varint(data, pos, limit, "entry header")
                value_len, pos = decode_varint(data, pos, limit, "entry header")
        else:
            shared, pos = decode_varint(data, pos, limit, "entry header")
            non_shared, pos = decode_varint(data, pos, limit, "entry header")
            value_len, pos = decode_varint(data, pos, limit, "entry header")
        if shared > len(key):
            raise CorruptCheckpointError(
                f"bad entry in block: shares {shared} bytes with a {len(key)}-byte key"
            )
        end_key = pos + non_shared
        end_value = end_key + value_len
        if end_value > limit:
            raise CorruptCheckpointError("bad entry in block: entry runs past the restart array")
        key = key[:shared] + data[pos:end_key] if shared else data[pos:end_key]
        append((key, data[end_key:end_value]))
        pos = end_value
    return out


class BlockScan:
    """Where each entry of a run of blocks lies, in stored order (arrays of equal length):
    `shared` bytes of the previous key, then the key's own bytes at [key_start, key_end) and
    the value at [key_end, value_end) of the buffer the blocks were scanned in."""

    __slots__ = (
        "block_first",
        "key_end",
        "key_start",
        "shared",
        "value_end",
    )

    def __init__(
        self,
        shared: np.ndarray[Any, np.dtype[np.int64]],
        key_start: np.ndarray[Any, np.dtype[np.int64]],
        key_end: np.ndarray[Any, np.dtype[np.int64]],
        value_end: np.ndarray[Any, np.dtype[np.int64]],
        block_first: np.ndarray[Any, np.dtype[np.int64]],
    ) -> None:
        self.shared = shared
        self.key_start = key_start
        self.key_end = key_end
        self.value_end = value_end
        self.block_first = block_first  # index of each block's first entry


# A segment between restart points longer than this is left to `decode_block`: the scan
# advances every segment by one entry per step, so its cost grows with the longest one.
_MAX_SEGMENT: Final = 64


def scan_blocks(buf: bytes, blocks: list[tuple[int, int]]) -> BlockScan | None:
    """Locate every entry of the blocks buf[start:start+size] at once, with NumPy.

    The restart array gives the start of every `restart_interval`-th entry, so all segments
    between restart points are walked together, one entry per step. The result is trusted
    only where it is provably what `decode_block` finds walking from the block's start: the
    first restart is 0, restarts increase, every walk ends exactly on the next restart (the
    last on the restart array) and every length fits in one byte. Anything else (multi-byte
    lengths, odd restarts, an entry that overruns) returns None, and the caller decodes
    those blocks entry by entry, which also reports what is wrong with them.
    """
    arr = np.frombuffer(buf, np.uint8)
    seg_start: list[np.ndarray[Any, Any]] = []
    seg_end: list[np.ndarray[Any, Any]] = []
    for start, size in blocks:
        if size < 4:
            return None
        num_restarts = int.from_bytes(buf[start + size - 4 : start + size], "little")
        limit = size - 4 - 4 * num_restarts
        if num_restarts == 0 or limit < 0:
            return None
        restarts = np.frombuffer(buf, "<u4", num_restarts, start + limit).astype(np.int64)
        if restarts[0] != 0 or (num_restarts > 1 and bool((restarts[1:] <= restarts[:-1]).any())):
            return None
        if int(restarts[-1]) >= limit and (limit > 0 or num_restarts > 1):
            return None
        seg_start.append(restarts + start)
        seg_end.append(np.append(restarts[1:], limit) + start)
    if not seg_start:
        empty = np.zeros(0, np.int64)
        return BlockScan(empty, empty, empty, empty, empty)
    pos = np.concatenate(seg_start)
    ends = np.concatenate(seg_end)
    live = np.flatnonzero(pos < ends)
    found: list[tuple[np.ndarray[Any, Any], ...]] = []
    for _ in range(_MAX_SEGMENT):
        if not len(live):
            break
        p = pos[live]
        e = ends[live]
        if bool((p + 3 > e).any()):
            return None
        shared = arr[p].astype(np.int64)
        non_shared = arr[p + 1].astype(np.int64)
        value_len = arr[p + 2].astype(np.int64)
        if bool(((shared | non_shared | value_len) & 0x80).any()):
            return None
        key_end = p + 3 + non_shared
        nxt = key_end + value_len
        if bool((nxt > e).any()):
            return None
        found.append((p, shared, key_end, nxt))
        pos[live] = nxt
        live = live[nxt < e]
    else:
        if len(live):
            return None
    if not found:
        empty = np.zeros(0, np.int64)
        return BlockScan(empty, empty, empty, empty, np.zeros(len(blocks), np.int64))
    p, shared, key_end, value_end = (np.concatenate(c) for c in zip(*found))
    order = np.argsort(p, kind="stable")
    p, shared, key_end, value_end = p[order], shared[order], key_end[order], value_end[order]
    block_starts = np.array([s for s, _ in blocks], np.int64)
    block_first = np.searchsorted(p, block_starts)
    return BlockScan(shared, p + 3, key_end, value_end, block_first)
