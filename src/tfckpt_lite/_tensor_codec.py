"""Tensor payloads: the bytes of one tensor in a data file.

Fixed-width dtypes: the elements in row-major order, little-endian, nothing else.

DT_STRING, n elements:

    varint64 len(s_0) ... varint64 len(s_n-1)
    4 bytes   Mask(L), in the writer's byte order; L = CRC32C of the lengths written as
              fixed-width words (uint32 when the length fits, else uint64), not of the varints
    s_0 s_1 ... s_n-1 concatenated

    The entry's CRC runs on: C = L, then C = Extend(C, the 4 stored bytes), then Extend over
    the string bytes; the index stores Mask(C).

DT_VARIANT, per element: varint64 len, a serialized VariantTensorDataProto, then 4 bytes
Mask(C) of a running CRC that is never reset: C = Extend(C, len as uint64), Extend(C, proto),
and after the stored 4 bytes, C = Extend(C, those bytes). The entry stores Mask(C) at the end.

Lengths are decoded by `_coding.decode_varints` (vectorized), and every length is checked
against the entry's size before the string bytes are touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._coding import (
    Buffer,
    crc32c,
    decode_varint,
    decode_varints,
    encode_varint,
    mask_crc,
    unmask_crc,
)
from ._errors import ChecksumMismatchError, CorruptCheckpointError

__all__ = ["decode_strings", "decode_variants", "encode_fixed", "encode_strings"]

_U32_MAX = 0xFFFFFFFF


def encode_fixed(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The payload of a fixed-width tensor as a flat uint8 array: a view of `arr` when it is
    already little-endian and C-contiguous, else one copy."""
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8)


def _length_words(lengths: np.ndarray[Any, Any], big_endian: bool) -> bytes:
    order = ">" if big_endian else "<"
    if len(lengths) == 0 or int(lengths.max()) <= _U32_MAX:
        return lengths.astype(order + "u4").tobytes()
    return b"".join(
        int(v).to_bytes(4 if v <= _U32_MAX else 8, "big" if big_endian else "little")
        for v in lengths.tolist()
    )


def decode_strings(
    buf: Buffer, n: int, stored_crc: int, *, big_endian: bool = False, verify: bool = True
) -> np.ndarray[Any, Any]:
    """The n strings of a DT_STRING payload `buf` (exactly the entry's bytes), as objects."""
    size = len(buf)
    # Checked before allocating: n comes from the index and may be absurd.
    if size < n + 4:
        raise CorruptCheckpointError(
            f"string tensor of {n} elements needs at least {n + 4} bytes, has {size}"
        )
    out = np.empty(n, dtype=object)
    if n == 0:
        lengths: np.ndarray[Any, Any] = np.zeros(0, np.uint64)
        pos = 0
    else:
        lengths, pos = decode_varints(buf, 0, size - 4, n, "string length")
    total = int(lengths.sum(dtype=object)) if n else 0
    if pos + 4 + total != size:
        raise CorruptCheckpointError(
            f"string tensor size mismatch: lengths add up to {pos + 4 + total} bytes, "
            f"entry says {size}"
        )
    stored4 = bytes(buf[pos : pos + 4])
    words = _length_words(lengths, big_endian)
    crc = crc32c(words)
    if verify:
        got = int.from_bytes(stored4, "big" if big_endian else "little")
        if unmask_crc(got) != crc:
            raise ChecksumMismatchError(
                f"the length checksum does not match: expected {unmask_crc(got):08d} "
                f"but actual is {crc:08d}"
            )
    data = bytes(buf[pos + 4 :])
    if verify:
        actual = crc32c(data, crc32c(stored4, crc))
        if actual != unmask_crc(stored_crc):
            raise ChecksumMismatchError(
                f"checksum does not match: stored {unmask_crc(stored_crc):08d} "
                f"vs. calculated on the restored bytes {actual:08d}"
            )
    if n:
        ends = np.cumsum(lengths.astype(np.int64)).tolist()
        starts = [0, *ends[:-1]]
        out[:] = [data[s:e] for s, e in zip(starts, ends)]
    return out


def encode_strings(values: Sequence[bytes]) -> tuple[bytes, int]:
    """(payload, masked entry CRC) for a DT_STRING tensor with these elements in C order."""
    lens = [len(v) for v in values]
    if not lens or max(lens) < 0x80:
        varints = bytes(lens)
    else:
        varints = b"".join(encode_varint(n) for n in lens)
    crc = crc32c(_length_words(np.array(lens, dtype=np.uint64), False))
    stored4 = mask_crc(crc).to_bytes(4, "little")
    data = b"".join(values)
    return varints + stored4 + data, mask_crc(crc32c(data, crc32c(stored4, crc)))


def decode_variants(buf: Buffer, n: int, stored_crc: int, *, verify: bool = True) -> list[bytes]:
    """The serialized VariantTensorDataProto of each element, checksums verified."""
    size = len(buf)
    pos = 0
    crc = 0
    out: list[bytes] = []
    for i in range(n):
        length, pos = decode_varint(buf, pos, size, "variant length")
        if length > size - pos - 4:
            raise CorruptCheckpointError(f"variant {i} runs past the end of its entry")
        proto = bytes(buf[pos : pos + length])
        pos += length
        crc = crc32c(proto, crc32c(length.to_bytes(8, "little"), crc))
        stored4 = bytes(buf[pos : pos + 4])
        pos += 4
        if verify and unmask_crc(int.from_bytes(stored4, "little")) != crc:
            raise ChecksumMismatchError(f"the checksum after variant {i} does not match")
        crc = crc32c(stored4, crc)
        out.append(proto)
    if pos != size:
        raise CorruptCheckpointError(f"variant tensor has {size - pos} trailing bytes")
    if verify and crc != unmask_crc(stored_crc):
        raise ChecksumMismatchError("variant tensor checksum does not match")
    return out
