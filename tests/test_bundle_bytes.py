"""Bundles at the byte level: `save` writes TF 2.21's bytes (FORMAT.md's worked example, every
TF-written fixture and real-world bundle re-saved), and bundles other writers make are read:
big-endian (FORMAT §9), multiple data shards (MergeBundles) and Snappy-compressed index blocks,
all crafted by hand per FORMAT.md.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import tfckpt_lite as tfc
from tfckpt_lite._bundle import Entry, decode_entry, decode_header, encode_entry, encode_header
from tfckpt_lite._bundle import Header as BundleHeader
from tfckpt_lite._coding import crc32c, encode_varint, mask_crc
from tfckpt_lite._ordered_code import encode_slice_key
from tfckpt_lite._table import read_table

from ._bundle_files import TESTDATA, files_of, format_tensors, index_block_handles, write_index
from .conftest import realworld_dir

# -- FORMAT.md §3.11: TF 2.21 SaveV2 output ----------------------------------------------------


FORMAT_INDEX = bytes.fromhex(
    "00000608011a02080100010d62080312002018280435a78d9d88000111640802120412020801203628083584"
    "6135f800010f650807120212002028280435f6c10c64000111730807120412020803201c280c3510adc43f01"
    "090d63616c61725f73747208071200202c280a35ece0c02900011377080112081202080212020803281835c0"
    "db3d170000000001000000002e80f65e000000000100000000c0f2a1b000010378008f010000000001000000"
    "002cee964a940108a1010f000000000000000000000000000000000000000000000000000000000000000000"
    "0057fb808b247547db"
)


FORMAT_DATA = bytes.fromhex(
    "000000000000803f0000004000004040000080400000a040"  # w
    "07000000"  # b
    "0200031b428bca616278797a"  # s
    "d8ea82a2"  # e
    "05d9c69c4368656c6c6f"  # scalar_str
    "000000000000f83f"  # d
)


def test_save_matches_format_golden_bytes(tmp_path: Path) -> None:
    assert len(FORMAT_INDEX) == 229 and len(FORMAT_DATA) == 62
    # the documented pieces of FORMAT §3.11 appear where the document says
    assert FORMAT_INDEX[0x70:0x87] == bytes.fromhex(
        "00011377080112081202080212020803281835c0db3d17"
    )
    assert FORMAT_INDEX[0xA1:0xA8] == bytes.fromhex("00010378008f01")
    prefix = tfc.save(tmp_path / "ckpt", format_tensors())
    assert prefix == str(tmp_path / "ckpt")
    assert files_of(prefix) == (FORMAT_INDEX, FORMAT_DATA)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.data-00000-of-00001", "ckpt.index"]


def test_save_matches_tf_written_example_fixture(tmp_path: Path) -> None:
    fixture = TESTDATA / "savev2_example" / "ckpt"
    if not Path(str(fixture) + ".index").exists():
        pytest.skip("testdata/savev2_example not present")
    tfc.save(tmp_path / "ckpt", format_tensors())
    assert files_of(tmp_path / "ckpt") == files_of(fixture)
    assert files_of(fixture) == (FORMAT_INDEX, FORMAT_DATA)


def test_int4_is_stored_unpacked(tmp_path: Path) -> None:
    # FORMAT 4.6: one byte per element, int4 [1, 2, 3] is 01 02 03
    tfc.save(tmp_path / "c", {"q": np.array([1, 2, 3], dtype=ml_dtypes.int4)})
    assert files_of(tmp_path / "c")[1] == b"\x01\x02\x03"


def test_empty_checkpoint(tmp_path: Path) -> None:
    tfc.save(tmp_path / "c", {})
    idx, data = files_of(tmp_path / "c")
    assert data == b""
    assert read_table(idx) == [(b"", bytes.fromhex("08011a020801"))]
    with tfc.load_checkpoint(tmp_path / "c") as r:
        assert list(r) == [] and r.verify() == 0


# -- re-saving what TF wrote -------------------------------------------------------------------


def _resave(prefix: str, out: Path) -> str | None:
    """Re-save a single-shard bundle's tensors in data-file order; None if it can't apply."""
    from tfckpt_lite._bundle_reader import BundleReader
    from tfckpt_lite._storage import LocalFileSystem

    r = BundleReader(prefix, LocalFileSystem())
    try:
        if r.header.num_shards != 1 or r.header.big_endian or r._slice_raw:
            return "multi-shard, big-endian or partitioned"
        order = []
        for k in r.keys():  # noqa: SIM118 (BundleReader is not a dict)
            e = r.entry(k)
            if e.dtype_info.name.startswith("q") or e.dtype_info.numpy_dtype is None:
                return f"dtype {e.dtype_info.name} has no NumPy type of its own"
            order.append((e.offset, k))
        order.sort()
        tfc.save(out, {k: r.read(k) for _, k in order}, fsync=False)
        return None
    finally:
        r.close()


def _snappy_blocks(index: bytes) -> bool:
    return any(index[o + s] == 1 for _, (o, s) in index_block_handles(index))


def _bundles_under(root: Path) -> Iterator[str]:
    for idx in sorted(root.rglob("*.index")):
        yield str(idx)[: -len(".index")]


def test_resaving_tf_fixtures_reproduces_their_bytes(tmp_path: Path) -> None:
    """Every TF-written single-shard fixture, re-saved in its data order, is byte-identical."""
    if not TESTDATA.is_dir():
        pytest.skip("no testdata/")
    checked = 0
    for i, prefix in enumerate(_bundles_under(TESTDATA)):
        if not Path(prefix + ".data-00000-of-00001").exists():
            continue
        out = tmp_path / f"r{i}"
        if _resave(prefix, out) is not None:
            continue
        assert files_of(out) == files_of(prefix), prefix
        checked += 1
    assert checked >= 3


def test_resaving_real_world_bundles_reproduces_their_bytes(tmp_path: Path) -> None:
    """Real checkpoints (many TF versions): data files identical; index entries identical,
    and the whole index too unless the old writer Snappy-compressed its blocks."""
    root = realworld_dir()
    if root is None:
        pytest.skip("real-world corpus not present")
    checked = 0
    for i, prefix in enumerate(_bundles_under(root)):
        if not Path(prefix + ".data-00000-of-00001").exists():
            continue
        out = tmp_path / f"r{i}"
        if _resave(prefix, out) is not None:
            continue
        ours, theirs = files_of(out), files_of(prefix)
        assert ours[1] == theirs[1], prefix
        assert read_table(ours[0]) == read_table(theirs[0]), prefix
        if not _snappy_blocks(theirs[0]):
            assert ours[0] == theirs[0], prefix
        checked += 1
        shutil.rmtree(tmp_path)
        tmp_path.mkdir()
    assert checked >= 10


# -- big-endian bundle (FORMAT §9) -------------------------------------------------------------


def _be_string_payload(values: list[bytes]) -> tuple[bytes, int]:
    varints = b"".join(encode_varint(len(v)) for v in values)
    words = b"".join(struct.pack(">I", len(v)) for v in values)
    stored = struct.pack(">I", mask_crc(crc32c(words)))
    data = b"".join(values)
    return varints + stored + data, mask_crc(crc32c(data, crc32c(stored, crc32c(words))))


def test_big_endian_bundle_crafted_by_hand(tmp_path: Path) -> None:
    values: dict[str, Any] = {
        "f32": np.array([[1.5, -2.0], [3.25, np.inf]], np.float32),
        "i32": np.array(-7, np.int32),
        "f64": np.array([1e300, -0.0], np.float64),
        "c64": np.array([1 + 2j, -3.5 - 4j], np.complex64),
        "c128": np.array([1e-300 + 5j], np.complex128),
        "u16": np.array([1, 0x1234, 0xFFFE], np.uint16),
        "i64": np.array([-(2**62), 5], np.int64),
        "b16": np.array([1.0, -2.5], ml_dtypes.bfloat16),
        "f16": np.array([0.5, 65504], np.float16),
        "u8": np.array([1, 2, 255], np.uint8),
        "bool": np.array([True, False]),
    }
    strings = {"s": [b"ab", b"", b"xyz"], "e": [], "scalar_str": [b"hello"], "big": [b"q" * 300]}
    enums = {"f32": 1, "i32": 3, "f64": 2, "c64": 8, "c128": 18, "u16": 17, "i64": 9}
    enums |= {"b16": 14, "f16": 19, "u8": 4, "bool": 10}
    data = b""
    items: dict[bytes, bytes] = {}
    for k, v in values.items():
        if v.dtype.kind == "c":
            be = v.view(v.real.dtype).astype(v.real.dtype.newbyteorder(">")).tobytes()
        elif v.dtype == ml_dtypes.bfloat16:
            be = v.view(np.uint16).astype(">u2").tobytes()
        else:
            be = v.astype(v.dtype.newbyteorder(">")).tobytes()
        e = Entry(enums[k], v.shape, 0, len(data), len(be), mask_crc(crc32c(be)))
        items[k.encode()] = encode_entry(e)
        data += be
    for k, sv in strings.items():
        payload, crc = _be_string_payload(sv)
        shape = () if k == "scalar_str" else (len(sv),)
        items[k.encode()] = encode_entry(Entry(7, shape, 0, len(data), len(payload), crc))
        data += payload
    header = encode_header(BundleHeader(big_endian=True))
    assert header == bytes.fromhex("080110011a020801")
    p = tmp_path / "be"
    Path(str(p) + ".data-00000-of-00001").write_bytes(data)
    write_index(p, items, header)
    with tfc.load_checkpoint(p) as r:
        assert r.verify() == len(values) + len(strings)
        for k, v in values.items():
            got = r[k]
            assert got.dtype == v.dtype.newbyteorder("<") or got.dtype == v.dtype, k
            assert got.tobytes() == v.astype(v.dtype.newbyteorder("<")).tobytes(), k
        assert r["s"].tolist() == [b"ab", b"", b"xyz"]
        assert r["e"].shape == (0,)
        assert r["scalar_str"].item() == b"hello"
        assert r["big"].tolist() == [b"q" * 300]
        assert np.array_equal(r.get_slice("f32")[1], values["f32"][1])
        assert np.array_equal(r.get_slice("u16")[::-2], values["u16"][::-2])


def test_big_endian_partitioned_tensor(tmp_path: Path) -> None:
    full = np.arange(12, dtype=np.float32).reshape(4, 3)
    data = b""
    items: dict[bytes, bytes] = {}
    slices = [[(0, 1), (0, -1)], [(1, 3), (0, -1)]]
    for (start, length), _ in slices:
        part = full[start : start + length].astype(">f4").tobytes()
        entry = Entry(1, (length, 3), 0, len(data), len(part), mask_crc(crc32c(part)))
        items[encode_slice_key(b"p", [(start, length), (0, -1)])] = encode_entry(entry)
        data += part
    items[b"p"] = encode_entry(Entry(1, (4, 3), slices=slices))
    p = tmp_path / "be"
    Path(str(p) + ".data-00000-of-00001").write_bytes(data)
    write_index(p, items, encode_header(BundleHeader(big_endian=True)))
    with tfc.load_checkpoint(p) as r:
        assert list(r) == ["p"]
        assert np.array_equal(r["p"], full) and r["p"].dtype == np.dtype("<f4")
        assert np.array_equal(r.get_slice("p")[2:], full[2:])


# -- multiple data shards ----------------------------------------------------------------------


def _merge(prefixes: list[Path], out: Path) -> None:
    """MergeBundles (FORMAT §1.3) done by hand: shard ids in input order, full entries of a
    sliced tensor get their slice lists appended, header num_shards is the sum."""
    merged: dict[bytes, Entry] = {}
    n = len(prefixes)
    for shard, p in enumerate(prefixes):
        items = read_table(Path(str(p) + ".index").read_bytes())
        assert decode_header(items[0][1]).num_shards == 1
        for k, v in items[1:]:
            e = decode_entry(v)
            if e.slices:
                if k in merged:
                    merged[k].slices += e.slices
                    continue
            else:
                e.shard_id = shard
            assert k not in merged
            merged[k] = e
        os.rename(str(p) + ".data-00000-of-00001", f"{out}.data-{shard:05d}-of-{n:05d}")
        os.unlink(str(p) + ".index")
    write_index(
        out,
        {k: encode_entry(e) for k, e in merged.items()},
        encode_header(BundleHeader(num_shards=n)),
    )


def test_multi_shard_bundle(tmp_path: Path) -> None:
    full = np.arange(30, dtype=np.int32).reshape(6, 5)
    with tfc.BundleWriter(tmp_path / "tmp" / "part-0") as w:
        w.add("a", np.float32(1.0))
        w.add("shared/x", np.arange(3, dtype=np.int64))
        w.add_slice("part", (6, 5), "0,4:-", full[:4])
    with tfc.BundleWriter(tmp_path / "tmp" / "part-1") as w:
        w.add("b", [b"two", b"\x00"])
        w.add_slice("part", (6, 5), "4,2:-", full[4:])
    _merge([tmp_path / "tmp" / "part-0", tmp_path / "tmp" / "part-1"], tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m.data-00000-of-00002",
        "m.data-00001-of-00002",
        "m.index",
        "tmp",
    ]
    for form in (tmp_path / "m", tmp_path / "m.data-00001-of-00002", tmp_path / "m.index"):
        with tfc.load_checkpoint(form) as r:
            assert list(r) == ["a", "b", "part", "shared/x"]
            assert r["a"] == 1.0 and r["b"].tolist() == [b"two", b"\x00"]
            assert np.array_equal(r["part"], full)
            assert np.array_equal(r.get_slice("part")[3:5], full[3:5])
            assert r["shared/x"].tolist() == [0, 1, 2]
            assert r.verify() == 4
    os.unlink(tmp_path / "m.data-00001-of-00002")
    with tfc.load_checkpoint(tmp_path / "m") as r:
        assert r["a"] == 1.0
        with pytest.raises(tfc.CheckpointNotFoundError):
            r["b"]


# -- Snappy-compressed table blocks ------------------------------------------------------------


# The data block of the index of SNAPPY_TENSORS (as `save` writes it), compressed once by the
# reference Snappy compressor (cramjam 2.x snappy.compress_raw); it uses copies.
SNAPPY_TENSORS = {
    f"layer_{i}/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE": np.float32(i) for i in range(8)
}


SNAPPY_DATA_BLOCK = bytes.fromhex(
    "dd03f04900000608011a020801002f0b6c617965725f302f64656e73652f6b65726e656c2f2e4154545249"
    "42555445532f5641524941424c455f56414c554508011200280435a67b113a06290d31ae37003020042804"
    "3581a5da2b06290d32b239002c0828043510fd784f06290d33b239002c0c280435efd682c306290d34b239"
    "002c1028043597d088fb06290d35b239002c142804358005844106290d36b239002c1828043568068f7706"
    "290d37b239003c1c2804355fcf8bb50000000001000000"
)


def _literal_snappy(raw: bytes) -> bytes:
    """Valid Snappy with literals only (the format allows it; some writers do this)."""
    out = bytearray(encode_varint(len(raw)))
    for i in range(0, len(raw), 65536):
        chunk = raw[i : i + 65536]
        out += bytes([62 << 2]) + (len(chunk) - 1).to_bytes(3, "little") + chunk
    return bytes(out)


def _recompress_table(table: bytes, compress: Callable[[bytes], bytes]) -> bytes:
    """Rewrite a table with every data block and the index block stored as type 1."""
    out = bytearray()

    def write(contents: bytes) -> tuple[int, int]:
        h = (len(out), len(contents))
        out.extend(contents + b"\x01")
        out.extend(struct.pack("<I", mask_crc(crc32c(b"\x01", crc32c(contents)))))
        return h

    from tfckpt_lite._block import BlockBuilder

    ib = BlockBuilder(1)
    for key, (o, s) in index_block_handles(table):
        ho, hs = write(compress(table[o : o + s]))
        ib.add(key, encode_varint(ho) + encode_varint(hs))
    meta = (len(out), 8)
    out.extend(bytes.fromhex("0000000001000000") + b"\x00" + bytes.fromhex("c0f2a1b0"))
    idx = write(compress(ib.finish()))
    footer = b"".join(encode_varint(x) for x in (*meta, *idx))
    out.extend(footer + bytes(40 - len(footer)) + table[-8:])
    return bytes(out)


def test_snappy_compressed_index_reads(tmp_path: Path) -> None:
    from tfckpt_lite._snappy import snappy_decompress

    tfc.save(tmp_path / "c", SNAPPY_TENSORS)
    index_path = Path(str(tmp_path / "c") + ".index")
    plain = index_path.read_bytes()
    ((_, (o, s)),) = index_block_handles(plain)
    assert snappy_decompress(SNAPPY_DATA_BLOCK) == plain[o : o + s]

    def compress(raw: bytes) -> bytes:
        return SNAPPY_DATA_BLOCK if raw == plain[o : o + s] else _literal_snappy(raw)

    compressed = _recompress_table(plain, compress)
    assert _snappy_blocks(compressed) and len(compressed) < len(plain)
    index_path.write_bytes(compressed)
    with tfc.load_checkpoint(tmp_path / "c") as r:
        assert list(r) == sorted(SNAPPY_TENSORS)
        assert all(r[k] == v for k, v in SNAPPY_TENSORS.items())
    # many blocks, all compressed literal-only
    many = {f"k{i:04d}": np.int64(i) for i in range(400)}
    tfc.save(tmp_path / "m", many)
    from tfckpt_lite._table import build_table as bt

    items = read_table(Path(str(tmp_path / "m") + ".index").read_bytes())
    small_blocks = bt(items, block_size=512)
    Path(str(tmp_path / "m") + ".index").write_bytes(
        _recompress_table(small_blocks, _literal_snappy)
    )
    assert len(index_block_handles(small_blocks)) > 10
    assert tfc.load(tmp_path / "m") == many
    # a damaged compressed block with a valid CRC is corrupt, not a crash
    bad = _recompress_table(plain, lambda raw: b"\xff\xff\xff\xff\x0f")
    index_path.write_bytes(bad)
    with pytest.raises(tfc.CorruptCheckpointError, match="compressed"):
        tfc.load_checkpoint(tmp_path / "c")
