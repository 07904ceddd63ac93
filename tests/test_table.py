"""The sorted table behind `.index` files: blocks, separators, build/read against a dict model.

Byte layouts are checked against FORMAT.md section 3 (LevelDB table as TF writes it); the
§3.11 index is TF 2.21 output, so a builder that reproduces it reproduces TF.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfckpt_lite._block import BlockBuilder, decode_block
from tfckpt_lite._coding import crc32c, decode_varint, encode_varint, mask_crc
from tfckpt_lite._errors import CheckpointError, ChecksumMismatchError, CorruptCheckpointError
from tfckpt_lite._table import (
    BLOCK_SIZE,
    FOOTER_SIZE,
    TableBuilder,
    build_table,
    read_table,
    read_table_columns,
    short_successor,
    shortest_separator,
)

from ._bundle_files import index_block_handles
from .conftest import budget

# TF 2.21's SaveV2 index for FORMAT §3.11 (test_bundle_bytes checks the writer
# reproduces it; here it is the table reader's golden input).
GOLDEN_INDEX = bytes.fromhex(
    "00000608011a02080100010d62080312002018280435a78d9d88000111640802120412020801203628083584"
    "6135f800010f650807120212002028280435f6c10c64000111730807120412020803201c280c3510adc43f01"
    "090d63616c61725f73747208071200202c280a35ece0c02900011377080112081202080212020803281835c0"
    "db3d170000000001000000002e80f65e000000000100000000c0f2a1b000010378008f010000000001000000"
    "002cee964a940108a1010f000000000000000000000000000000000000000000000000000000000000000000"
    "0057fb808b247547db"
)

# Keys that stress prefix sharing and byte ordering: the empty key, 0xff runs, NULs.
KEYS = st.binary(max_size=40) | st.sampled_from(
    [b"", b"\x00", b"\xff", b"\xff\xff", b"\xff\xff\x00", b"a" * 300, b"a" * 299 + b"b"]
)


def long_prefix_keys() -> st.SearchStrategy[bytes]:
    stem = b"model/layer_with_a_long_shared_prefix/" * 4
    return st.builds(lambda s: stem + s, st.binary(max_size=6))


# -- blocks ---------------------------------------------------------------------------------


def test_empty_block_bytes() -> None:
    assert BlockBuilder(16).finish() == bytes.fromhex("0000000001000000")
    assert decode_block(bytes.fromhex("0000000001000000")) == []
    assert decode_block(bytes.fromhex("00000000")) == []  # num_restarts == 0: empty


def test_block_layout_by_hand() -> None:
    b = BlockBuilder(2)
    b.add(b"apple", b"1")
    b.add(b"apricot", b"22")  # shares "ap"
    b.add(b"b", b"")  # third entry: a restart point, full key
    raw = b.finish()
    expect = (
        b"\x00\x05\x01apple1"
        + b"\x02\x05\x02ricot22"
        + b"\x00\x01\x00b"
        + struct.pack("<II", 0, 19)  # restarts at entries 0 and 2
        + struct.pack("<I", 2)
    )
    assert raw == expect
    assert decode_block(raw) == [(b"apple", b"1"), (b"apricot", b"22"), (b"b", b"")]


def test_block_shared_prefix_is_not_capped() -> None:
    b = BlockBuilder(16)
    k1 = b"x" * 200 + b"a"
    k2 = b"x" * 200 + b"b"
    b.add(k1, b"")
    b.add(k2, b"v" * 130)
    raw = b.finish()
    # second entry: shared=200 (2-byte varint), non_shared=1, value_len=130 (2-byte varint)
    second = 4 + len(k1)  # first header: 00, 201 as a 2-byte varint, 00
    assert raw[second : second + 5] == encode_varint(200) + b"\x01" + encode_varint(130)
    assert decode_block(raw) == [(k1, b""), (k2, b"v" * 130)]


@given(st.lists(KEYS | long_prefix_keys(), unique=True), st.integers(1, 20), st.data())
def test_block_round_trip(keys: list[bytes], interval: int, data: st.DataObject) -> None:
    keys.sort()
    items = [(k, data.draw(st.binary(max_size=200))) for k in keys]
    b = BlockBuilder(interval)
    for k, v in items:
        b.add(k, v)
    assert len(b) == len(items)
    raw = b.finish()
    assert len(raw) == b.size_estimate()
    assert decode_block(raw) == items
    # restart array: one restart per `interval` entries, each pointing at a shared=0 entry
    n_restarts = struct.unpack_from("<I", raw, len(raw) - 4)[0]
    assert n_restarts == max(1, -(-len(items) // interval))
    for i in range(n_restarts):
        off = struct.unpack_from("<I", raw, len(raw) - 4 - 4 * (n_restarts - i))[0]
        if items:
            assert decode_varint(raw, off, len(raw))[0] == 0


@given(st.binary(max_size=64))
def test_decode_block_garbage_raises_only_corrupt(data: bytes) -> None:
    try:
        decode_block(data)
    except CorruptCheckpointError:
        pass


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"\x00\x00\x00", "too short"),
        (struct.pack("<I", 5), "do not fit"),
        (b"\x00" * 4 + struct.pack("<I", 0), "no restart points"),
        (b"\x00\x01\x09a" + struct.pack("<II", 0, 1), "runs past"),  # value runs into restarts
        (b"\x03\x01\x00a" + struct.pack("<II", 0, 1), "shares 3 bytes"),
        (b"\x80" + struct.pack("<II", 0, 1), "entry header|runs past"),
    ],
)
def test_decode_block_corruptions(raw: bytes, match: str) -> None:
    with pytest.raises(CorruptCheckpointError, match=match):
        decode_block(raw)


# -- separator / successor ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "limit", "sep"),
    [
        (b"layer_05222/some/long/variable/name/kernel", b"layer_05223/x", None),  # FORMAT 3.7
        (b"abc1xyz", b"abc5", b"abc2"),
        (b"abc", b"abcdef", None),  # prefix: unchanged
        (b"abc\xff", b"abd", None),  # differing byte 'c'+1 == 'd': unchanged
        (b"a\xffz", b"b\x00", None),
        (b"a\xfe", b"a\xff\x01", None),  # 0xfe + 1 is not < 0xff
        (b"a\xfdq", b"a\xff", b"a\xfe"),
        (b"", b"x", None),
    ],
)
def test_shortest_separator_examples(start: bytes, limit: bytes, sep: bytes | None) -> None:
    assert shortest_separator(start, limit) == (start if sep is None else sep)


@pytest.mark.parametrize(
    ("key", "succ"),
    [
        (b"save_counter/.ATTRIBUTES/VARIABLE_VALUE", b"t"),  # FORMAT 3.7
        (b"w", b"x"),
        (b"\x00part\x00\x01", b"\x01"),
        (b"\xff\xffa", b"\xff\xffb"),
        (b"\xff\xff", b"\xff\xff"),
        (b"", b""),
    ],
)
def test_short_successor_examples(key: bytes, succ: bytes) -> None:
    assert short_successor(key) == succ


@given(KEYS | long_prefix_keys(), KEYS | long_prefix_keys())
def test_separator_properties(a: bytes, b: bytes) -> None:
    if a == b:
        return
    start, limit = min(a, b), max(a, b)
    sep = shortest_separator(start, limit)
    assert start <= sep < limit
    assert len(sep) <= len(start)


@given(KEYS | long_prefix_keys())
def test_successor_properties(key: bytes) -> None:
    succ = short_successor(key)
    assert succ >= key
    assert len(succ) <= len(key)
    if key.strip(b"\xff"):
        assert succ > key


# -- tables ---------------------------------------------------------------------------------


def _table_items(model: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return sorted(model.items())


@settings(max_examples=60)
@given(
    st.dictionaries(KEYS | long_prefix_keys(), st.binary(max_size=300), max_size=80),
    st.sampled_from([64, 200, 1024, BLOCK_SIZE]),
)
def test_table_round_trip_against_dict_model(model: dict[bytes, bytes], block_size: int) -> None:
    items = _table_items(model)
    table = build_table(items, block_size=block_size)
    assert read_table(table) == items
    assert table.endswith(bytes.fromhex("57fb808b247547db"))
    # every index key separates its block from the next one
    index = index_block_handles(table)
    assert len(index) == (1 if items else 0) or block_size < BLOCK_SIZE
    expected_offset = 0
    for i, (ikey, (off, size)) in enumerate(index):
        assert off == expected_offset  # blocks follow each other with no gaps
        expected_offset = off + size + 5
        block = decode_block(table[off : off + size])
        assert block and block[-1][0] <= ikey
        if i + 1 < len(index):
            nxt = decode_block(table[index[i + 1][1][0] : index[i + 1][1][0] + index[i + 1][1][1]])
            assert ikey < nxt[0][0]
            # blocks are flushed once their estimate reaches block_size (or for huge entries)
            assert size >= block_size or len(nxt[0][0]) + len(nxt[0][1]) >= 2 * block_size


def test_empty_table_layout() -> None:
    table = build_table([])
    # empty metaindex at 0, then an empty index block, then the footer
    empty = bytes.fromhex("0000000001000000")
    trailer = b"\x00" + struct.pack("<I", mask_crc(crc32c(b"\x00", crc32c(empty))))
    assert table[:26] == empty + trailer + empty + trailer
    assert table[26:30] == bytes.fromhex("0008" + "0d08")
    assert len(table) == 26 + FOOTER_SIZE
    assert read_table(table) == []


def test_golden_index_reads_and_rebuilds() -> None:
    items = read_table(GOLDEN_INDEX)
    assert [k for k, _ in items] == [b"", b"b", b"d", b"e", b"s", b"scalar_str", b"w"]
    assert items[0][1] == bytes.fromhex("08011a020801")
    assert build_table(items) == GOLDEN_INDEX
    assert index_block_handles(GOLDEN_INDEX) == [(b"x", (0, 143))]


def test_big_values_get_their_own_blocks() -> None:
    bs = 1024
    big = b"B" * (2 * bs)
    items = [(b"a", b"1"), (b"b", big), (b"c", b"3"), (b"d", big + b"x"), (b"e", b"")]
    table = build_table(items, block_size=bs)
    assert read_table(table) == items
    blocks = [decode_block(table[o : o + s]) for _, (o, s) in index_block_handles(table)]
    assert [[k for k, _ in b] for b in blocks] == [[b"a"], [b"b"], [b"c"], [b"d"], [b"e"]]


def test_first_entry_huge_does_not_flush_an_empty_block() -> None:
    bs = 256
    items = [(b"k", b"v" * 5 * bs)]
    table = build_table(items, block_size=bs)
    assert read_table(table) == items
    assert len(index_block_handles(table)) == 1


def test_many_blocks_with_default_block_size() -> None:
    # ~6000 keys of ~100 bytes: the index spans several 256 KiB blocks, like FORMAT's check
    items = [
        (f"layer_{i:05d}/some/long/variable/name/kernel".encode(), bytes(60)) for i in range(6000)
    ]
    table = build_table(items)
    index = index_block_handles(table)
    assert len(index) >= 2
    assert read_table(table) == items
    # separator keys are the full last key when the next differs by +1 (FORMAT 3.7 example)
    assert index[0][0] == decode_block(table[: index[0][1][1]])[-1][0]
    assert index[-1][0] == b"m"  # successor of the last key "layer_05999/...": 'l' + 1


def test_builder_rejects_unsorted_and_duplicate_keys() -> None:
    tb = TableBuilder()
    tb.add(b"b", b"")
    with pytest.raises(ValueError):
        tb.add(b"a", b"")
    with pytest.raises(ValueError):
        tb.add(b"b", b"")


# -- corrupted tables -----------------------------------------------------------------------


def _flip(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1 :]


def test_every_single_bit_flip_in_the_golden_index_is_detected_or_harmless() -> None:
    # Flipping a bit inside a checksummed block must raise; in the footer's padding or the
    # metaindex handle (TF never reads the metaindex) it may not matter. Never a wrong value.
    good = read_table(GOLDEN_INDEX)
    for pos in range(len(GOLDEN_INDEX)):
        bad = _flip(GOLDEN_INDEX, pos)
        try:
            got = read_table(bad)
        except CheckpointError:
            continue
        assert got == good, pos
        # only the metaindex block (never read) and the footer's padding may be ignored
        assert 0x94 <= pos < 0xA1 or pos >= 0xB5, hex(pos)


def test_table_specific_errors() -> None:
    with pytest.raises(CorruptCheckpointError, match="too short"):
        read_table(GOLDEN_INDEX[-47:])
    with pytest.raises(CorruptCheckpointError, match="bad magic"):
        read_table(GOLDEN_INDEX[:-1] + b"\x00")
    with pytest.raises(ChecksumMismatchError, match="block checksum mismatch"):
        read_table(_flip(GOLDEN_INDEX, 0x10))
    # a footer whose index handle points past the end
    footer_at = len(GOLDEN_INDEX) - FOOTER_SIZE
    bad_footer = bytearray(GOLDEN_INDEX)
    bad_footer[footer_at + 3 : footer_at + 6] = encode_varint(10_000) + b"\x0f"
    with pytest.raises(CorruptCheckpointError, match="truncated block read"):
        read_table(bytes(bad_footer))
    # unknown block type (with a correct CRC, so only the type is wrong)
    t = bytearray(build_table([(b"k", b"v")]))
    blk_size = 3 + 2 + 8
    t[blk_size] = 7
    t[blk_size + 1 : blk_size + 5] = struct.pack(
        "<I", mask_crc(crc32c(b"\x07", crc32c(bytes(t[:blk_size]))))
    )
    with pytest.raises(CorruptCheckpointError, match="bad block type 7"):
        read_table(bytes(t))


def _rebuild_with(blocks: list[list[tuple[bytes, bytes]]], index_keys: list[bytes]) -> bytes:
    """A table from explicit data blocks and index keys (lets tests break the invariants)."""
    out = bytearray()
    handles = []

    def write(contents: bytes) -> tuple[int, int]:
        h = (len(out), len(contents))
        out.extend(contents + b"\x00")
        out.extend(struct.pack("<I", mask_crc(crc32c(b"\x00", crc32c(contents)))))
        return h

    for entries in blocks:
        b = BlockBuilder(16)
        for k, v in entries:
            b.add(k, v)
        handles.append(write(b.finish()))
    meta = write(BlockBuilder(16).finish())
    ib = BlockBuilder(1)
    for k, (o, s) in zip(index_keys, handles):
        ib.add(k, encode_varint(o) + encode_varint(s))
    idx = write(ib.finish())
    footer = b"".join(encode_varint(x) for x in (*meta, *idx))
    out.extend(footer + bytes(40 - len(footer)) + struct.pack("<Q", 0xDB4775248B80FB57))
    return bytes(out)


def test_reader_rejects_unsorted_duplicate_and_misindexed_keys() -> None:
    ok = _rebuild_with([[(b"a", b"1")], [(b"b", b"2")]], [b"a", b"c"])
    assert read_table(ok) == [(b"a", b"1"), (b"b", b"2")]
    with pytest.raises(CorruptCheckpointError, match="duplicate"):
        read_table(_rebuild_with([[(b"a", b"1")], [(b"a", b"2")]], [b"a", b"b"]))
    with pytest.raises(CorruptCheckpointError, match="unsorted"):
        read_table(_rebuild_with([[(b"b", b"1")], [(b"a", b"2")]], [b"b", b"c"]))
    with pytest.raises(CorruptCheckpointError, match="below its last key"):
        read_table(_rebuild_with([[(b"a", b"1"), (b"c", b"2")]], [b"b"]))


@settings(max_examples=budget(200, 50))
@given(st.data())
def test_random_damage_never_escapes_as_other_errors(data: st.DataObject) -> None:
    table = bytearray(GOLDEN_INDEX)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(table) - 1))
        table[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(table)))
    try:
        read_table(bytes(table[:cut]) if data.draw(st.booleans()) else bytes(table))
    except CheckpointError:
        pass


# -- the bulk reader (`read_table_columns`) against `read_table` ----------------------------


def _as_items(data: bytes) -> list[tuple[bytes, bytes]] | tuple[type, str]:
    try:
        cols = read_table_columns(data)
    except CheckpointError as e:
        return type(e), str(e)
    starts, ends = cols.value_start.tolist(), cols.value_end.tolist()
    return [(k.encode("latin-1"), cols.buf[a:b]) for k, a, b in zip(cols.keys, starts, ends)]


def _reference(data: bytes) -> list[tuple[bytes, bytes]] | tuple[type, str]:
    try:
        return read_table(data)
    except CheckpointError as e:
        return type(e), str(e)


def _data_blocks(data: bytes) -> list[tuple[int, int]]:
    n = len(data)
    _, pos = decode_varint(data, n - FOOTER_SIZE, n)
    _, pos = decode_varint(data, pos, n)
    index_offset, pos = decode_varint(data, pos, n)
    index_size, _ = decode_varint(data, pos, n)
    out = []
    for _, handle in decode_block(data[index_offset : index_offset + index_size]):
        offset, pos = decode_varint(handle, 0, len(handle))
        size, _ = decode_varint(handle, pos, len(handle))
        out.append((offset, size))
    return out


def _reseal(table: bytearray, blocks: list[tuple[int, int]]) -> None:
    """Recompute every data block's checksum, so damage inside reaches the block decoder."""
    for offset, size in blocks:
        crc = crc32c(
            bytes(table[offset + size : offset + size + 1]), crc32c(table[offset : offset + size])
        )
        table[offset + size + 1 : offset + size + 5] = struct.pack("<I", mask_crc(crc))


@settings(max_examples=budget(300, 60))
@given(
    st.dictionaries(KEYS | long_prefix_keys(), st.binary(max_size=40), max_size=80),
    st.sampled_from([48, 200, 1024, BLOCK_SIZE]),
    st.data(),
)
def test_table_columns_match_read_table(
    model: dict[bytes, bytes], block_size: int, data: st.DataObject
) -> None:
    table = bytearray(build_table(sorted(model.items()), block_size))
    assert _as_items(bytes(table)) == sorted(model.items())
    blocks = _data_blocks(bytes(table))
    if not blocks:
        return
    # Damage inside data blocks, checksums made to match: what the scan must judge itself.
    offset, size = data.draw(st.sampled_from(blocks))
    for _ in range(data.draw(st.integers(1, 3))):
        if size:
            pos = offset + data.draw(st.integers(0, size - 1))
            table[pos] = data.draw(
                st.sampled_from([0, 1, 2, 0x7F, 0x80, 0xFF]) | st.integers(0, 255)
            )
    if data.draw(st.booleans()):
        _reseal(table, blocks)
    assert _as_items(bytes(table)) == _reference(bytes(table))


def test_table_columns_irregular_blocks_match_read_table() -> None:
    # Restart arrays a full scan does not need: wrong, unordered, out of range, missing.
    table = bytearray(build_table([(b"k%03d" % i, b"v" * (i % 5)) for i in range(100)], 256))
    blocks = _data_blocks(bytes(table))
    offset, size = blocks[1]
    count_at = offset + size - 4
    (count,) = struct.unpack_from("<I", table, count_at)
    first_restart = count_at - 4 * count
    for patch in (
        struct.pack("<I", 3),  # the first restart not at 0
        struct.pack("<I", 0) + struct.pack("<I", 0),  # not increasing
        struct.pack("<I", 0) + struct.pack("<I", size),  # past the entries
    ):
        bad = bytearray(table)
        bad[first_restart : first_restart + len(patch)] = patch
        _reseal(bad, blocks)
        assert _as_items(bytes(bad)) == _reference(bytes(bad))
    for rule in (
        _rebuild_with([[(b"a", b"1")], [(b"a", b"2")]], [b"a", b"b"]),
        _rebuild_with([[(b"b", b"1")], [(b"a", b"2")]], [b"b", b"c"]),
        _rebuild_with([[(b"a", b"1"), (b"c", b"2")]], [b"b"]),
        GOLDEN_INDEX,
    ):
        assert _as_items(rule) == _reference(rule)
