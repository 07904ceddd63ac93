"""The few protobuf wire-format pieces the hot paths need, without the protobuf runtime.

    tag:        varint (field_number << 3 | wire_type)
    wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 (3/4, groups, are refused)

Why hand-rolled: a checkpoint index can hold 100,000 entries, and parsing each one through a
protobuf message object costs more than the rest of opening the file together. The header and
entry messages are tiny and fixed, so a direct decoder is both faster and lets every malformed
byte become a `CorruptCheckpointError`. Tests compare both directions against the generated
protobuf classes.
"""

from __future__ import annotations

from collections.abc import Iterator

from ._coding import Buffer, decode_fixed32, decode_fixed64, decode_varint, encode_varint
from ._errors import CorruptCheckpointError

__all__ = [
    "FIXED32",
    "FIXED64",
    "LEN",
    "VARINT",
    "field_bytes",
    "field_fixed32",
    "field_varint",
    "iter_fields",
    "key",
    "signed64",
]

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5


def iter_fields(buf: Buffer, pos: int, limit: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield (field number, wire type, value, end) for each field in buf[pos:limit].

    For length-delimited fields `value` is the payload's start offset and `end` its end;
    for the other wire types `value` is the number and `end` is 0.
    """
    while pos < limit:
        tag, pos = decode_varint(buf, pos, limit, "field tag")
        field, wt = tag >> 3, tag & 7
        if field == 0:
            raise CorruptCheckpointError("field number 0 in a protobuf message")
        if wt == VARINT:
            value, pos = decode_varint(buf, pos, limit, "field value")
        elif wt == LEN:
            length, pos = decode_varint(buf, pos, limit, "field length")
            if length > limit - pos:
                raise CorruptCheckpointError("length-delimited field runs past its message")
            value = pos
            pos += length
            yield field, wt, value, pos
            continue
        elif wt == FIXED32:
            value = decode_fixed32(buf, pos, limit, "fixed32 field")
            pos += 4
        elif wt == FIXED64:
            value = decode_fixed64(buf, pos, limit, "fixed64 field")
            pos += 8
        else:
            raise CorruptCheckpointError(f"unsupported protobuf wire type {wt}")
        yield field, wt, value, 0


def signed64(value: int) -> int:
    """Reinterpret a varint as two's-complement int64 (how protobuf stores int32/int64)."""
    return value - (1 << 64) if value >> 63 else value


def key(field: int, wt: int) -> bytes:
    return encode_varint(field << 3 | wt)


def field_varint(field: int, value: int) -> bytes:
    """An int32/int64/enum/bool field; negative values take the 10-byte form, as protobuf does."""
    return key(field, VARINT) + encode_varint(value & 0xFFFFFFFFFFFFFFFF)


def field_bytes(field: int, payload: bytes) -> bytes:
    return key(field, LEN) + encode_varint(len(payload)) + payload


def field_fixed32(field: int, value: int) -> bytes:
    return key(field, FIXED32) + value.to_bytes(4, "little")
