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
from typing import Final

from ._coding import decode_varint, encode_varint
from ._errors import CorruptCheckpointError

__all__ = ["BlockBuilder", "decode_block"]

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
