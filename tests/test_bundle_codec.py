"""Index-value and payload codecs: BundleHeader/BundleEntry (vs the generated protobuf classes),
slice keys (OrderedCode) and DT_STRING / DT_VARIANT payloads.

Golden values are FORMAT.md §3.11, §4.8, §5.4 and §5.7, which are TF 2.21 output.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tfckpt_lite._bundle import (
    Entry,
    Header,
    check_header,
    check_shape,
    decode_entry,
    decode_header,
    encode_entry,
    encode_header,
)
from tfckpt_lite._coding import crc32c, encode_varint, mask_crc, unmask_crc
from tfckpt_lite._errors import (
    CheckpointError,
    ChecksumMismatchError,
    CorruptCheckpointError,
    UnsupportedCheckpointError,
)
from tfckpt_lite._ordered_code import _signed, decode_slice_key, encode_slice_key
from tfckpt_lite._tensor_codec import decode_strings, decode_variants, encode_strings

from .conftest import budget

pb2 = pytest.importorskip("tfckpt_lite._proto.tensor_bundle_pb2")

INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
UINT32 = st.integers(0, 2**32 - 1)

# -- header ---------------------------------------------------------------------------------


def test_header_golden_bytes() -> None:
    assert encode_header(Header()) == bytes.fromhex("08011a020801")
    assert encode_header(Header(big_endian=True)) == bytes.fromhex("080110011a020801")
    h = decode_header(bytes.fromhex("080110011a020801"))
    assert (h.num_shards, h.big_endian, h.producer, h.min_consumer) == (1, True, 1, 0)
    empty = decode_header(b"")
    assert (empty.num_shards, empty.producer, empty.has_version) == (0, 0, False)


headers = st.builds(
    Header,
    num_shards=INT32,
    big_endian=st.booleans(),
    producer=INT32,
    min_consumer=INT32,
    bad_consumers=st.lists(INT32, max_size=4),
    has_version=st.booleans(),
)


def _header_pb(h: Header) -> Any:
    m = pb2.BundleHeaderProto(num_shards=h.num_shards, endianness=int(h.big_endian))
    if h.has_version:
        m.version.SetInParent()
        m.version.producer = h.producer
        m.version.min_consumer = h.min_consumer
        m.version.bad_consumers.extend(h.bad_consumers)
    return m


@given(headers)
def test_header_encode_matches_protobuf(h: Header) -> None:
    if not h.has_version:
        h.producer, h.min_consumer, h.bad_consumers = 0, 0, []
    ours = encode_header(h)
    assert ours == _header_pb(h).SerializeToString(deterministic=True)
    back = decode_header(ours)
    assert back.num_shards == h.num_shards and back.big_endian == h.big_endian
    assert back.has_version == h.has_version
    assert (back.producer, back.min_consumer, back.bad_consumers) == (
        h.producer,
        h.min_consumer,
        h.bad_consumers,
    )


@given(headers, headers)
def test_header_decode_follows_protobuf_merge_semantics(a: Header, b: Header) -> None:
    # Two serialized messages concatenated parse as the first merged with the second.
    m = _header_pb(a)
    m.MergeFrom(_header_pb(b))
    got = decode_header(_header_pb(a).SerializeToString() + _header_pb(b).SerializeToString())
    assert got.num_shards == m.num_shards
    assert got.big_endian == (m.endianness == 1)
    assert got.has_version == m.HasField("version")
    assert (got.producer, got.min_consumer) == (m.version.producer, m.version.min_consumer)
    assert got.bad_consumers == list(m.version.bad_consumers)


def test_header_version_checks() -> None:
    check_header(Header())
    with pytest.raises(UnsupportedCheckpointError, match="producer"):
        check_header(Header(producer=-1))
    with pytest.raises(UnsupportedCheckpointError, match="min consumer"):
        check_header(Header(min_consumer=2))
    with pytest.raises(UnsupportedCheckpointError, match="disallows"):
        check_header(Header(bad_consumers=[3, 1]))
    with pytest.raises(CorruptCheckpointError, match="num_shards"):
        check_header(Header(num_shards=-1))
    with pytest.raises(CorruptCheckpointError, match="endianness"):
        decode_header(b"\x10\x02")


# -- entry ----------------------------------------------------------------------------------


@st.composite
def extents(draw: st.DrawFn) -> tuple[int, int]:
    if draw(st.booleans()):
        return (0, -1)
    return (draw(st.integers(-(2**40), 2**63 - 1)), draw(st.integers(0, 2**63 - 1)))


entries = st.builds(
    Entry,
    dtype=st.integers(0, 33) | INT32,
    shape=st.lists(st.integers(0, 2**20) | INT64, max_size=7).map(tuple),
    shard_id=st.integers(0, 5) | INT32,
    offset=st.integers(0, 2**40) | INT64,
    size=st.integers(0, 2**40) | INT64,
    crc32c=UINT32,
    slices=st.lists(st.lists(extents(), max_size=4), max_size=3),
)


def _entry_pb(e: Entry) -> Any:
    m = pb2.BundleEntryProto(
        dtype=e.dtype, shard_id=e.shard_id, offset=e.offset, size=e.size, crc32c=e.crc32c
    )
    m.shape.SetInParent()  # TF always writes the shape, even a scalar's empty one
    for d in e.shape:
        m.shape.dim.add(size=d)
    for s in e.slices:
        sl = m.slices.add()
        for start, length in s:
            ext = sl.extent.add()
            if length >= 0:
                ext.start = start
                ext.length = length
    return m


@given(entries)
@example(Entry(dtype=3, shape=(), offset=24, size=4, crc32c=0x889D8DA7))
@example(Entry(dtype=1, shape=(0, 2), crc32c=0))
@example(Entry(dtype=1, shape=(4, 3), slices=[[(0, 2), (0, -1)], [(2, 2), (0, 3)]]))
def test_entry_encode_matches_protobuf_both_ways(e: Entry) -> None:
    ours = encode_entry(e)
    m = _entry_pb(e)
    assert ours == m.SerializeToString(deterministic=True)
    parsed = pb2.BundleEntryProto.FromString(ours)
    assert parsed == m
    back = decode_entry(m.SerializeToString())
    assert back == e


@given(entries, entries)
def test_entry_decode_follows_protobuf_merge_semantics(a: Entry, b: Entry) -> None:
    m = _entry_pb(a)
    m.MergeFrom(_entry_pb(b))
    got = decode_entry(_entry_pb(a).SerializeToString() + _entry_pb(b).SerializeToString())
    assert got.dtype == m.dtype and got.shard_id == m.shard_id
    assert (got.offset, got.size, got.crc32c) == (m.offset, m.size, m.crc32c)
    assert got.shape == tuple(d.size for d in m.shape.dim)
    assert len(got.slices) == len(m.slices)


def test_entry_golden_bytes() -> None:
    # FORMAT §3.11 and §4.8
    e = Entry(dtype=3, shape=(), offset=24, size=4, crc32c=0x889D8DA7)
    assert encode_entry(e) == bytes.fromhex("080312002018280435a78d9d88")
    w = Entry(dtype=1, shape=(2, 3), size=24, crc32c=0x173DDBC0)
    assert encode_entry(w) == bytes.fromhex("080112081202080212020803281835c0db3d17")
    empty = Entry(dtype=7, shape=(0,), offset=40, size=4, crc32c=0x640CC1F6)
    assert encode_entry(empty) == bytes.fromhex("0807120212002028280435f6c10c64")
    graph = Entry(dtype=7, shape=(), offset=48, size=357, crc32c=0)
    assert encode_entry(graph).startswith(bytes.fromhex("08071200203028e502"))
    # full entry of a sliced tensor: only dtype, shape and slices; a full dim is Extent{}
    full = Entry(dtype=1, shape=(4, 3), slices=[[(0, 2), (0, -1)], [(2, 2), (0, 3)]])
    assert encode_entry(full) == bytes.fromhex(
        "0801" + "12081202080412020803" + "3a06" + "0a021002" + "0a00" + "3a0a" + "0a040802"
        "1002" + "0a021003"
    )


def test_entry_unknown_fields_and_dim_names_are_ignored() -> None:
    m = pb2.BundleEntryProto(dtype=1, size=8, crc32c=5)
    m.shape.dim.add(size=2, name="batch")
    raw = m.SerializeToString() + b"\x48\x07" + b"\x52\x01x" + b"\x5d\x01\x02\x03\x04"
    e = decode_entry(raw)
    assert (e.dtype, e.shape, e.size, e.crc32c) == (1, (2,), 8, 5)


@given(st.binary(max_size=60), st.sampled_from([decode_entry, decode_header]))
def test_entry_and_header_garbage_raise_only_corrupt(data: bytes, fn: Any) -> None:
    try:
        fn(data)
    except CorruptCheckpointError:
        pass


def test_entry_structural_errors() -> None:
    with pytest.raises(CorruptCheckpointError, match="wire type"):
        decode_entry(b"\x0b")  # group start
    with pytest.raises(CorruptCheckpointError, match="runs past"):
        decode_entry(b"\x12\x05\x12")
    with pytest.raises(CorruptCheckpointError, match="field number 0"):
        decode_entry(b"\x00\x00")
    deep = b"".join(b"\x12\x02\x08\x01" for _ in range(255))
    with pytest.raises(CorruptCheckpointError, match="more than 254"):
        decode_entry(b"\x12" + encode_varint(len(deep)) + deep)


def test_check_shape() -> None:
    assert check_shape(()) == 1
    assert check_shape((2, 0, 5)) == 0
    assert check_shape((3, 4)) == 12
    with pytest.raises(CorruptCheckpointError, match="negative"):
        check_shape((2, -1))
    with pytest.raises(CorruptCheckpointError, match="overflow"):
        check_shape((2**32, 2**32))
    with pytest.raises(CorruptCheckpointError, match="unknown rank"):
        check_shape((), unknown_rank=True)
    with pytest.raises(CorruptCheckpointError, match="rank"):
        check_shape((1,) * 255)


# -- slice keys (OrderedCode) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("v", "hex_bytes"),
    [
        (0, "80"),
        (2, "82"),
        (63, "bf"),
        (-1, "7f"),
        (-64, "40"),
        (64, "c040"),
        (-65, "3fbf"),
        (75, "c04b"),
        (150, "c096"),
        (225, "c0e1"),
        (263, "c107"),
        (0x424242, "f0424242"),
        (-0x800, "3800"),
        (2**63 - 1, "ffc07fffffffffffffff"),
        (-(2**63), "003f8000000000000000"),
    ],
)
def test_signed_num_increasing_examples(v: int, hex_bytes: str) -> None:
    assert _signed(v).hex() == hex_bytes
    key = encode_slice_key(b"t", [(v, 1)])
    assert decode_slice_key(key) == (b"t", [(v, 1)])


def test_slice_key_golden_examples() -> None:
    part = b"\x00part\x00\x01\x01\x02\x80\x82\x80\x83"
    assert encode_slice_key(b"part", [(0, 2), (0, 3)]) == part
    assert decode_slice_key(part) == (b"part", [(0, 2), (0, 3)])
    v = b"\x00v/.ATTRIBUTES/VARIABLE_VALUE\x00\x01\x01\x01\xc0\x96\xc0K"
    assert encode_slice_key(b"v/.ATTRIBUTES/VARIABLE_VALUE", [(150, 75)]) == v
    assert decode_slice_key(v) == (b"v/.ATTRIBUTES/VARIABLE_VALUE", [(150, 75)])
    full = bytes.fromhex("00 61 00 01 01 01 80 7f".replace(" ", ""))  # V1 key of `a` [2]
    assert encode_slice_key(b"a", [(0, -1)]) == full
    assert decode_slice_key(full) == (b"a", [(0, -1)])
    assert (
        encode_slice_key(b"a\x00b\xffc", [(0, 1)])
        == b"\x00a\x00\xffb\xff\x00c\x00\x01\x01\x01\x80\x81"
    )


@given(INT64, INT64)
def test_signed_encoding_preserves_order(a: int, b: int) -> None:
    ea, eb = _signed(a), _signed(b)
    assert (a < b) == (ea < eb)
    assert (a == b) == (ea == eb)


@given(
    st.binary(max_size=30) | st.text(max_size=10).map(str.encode),
    st.lists(st.tuples(INT64, st.integers(-1, 2**63 - 1)), min_size=1, max_size=6),
)
def test_slice_key_round_trip(name: bytes, ext: list[tuple[int, int]]) -> None:
    key = encode_slice_key(name, ext)
    assert key[:1] == b"\x00"
    assert decode_slice_key(key) == (name, ext)


@given(st.binary(max_size=20), st.binary(max_size=20))
def test_slice_keys_sort_by_name_first(a: bytes, b: bytes) -> None:
    # escaping keeps name order (the 00 01 terminator sorts below any continuation)
    if a != b:
        assert (a < b) == (encode_slice_key(a, [(0, 1)]) < encode_slice_key(b, [(0, 1)]))


@example(b"\x01\x00")  # leading number not 0
@example(b"\x00abc")  # unterminated name
@example(b"\x00a\x00\x02")  # bad escape
@example(b"\x00a\x00\x01\x00")  # rank 0
@example(b"\x00a\x00\x01\x01\x01\x80")  # missing length
@example(b"\x00a\x00\x01\x01\x01\x80\x81\x80")  # trailing bytes
@example(b"\x00a\x00\x01\x01\x01\xc0\x05\x81")  # non-canonical (5 fits one byte)
@example(b"\x00a\x00\x01\x01\x01\xff\xff")  # truncated long number
@given(st.binary(max_size=30))
def test_slice_key_garbage_raises_only_corrupt(data: bytes) -> None:
    try:
        name, ext = decode_slice_key(data)
    except CorruptCheckpointError:
        return
    assert encode_slice_key(name, ext) == data  # whatever decodes is canonical


# -- DT_STRING payloads ---------------------------------------------------------------------


def test_string_golden_bytes() -> None:
    payload, crc = encode_strings([b"ab", b"", b"xyz"])
    assert payload == bytes.fromhex("020003" + "1b428bca" + "616278797a")
    assert crc == 0x3FC4AD10  # entry "s" of FORMAT §3.11
    assert encode_strings([]) == (bytes.fromhex("d8ea82a2"), 0x640CC1F6)
    payload, crc = encode_strings([b"hello"])
    assert payload == bytes.fromhex("05" + "d9c69c43") + b"hello"
    assert crc == 0x29C0E0EC
    got = decode_strings(bytes.fromhex("020003" + "1b428bca" + "616278797a"), 3, 0x3FC4AD10)
    assert got.dtype == object and got.tolist() == [b"ab", b"", b"xyz"]


string_lists = st.lists(
    st.binary(max_size=40)
    | st.sampled_from([b"", b"x" * 127, b"y" * 128, b"z" * 2**14, b"ab\x00\x00", b"\x00", b"\xff"]),
    max_size=12,
)


@given(string_lists)
def test_strings_round_trip(values: list[bytes]) -> None:
    payload, crc = encode_strings(values)
    expect_varints = b"".join(encode_varint(len(v)) for v in values)
    assert payload[: len(expect_varints)] == expect_varints
    words = np.array([len(v) for v in values], "<u4").tobytes()
    assert payload[len(expect_varints) : len(expect_varints) + 4] == mask_crc(
        crc32c(words)
    ).to_bytes(4, "little")
    assert unmask_crc(crc) == crc32c(payload[len(expect_varints) :], crc32c(words))
    got = decode_strings(payload, len(values), crc)
    assert got.tolist() == values
    assert all(type(x) is bytes for x in got.tolist())
    # a memoryview (what the reader passes) works the same
    assert decode_strings(memoryview(payload), len(values), crc).tolist() == values


@given(string_lists.filter(bool))
def test_strings_big_endian_length_checksum(values: list[bytes]) -> None:
    # FORMAT §9: a BE writer checksums BE uint32 lengths and stores Mask(L) big-endian
    varints = b"".join(encode_varint(len(v)) for v in values)
    words = np.array([len(v) for v in values], ">u4").tobytes()
    stored4 = mask_crc(crc32c(words)).to_bytes(4, "big")
    data = b"".join(values)
    entry_crc = mask_crc(crc32c(data, crc32c(stored4, crc32c(words))))
    payload = varints + stored4 + data
    assert decode_strings(payload, len(values), entry_crc, big_endian=True).tolist() == values
    if len(set(words)) > 1 or any(words):
        with pytest.raises(ChecksumMismatchError):
            decode_strings(payload, len(values), entry_crc, big_endian=False)


def test_string_corruptions() -> None:
    good = bytes.fromhex("020003" + "1b428bca" + "616278797a")
    bad_len_crc = good[:3] + b"\x1c" + good[4:]
    with pytest.raises(ChecksumMismatchError, match="length checksum"):
        decode_strings(bad_len_crc, 3, 0x3FC4AD10)
    bad_data = good[:-1] + b"Z"
    with pytest.raises(ChecksumMismatchError, match="checksum does not match"):
        decode_strings(bad_data, 3, 0x3FC4AD10)
    # verify=False returns the (damaged) bytes without checking
    assert decode_strings(bad_data, 3, 0x3FC4AD10, verify=False).tolist() == [b"ab", b"", b"xyZ"]
    with pytest.raises(CorruptCheckpointError, match="size mismatch"):
        decode_strings(good + b"!", 3, 0x3FC4AD10)
    with pytest.raises(CorruptCheckpointError, match="at least"):
        decode_strings(good[:6], 3, 0x3FC4AD10)
    with pytest.raises(CorruptCheckpointError, match="longer than expected"):
        decode_strings(b"\x80" * 10, 3, 0)
    with pytest.raises(CorruptCheckpointError):
        decode_strings(b"\xff" * 11 + b"\x01" + bytes(4), 1, 0)  # 12-byte varint


@settings(max_examples=budget(300, 60))
@given(st.binary(max_size=50), st.integers(0, 8), UINT32)
def test_string_garbage_raises_only_checkpoint_errors(data: bytes, n: int, crc: int) -> None:
    try:
        out = decode_strings(data, n, crc, verify=False)
    except CheckpointError:
        return
    assert len(out) == n


# -- DT_VARIANT payloads --------------------------------------------------------------------


def _encode_variants(protos: list[bytes]) -> tuple[bytes, int]:
    """FORMAT §5.5, written independently of the library."""
    out = b""
    c = 0
    for p in protos:
        out += encode_varint(len(p)) + p
        c = crc32c(p, crc32c(len(p).to_bytes(8, "little"), c))
        stored = mask_crc(c).to_bytes(4, "little")
        out += stored
        c = crc32c(stored, c)
    return out, mask_crc(c)


@given(st.lists(st.binary(max_size=200), max_size=5))
def test_variants_round_trip(protos: list[bytes]) -> None:
    payload, crc = _encode_variants(protos)
    assert decode_variants(payload, len(protos), crc) == protos


def test_variant_corruptions() -> None:
    payload, crc = _encode_variants([b"\x0a\x03abc", b""])
    with pytest.raises(ChecksumMismatchError, match="after variant 0"):
        decode_variants(payload[:3] + b"X" + payload[4:], 2, crc)
    with pytest.raises(ChecksumMismatchError):
        decode_variants(payload, 2, crc ^ 1)
    with pytest.raises(CorruptCheckpointError, match="trailing"):
        decode_variants(payload + b"\x00", 2, crc)
    with pytest.raises(CorruptCheckpointError):
        decode_variants(payload[:-2], 2, crc)
    with pytest.raises(CorruptCheckpointError, match="runs past"):
        decode_variants(b"\x7f" + bytes(10), 1, crc)
