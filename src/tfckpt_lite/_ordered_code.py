"""Order-preserving encodings that name the stored slices of a partitioned tensor.

A slice key is, concatenated (TF's EncodeTensorNameSlice):

    num_increasing(0)          00
    string(name)               name with 00 -> 00 ff and ff -> ff 00, then 00 01
    num_increasing(rank)       a length byte n, then n big-endian bytes (leading zeros dropped)
    per dimension: signed(start), signed(length)   length -1 means the whole dimension

`signed` is OrderedCode's WriteSignedNumIncreasing: for x = v (v >= 0) or ~v (v < 0), values
with x < 64 take one byte `v ^ 0x80`; longer ones take L = bitlen(x) // 7 + 1 bytes, the low L
bytes of the 10-byte two's complement of v, with a header of L bits equal to the sign bit
XORed into the first two bytes. Every key starts with 00, so slice keys sort before any
tensor name (after the header's empty key).
"""

from __future__ import annotations

from typing import Final

from ._bundle import MAX_RANK, Extent
from ._errors import CorruptCheckpointError

__all__ = ["decode_slice_key", "encode_slice_key"]

# XOR masks for the first two bytes of an L-byte signed number, indexed by L (0 and 1 unused).
_H0: Final = (0, 0, 0xC0, 0xE0, 0xF0, 0xF8, 0xFC, 0xFE, 0xFF, 0xFF, 0xFF)
_H1: Final = (0, 0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0xC0)


def _num_increasing(v: int) -> bytes:
    body = v.to_bytes(8, "big").lstrip(b"\x00")
    return bytes((len(body),)) + body


def _signed(v: int) -> bytes:
    x = v if v >= 0 else ~v
    if x < 64:
        return bytes(((v ^ 0x80) & 0xFF,))
    n = x.bit_length() // 7 + 1
    raw = bytearray((v & ((1 << 80) - 1)).to_bytes(10, "big")[10 - n :])
    raw[0] ^= _H0[n]
    if n > 1:
        raw[1] ^= _H1[n]
    return bytes(raw)


def encode_slice_key(name: bytes, extents: list[Extent]) -> bytes:
    escaped = _escape(name)
    out = bytearray(b"\x00")
    out += escaped + b"\x00\x01"
    out += _num_increasing(len(extents))
    for start, length in extents:
        out += _signed(start)
        out += _signed(length if length >= 0 else -1)
    return bytes(out)


def _escape(s: bytes) -> bytes:
    out = bytearray()
    for b in s:
        if b == 0:
            out += b"\x00\xff"
        elif b == 0xFF:
            out += b"\xff\x00"
        else:
            out.append(b)
    return bytes(out)


def _read_num_increasing(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise CorruptCheckpointError("truncated number in slice key")
    n = buf[pos]
    if n > 8 or pos + 1 + n > len(buf):
        raise CorruptCheckpointError("bad number in slice key")
    return int.from_bytes(buf[pos + 1 : pos + 1 + n], "big"), pos + 1 + n


def _read_signed(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise CorruptCheckpointError("truncated signed number in slice key")
    first = buf[pos]
    sign = first >> 7  # 1 for non-negative
    # Count the header bits equal to the sign bit across the first two bytes.
    two = (first << 8) | (buf[pos + 1] if pos + 1 < len(buf) else (0xFF if not sign else 0))
    if not sign:
        two ^= 0xFFFF
    n = 1
    mask = 0x4000
    while n < 10 and two & mask:
        n += 1
        mask >>= 1
    if pos + n > len(buf):
        raise CorruptCheckpointError("truncated signed number in slice key")
    raw = bytearray(buf[pos : pos + n])
    if n == 1:
        return raw[0] ^ 0x80 if sign else (raw[0] ^ 0x80) - 256, pos + 1
    raw[0] ^= _H0[n]
    raw[1] ^= _H1[n]
    value = int.from_bytes(raw, "big", signed=False)
    bits = 8 * n
    if not sign:
        value -= 1 << bits
    if not -(2**63) <= value < 2**63:
        raise CorruptCheckpointError("signed number in slice key does not fit in 64 bits")
    if _signed(value) != bytes(buf[pos : pos + n]):
        raise CorruptCheckpointError("non-canonical signed number in slice key")
    return value, pos + n


def decode_slice_key(key: bytes) -> tuple[bytes, list[Extent]]:
    """(tensor name, extents) of a slice key; the inverse of `encode_slice_key`."""
    pos = 0
    zero, pos = _read_num_increasing(key, pos)
    if zero != 0:
        raise CorruptCheckpointError("slice key does not start with 0")
    name = bytearray()
    n = len(key)
    while True:
        if pos >= n:
            raise CorruptCheckpointError("unterminated name in slice key")
        b = key[pos]
        if b == 0 or b == 0xFF:
            if pos + 1 >= n:
                raise CorruptCheckpointError("unterminated name in slice key")
            nxt = key[pos + 1]
            if b == 0 and nxt == 0x01:
                pos += 2
                break
            if (b == 0 and nxt == 0xFF) or (b == 0xFF and nxt == 0x00):
                name.append(b)
                pos += 2
                continue
            raise CorruptCheckpointError("bad escape in slice key")
        name.append(b)
        pos += 1
    rank, pos = _read_num_increasing(key, pos)
    if rank == 0 or rank > MAX_RANK:
        raise CorruptCheckpointError(f"bad rank {rank} in slice key")
    extents: list[Extent] = []
    for _ in range(rank):
        start, pos = _read_signed(key, pos)
        length, pos = _read_signed(key, pos)
        if length < -1:
            raise CorruptCheckpointError(f"negative length {length} in slice key")
        extents.append((start, length))
    if pos != n:
        raise CorruptCheckpointError("trailing bytes in slice key")
    return bytes(name), extents
