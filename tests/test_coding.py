"""Primitive codecs: varints, fixed-width integers, CRC32C and its mask, raw Snappy.

Known answers come from FORMAT.md section 2 (TF's crc32c_test.cc, RFC 3720 B.4) and, for
Snappy, from hand-assembled streams plus a few produced once by the reference compressor
(cramjam 2.x `snappy.compress_raw`) and committed here as hex.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tfckpt_lite._coding as coding
from tfckpt_lite._coding import (
    MASK_DELTA,
    crc32c,
    decode_fixed32,
    decode_fixed64,
    decode_varint,
    encode_fixed32,
    encode_fixed64,
    encode_varint,
    mask_crc,
    unmask_crc,
)
from tfckpt_lite._errors import CheckpointError, CorruptCheckpointError
from tfckpt_lite._snappy import snappy_decompress

U64 = st.integers(min_value=0, max_value=2**64 - 1)
U32 = st.integers(min_value=0, max_value=2**32 - 1)

# -- varint ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "hex_bytes"),
    [
        (0, "00"),
        (1, "01"),
        (127, "7f"),
        (128, "8001"),
        (300, "ac02"),
        (16383, "ff7f"),
        (16384, "808001"),
        (2**32 - 1, "ffffffff0f"),
        (2**63, "80808080808080808001"),
        (2**64 - 1, "ffffffffffffffffff01"),
    ],
)
def test_varint_known_encodings(value: int, hex_bytes: str) -> None:
    raw = bytes.fromhex(hex_bytes)
    assert encode_varint(value) == raw
    assert decode_varint(raw, 0, len(raw)) == (value, len(raw))


@given(U64, st.binary(max_size=4), st.binary(max_size=4))
def test_varint_round_trip_inside_a_buffer(value: int, before: bytes, after: bytes) -> None:
    enc = encode_varint(value)
    assert 1 <= len(enc) <= 10
    assert all(b & 0x80 for b in enc[:-1]) and enc[-1] < 0x80
    buf = before + enc + after
    assert decode_varint(buf, len(before), len(buf)) == (value, len(before) + len(enc))
    # memoryview and bytearray are accepted too (the reader hands out mmap views)
    assert decode_varint(memoryview(buf), len(before), len(buf))[0] == value
    assert decode_varint(bytearray(buf), len(before), len(buf))[0] == value


@given(U64)
def test_varint_truncated_anywhere_is_corrupt(value: int) -> None:
    enc = encode_varint(value)
    for cut in range(len(enc)):
        with pytest.raises(CorruptCheckpointError, match="truncated"):
            decode_varint(enc, 0, cut)
        # the limit is respected even when bytes follow in the buffer
        with pytest.raises(CorruptCheckpointError):
            decode_varint(enc + b"\x00", 0, cut)


def test_varint_overlong_and_overflow() -> None:
    eleven = b"\x80" * 10 + b"\x00"
    with pytest.raises(CorruptCheckpointError, match="longer than 10 bytes"):
        decode_varint(eleven, 0, len(eleven))
    # 10 bytes whose last carries more than the single bit left for 2^63
    too_big = b"\xff" * 9 + b"\x02"
    with pytest.raises(CorruptCheckpointError, match="64 bits"):
        decode_varint(too_big, 0, len(too_big))
    # the largest legal 10-byte varint still decodes
    assert decode_varint(b"\xff" * 9 + b"\x01", 0, 10) == (2**64 - 1, 10)
    with pytest.raises(CorruptCheckpointError):
        decode_varint(b"", 0, 0)


@pytest.mark.parametrize("bad", [-1, 2**64])
def test_varint_encode_rejects_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError):
        encode_varint(bad)


@given(st.binary(max_size=12))
def test_varint_decoder_never_raises_anything_else(data: bytes) -> None:
    try:
        value, pos = decode_varint(data, 0, len(data))
    except CheckpointError:
        return
    assert 0 <= value < 2**64
    assert encode_varint(value) == data[:pos] or data[pos - 1] == 0  # non-minimal padding


# -- fixed ----------------------------------------------------------------------------------


@given(U32, U64)
def test_fixed_round_trip_little_endian(v32: int, v64: int) -> None:
    assert encode_fixed32(v32) == struct.pack("<I", v32)
    assert encode_fixed64(v64) == struct.pack("<Q", v64)
    buf = b"x" + encode_fixed32(v32) + encode_fixed64(v64)
    assert decode_fixed32(buf, 1, len(buf)) == v32
    assert decode_fixed64(buf, 5, len(buf)) == v64


def test_fixed_truncation() -> None:
    buf = bytes(16)
    with pytest.raises(CorruptCheckpointError):
        decode_fixed32(buf, 0, 3)
    with pytest.raises(CorruptCheckpointError):
        decode_fixed64(buf, 9, 16)
    with pytest.raises(CorruptCheckpointError):
        decode_fixed32(buf, -1, 16)
    assert decode_fixed64(b"\x57\xfb\x80\x8b\x24\x75\x47\xdb", 0, 8) == 0xDB4775248B80FB57


# -- CRC32C and mask ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "crc"),
    [
        (b"", 0),
        (b"123456789", 0xE3069283),
        (bytes(32), 0x8A9136AA),
        (b"\xff" * 32, 0x62A8AB43),
        (bytes(range(32)), 0x46DD794E),
        (bytes(range(31, -1, -1)), 0x113FDB5C),
    ],
)
def test_crc32c_vectors(data: bytes, crc: int) -> None:
    assert crc32c(data) == crc
    assert crc32c(memoryview(data)) == crc
    # Extend: the CRC of a concatenation continues from the CRC of the first part
    mid = len(data) // 2
    assert crc32c(data[mid:], crc32c(data[:mid])) == crc


@pytest.mark.parametrize("threaded_min", [0, 1 << 40])
def test_crc32c_many_matches_one_at_a_time(
    threaded_min: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On two threads (any size, 0) or one (1 << 40): each buffer's own CRC, in order."""
    monkeypatch.setattr(coding, "_THREADED_MIN", threaded_min)
    bufs = [bytes(range(i % 256)) * (i + 1) for i in range(200)]
    bufs[7] = b"123456789"
    got = coding.crc32c_many([memoryview(b) for b in bufs])
    assert got == [crc32c(b) for b in bufs] and got[7] == 0xE3069283
    assert coding.crc32c_many([]) == []
    # An error in either thread reaches the caller (a strided view is no contiguous buffer).
    strided = memoryview(bytes(10))[::2]
    for where in (0, 1, 99):
        bad: list[Any] = [b"ab"] * 100
        bad[where] = strided
        with pytest.raises(BufferError):
            coding.crc32c_many(bad)


def test_mask_vectors() -> None:
    assert MASK_DELTA == 0xA282EAD8
    assert mask_crc(0) == 0xA282EAD8
    assert encode_fixed32(mask_crc(0)) == bytes.fromhex("d8ea82a2")
    assert mask_crc(0xE3069283) == 0xC78AB0E5
    assert unmask_crc(0xC78AB0E5) == 0xE3069283
    # block trailer CRC of the empty metaindex block in every TF table (FORMAT 3.6)
    empty_block = bytes.fromhex("0000000001000000")
    assert encode_fixed32(mask_crc(crc32c(b"\x00", crc32c(empty_block)))) == bytes.fromhex(
        "c0f2a1b0"
    )


@given(U32)
def test_mask_is_a_bijection_with_the_documented_formula(c: int) -> None:
    m = mask_crc(c)
    assert 0 <= m < 2**32
    assert m == ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    assert unmask_crc(m) == c
    assert mask_crc(unmask_crc(c)) == c


# -- Snappy ---------------------------------------------------------------------------------

SNAPPY_VECTORS = [
    # hand-assembled
    ("", "00"),  # empty: length 0, no elements
    ("abcd", "040c61626364"),  # one literal, length-1 in the tag
    ("ab" * 6, "0c046162" + "1902"),  # literal "ab", copy-1 of 10 bytes at offset 2 (overlap)
    ("a" * 70, "46" + "0061" + "fe0100" + "0501"),  # copy-2 of 64 at offset 1, copy-1 of 5
    ("xyz" * 4, "0c" + "0878797a" + "1703000000" + "0a0300"),  # copy-4 of 6, copy-2 of 3
    # produced by cramjam.snappy.compress_raw (reference compressor)
    ("ab" * 6, "0c2c616261626162616261626162"),  # a compressor may emit only literals
    (
        "The quick brown fox jumps over the lazy dog. " * 20,
        "8407b054686520717569636b2062726f776e20666f78206a756d7073206f76657220746865206c617a79"
        "20646f672e20" + "fe2d00" * 13 + "5a2d00",
    ),
]


@pytest.mark.parametrize(("plain", "hex_stream"), SNAPPY_VECTORS)
def test_snappy_vectors(plain: str, hex_stream: str) -> None:
    assert snappy_decompress(bytes.fromhex(hex_stream)) == plain.encode()


def test_snappy_long_literals_and_far_copies() -> None:
    # cramjam output for bytes(range(256)) * 3: a 262-byte literal (2-byte length, tag f4),
    # then copy-2 elements at offset 256: 7 x 64 bytes (fe 00 01) and 58 bytes (e6 00 01).
    stream = bytes.fromhex(
        "8006" + "f40501" + bytes(range(256)).hex() + "000102030405" + "fe0001" * 7 + "e60001"
    )
    assert snappy_decompress(stream) == bytes(range(256)) * 3
    # a 1-byte literal length (tag 60 << 2) and a copy-1 whose offset 0x1ff puts bit 8 in the tag
    lit = bytes(range(256)) + bytes(range(255))
    body = bytes([61 << 2]) + (len(lit) - 1).to_bytes(2, "little") + lit
    body += bytes([0x21, 0xFF])  # copy-1: length 4, offset (1 << 8) | 0xff
    assert snappy_decompress(encode_varint(len(lit) + 4) + body) == lit + lit[:4]
    short = bytes(range(100))
    assert snappy_decompress(b"\x64" + bytes([60 << 2, 99]) + short) == short


def _naive_snappy(data: bytes) -> bytes:
    """A tiny greedy compressor (every element kind) used to build valid streams."""
    out = bytearray(encode_varint(len(data)))
    i = 0
    lit_start = 0

    def flush_literal(end: int) -> None:
        pos = lit_start
        while pos < end:
            chunk = data[pos : min(end, pos + 300)]
            n = len(chunk) - 1
            if n < 60:
                out.append(n << 2)
            elif n < 256:
                out.extend([60 << 2, n])
            else:
                out.extend(bytes([61 << 2]) + n.to_bytes(2, "little"))
            out.extend(chunk)
            pos += len(chunk)

    while i < len(data):
        best_len, best_off = 0, 0
        for off in (1, 2, 3, 7, 300, 70000):
            if off > i:
                continue
            n = 0
            while i + n < len(data) and n < 64 and data[i + n] == data[i + n - off]:
                n += 1
            if n > best_len:
                best_len, best_off = n, off
        if best_len >= 4:
            flush_literal(i)
            if best_len <= 11 and best_off < 2048:
                out += bytes([((best_len - 4) << 2) | 1 | ((best_off >> 8) << 5), best_off & 0xFF])
            elif best_off < 65536:
                out += bytes([((best_len - 1) << 2) | 2]) + best_off.to_bytes(2, "little")
            else:
                out += bytes([((best_len - 1) << 2) | 3]) + best_off.to_bytes(4, "little")
            i += best_len
            lit_start = i
        else:
            i += 1
    flush_literal(len(data))
    return bytes(out)


@given(
    st.one_of(
        st.binary(max_size=2000),
        st.lists(st.sampled_from([b"a", b"ab", b"abc", b"\x00" * 9, b"xyzzy"]), max_size=400).map(
            b"".join
        ),
    )
)
def test_snappy_round_trip_with_a_reference_encoder(data: bytes) -> None:
    assert snappy_decompress(_naive_snappy(data)) == data


@example(b"\xff\xff\xff\xff\x0f")  # claims 4 GiB from 5 bytes: refused before allocating
@example(b"\x05\x10abc")  # literal of 5 with 3 bytes left
@example(b"\x04\x05\x01")  # copy before any output
@example(b"\x03\x08abcd")  # longer than declared
@example(b"\x05\x08abc")  # shorter than declared
@example(b"\x08\x00a\x01")  # copy-1 with its offset byte missing
@given(st.binary(max_size=40))
def test_snappy_garbage_never_escapes_as_other_errors(data: bytes) -> None:
    try:
        out = snappy_decompress(data)
    except CorruptCheckpointError:
        return
    length, _ = decode_varint(data, 0, len(data))
    assert len(out) == length


def test_snappy_specific_corruptions() -> None:
    with pytest.raises(CorruptCheckpointError, match="claims"):
        snappy_decompress(b"\xff\xff\xff\xff\x0f")
    with pytest.raises(CorruptCheckpointError, match="bad offset"):
        snappy_decompress(b"\x04\x05\x01")
    with pytest.raises(CorruptCheckpointError, match="bad offset"):
        snappy_decompress(b"\x08\x00a" + bytes([1, 0]))  # offset 0
    with pytest.raises(CorruptCheckpointError, match="too long"):
        snappy_decompress(b"\x03\x0cabcd")
    with pytest.raises(CorruptCheckpointError, match="expected"):
        snappy_decompress(b"\x05\x08abc")
    with pytest.raises(CorruptCheckpointError, match="truncated"):
        snappy_decompress(b"\x05\x10abc")


def test_decode_varint_words_matches_decode_varint() -> None:
    """Each word's varint as the scalar decoder reads it; 9-byte varints flagged (length 0)."""
    from tfckpt_lite._coding import decode_varint_words

    values = [0, 1, 127, 128, 300, 2**14, 2**21 - 1, 2**35 + 7, 2**49, 2**56 - 1, 2**56, 2**63]
    raw = [encode_varint(v) + b"\xff" * 8 for v in values]  # the bytes after it are noise
    words = np.frombuffer(b"".join(r[:8] for r in raw), "<u8")
    lengths, got = decode_varint_words(words)
    assert got is not None
    for v, r, n, g in zip(values, raw, lengths.tolist(), got.tolist()):
        want, end = decode_varint(r, 0, len(r))
        if end <= 8:
            assert (n, g) == (end, want), v
        else:
            assert n == 0, v
    only, none = decode_varint_words(words, values=False)
    assert none is None and only.tolist() == lengths.tolist()
