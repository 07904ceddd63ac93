"""Raw Snappy decompression, enough to read the rare Snappy-compressed table block.

TF never compresses bundle indexes it writes today, but files from TF < 1.1 era tools (and
some exported models) carry block type 1 = Snappy. The block is then the raw Snappy format:

    preamble:  varint32 uncompressed length
    elements:  tag byte, low two bits select the kind
        00 literal   length-1 in tag>>2, or (tag>>2)-59 extra little-endian bytes hold it
        01 copy      length 4 + ((tag>>2) & 7), offset ((tag>>5) << 8) | next byte
        10 copy      length 1 + (tag>>2), offset fixed16
        11 copy      length 1 + (tag>>2), offset fixed32
    A copy repeats `length` bytes starting `offset` bytes back; it may overlap its own output.

Pure Python: blocks are small (an index block), so clarity wins over speed. The declared
length is checked against a bound before anything is allocated.
"""

from __future__ import annotations

from typing import Final

from ._coding import decode_varint
from ._errors import CorruptCheckpointError

__all__ = ["snappy_decompress"]

# Snappy cannot expand by more than this factor (a 3-byte element copying 64 bytes), so a
# declared length beyond it is a lie and must not drive an allocation.
_MAX_EXPANSION: Final = 64


def snappy_decompress(data: bytes) -> bytes:
    n = len(data)
    length, pos = decode_varint(data, 0, n, "snappy length")
    if length > _MAX_EXPANSION * n:
        raise CorruptCheckpointError(
            f"corrupted compressed block contents: claims {length} bytes from {n}"
        )
    out = bytearray()
    while pos < n:
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:
            lit = tag >> 2
            if lit >= 60:
                extra = lit - 59
                if pos + extra > n:
                    raise CorruptCheckpointError("corrupted compressed block contents: truncated")
                lit = int.from_bytes(data[pos : pos + extra], "little")
                pos += extra
            lit += 1
            if pos + lit > n:
                raise CorruptCheckpointError("corrupted compressed block contents: truncated")
            out += data[pos : pos + lit]
            pos += lit
        else:
            if kind == 1:
                size = 4 + ((tag >> 2) & 7)
                width = 1
            else:
                size = 1 + (tag >> 2)
                width = 2 if kind == 2 else 4
            if pos + width > n:
                raise CorruptCheckpointError("corrupted compressed block contents: truncated")
            offset = int.from_bytes(data[pos : pos + width], "little")
            if kind == 1:
                offset |= (tag >> 5) << 8
            pos += width
            start = len(out) - offset
            if offset == 0 or start < 0:
                raise CorruptCheckpointError("corrupted compressed block contents: bad offset")
            if offset >= size:
                out += out[start : start + size]
            else:  # overlapping copy: the pattern of `offset` bytes repeats
                pattern = bytes(out[start:])
                reps = -(-size // offset)
                out += (pattern * reps)[:size]
        if len(out) > length:
            raise CorruptCheckpointError("corrupted compressed block contents: too long")
    if len(out) != length:
        raise CorruptCheckpointError(
            f"corrupted compressed block contents: {len(out)} bytes, expected {length}"
        )
    return bytes(out)
