"""Targeted hostile checkpoints: each crafted to lie in one specific way.

Indexes are built with our own table builder and entry encoder (or, for orderings the
builder refuses, a raw block), data shards by hand. Every case must end in the documented
`CheckpointError` subclass, naming the file and the tensor, quickly and without allocating
what the lie claims (a 2^40-element tensor would need terabytes).
"""

from __future__ import annotations

import os
import struct
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite
from tfckpt_lite import (
    CheckpointError,
    CheckpointNotFoundError,
    ChecksumMismatchError,
    CorruptCheckpointError,
    UnsupportedCheckpointError,
)
from tfckpt_lite._block import BlockBuilder
from tfckpt_lite._bundle import Entry, Header, encode_entry, encode_header
from tfckpt_lite._coding import crc32c, encode_varint, mask_crc
from tfckpt_lite._ordered_code import encode_slice_key
from tfckpt_lite._table import TABLE_MAGIC, build_table
from tfckpt_lite._tensor_codec import decode_strings, encode_strings
from tfckpt_lite._wire import field_bytes, field_varint

from ._bundle_files import TESTDATA, format_tensors, write_index
from ._robust_util import MemFS, check_error, read_all

P = "/h/ckpt"
INDEX = P + ".index"
DATA = P + ".data-00000-of-00001"


def f32_entry(values: np.ndarray[Any, Any], offset: int = 0, **kw: Any) -> Entry:
    raw = values.astype("<f4").tobytes()
    e = Entry(
        dtype=1, shape=values.shape, offset=offset, size=len(raw), crc32c=mask_crc(crc32c(raw))
    )
    for k, v in kw.items():
        setattr(e, k, v)
    return e


def index_bytes(entries: dict[bytes, Entry | bytes], header: Header | bytes | None = None) -> bytes:
    h = header if isinstance(header, bytes) else encode_header(header or Header())
    items = [(b"", h)]
    items += sorted((k, v if isinstance(v, bytes) else encode_entry(v)) for k, v in entries.items())
    return build_table(items)


def raw_table(items: list[tuple[bytes, bytes]]) -> bytes:
    """A one-block table in the given order, however wrong (the builder would refuse)."""
    out = bytearray()

    def block(contents: bytes) -> tuple[int, int]:
        handle = (len(out), len(contents))
        out.extend(contents + b"\x00")
        out.extend(struct.pack("<I", mask_crc(crc32c(b"\x00", crc32c(contents)))))
        return handle

    data = BlockBuilder(16)
    for k, v in items:
        data.add(k, v)
    d_off, d_size = block(data.finish())
    m_off, m_size = block(BlockBuilder(16).finish())
    index = BlockBuilder(1)
    index.add(b"\xff" * 4, encode_varint(d_off) + encode_varint(d_size))
    i_off, i_size = block(index.finish())
    footer = encode_varint(m_off) + encode_varint(m_size) + encode_varint(i_off)
    footer += encode_varint(i_size)
    out += footer + bytes(40 - len(footer)) + struct.pack("<Q", TABLE_MAGIC)
    return bytes(out)


def fs_with(index: bytes, data: dict[str, bytes] | bytes = b"") -> MemFS:
    files = {INDEX: index}
    if isinstance(data, bytes):
        files[DATA] = data
    else:
        files.update(data)
    return MemFS(files)


@contextmanager
def bounded(seconds: float = 2.0, megabytes: float | None = 64) -> Iterator[None]:
    """The block must finish fast and allocate little: no hang, no size taken on trust.
    (`megabytes=None`: time only; tracing allocations slows pure-Python loops tenfold.)
    `seconds` bounds the CPU time this process spends, which other load on the machine does
    not inflate; the wall clock only has to show no blocking hang."""
    if megabytes is not None:
        tracemalloc.start()
    t, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        peak = tracemalloc.get_traced_memory()[1] if megabytes is not None else 0
        tracemalloc.stop()
    assert time.process_time() - cpu < seconds
    assert time.perf_counter() - t < max(60.0, 10 * seconds)
    assert megabytes is None or peak < megabytes * 2**20, f"peak allocation {peak} bytes"


def expect(
    fs: MemFS, key: str, exc: type[CheckpointError], match: str | None, *, blame: str = INDEX
) -> CheckpointError:
    """Reading `key` (and the whole path) fails with `exc` naming `blame` and `key`."""
    with bounded():
        with tfckpt_lite.load_checkpoint(P, filesystem=fs) as r:
            with pytest.raises(exc, match=match) as info:
                r.get_tensor(key)
            with pytest.raises(CheckpointError):
                r.verify()
        outcome = read_all(P, fs)
    err = info.value
    check_error(err, "hostile", key, blame)
    assert key in str(err) and blame in str(err)
    for e in outcome.errors():
        check_error(e, "hostile read_all", None)
    return err


def expect_open(fs: MemFS, exc: type[CheckpointError], match: str | None) -> None:
    with bounded(), pytest.raises(exc, match=match) as info:
        tfckpt_lite.load_checkpoint(P, filesystem=fs)
    check_error(info.value, "hostile open", None, INDEX)


ONES = np.ones((2, 3), np.float32)
ONES_RAW = ONES.tobytes()


# -- shapes and sizes ---------------------------------------------------------------------


def test_control_case_reads_exactly() -> None:
    fs = fs_with(index_bytes({b"w": f32_entry(ONES)}), ONES_RAW)
    with tfckpt_lite.load_checkpoint(P, filesystem=fs) as r:
        np.testing.assert_array_equal(r["w"], ONES)
        assert r.verify() == 1


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((2, -3), "negative dimension"),
        ((-1,), "negative dimension"),
        ((2**40, 2**40), "overflows int64"),
        ((2**32, 2**32), "overflows int64"),
        ((2**62, 4), "overflows int64"),
    ],
)
def test_bad_shape(shape: tuple[int, ...], match: str) -> None:
    fs = fs_with(index_bytes({b"w": f32_entry(ONES, shape=shape)}), ONES_RAW)
    expect(fs, "w", CorruptCheckpointError, match)
    with tfckpt_lite.load_checkpoint(P, filesystem=fs) as r, pytest.raises(CorruptCheckpointError):
        r.shape("w")


def test_thousands_of_axes() -> None:
    dims = b"".join(field_bytes(2, field_varint(1, 1)) for _ in range(3000))
    raw = field_varint(1, 1) + field_bytes(2, dims) + field_varint(5, 4)
    fs = fs_with(index_bytes({b"w": raw}), b"\0" * 4)
    expect(fs, "w", CorruptCheckpointError, "more than 254 dimensions")


@pytest.mark.parametrize("dim", [2**40, 2**31, 10**12])
def test_huge_axis_with_small_size(dim: int) -> None:
    """A claim of terabytes against a 24-byte entry: a size error, nothing allocated."""
    fs = fs_with(index_bytes({b"w": f32_entry(ONES, shape=(dim,))}), ONES_RAW)
    expect(fs, "w", CorruptCheckpointError, "invalid size in bundle entry")
    with tfckpt_lite.load_checkpoint(P, filesystem=fs) as r:
        assert r.shape("w") == (dim,)  # metadata is fine to report; the value is not
        with bounded(), pytest.raises(CorruptCheckpointError):
            r.get_slice("w")[dim - 1]


def test_huge_axis_with_matching_huge_size() -> None:
    e = f32_entry(ONES, shape=(2**40,), size=4 * 2**40)
    expect(
        fs_with(index_bytes({b"w": e}), ONES_RAW),
        "w",
        CorruptCheckpointError,
        "runs past",
        blame=DATA,
    )


@pytest.mark.parametrize("size", [0, 23, 25, 2**63 - 1])
def test_size_disagrees_with_dtype_and_shape(size: int) -> None:
    fs = fs_with(index_bytes({b"w": f32_entry(ONES, size=size)}), ONES_RAW)
    expect(fs, "w", CorruptCheckpointError, "invalid size")


@pytest.mark.parametrize("dtype", [0, 99, 200, -1, 2**31 - 1])
def test_unknown_dtype(dtype: int) -> None:
    fs = fs_with(index_bytes({b"w": f32_entry(ONES, dtype=dtype)}), ONES_RAW)
    expect(fs, "w", UnsupportedCheckpointError, "unknown dtype")


def test_unknown_rank() -> None:
    raw = field_varint(1, 1) + field_bytes(2, field_varint(3, 1))
    expect(fs_with(index_bytes({b"w": raw}), b""), "w", CorruptCheckpointError, "unknown rank")


# -- shards ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("offset", "size"), [(1, 24), (24, 24), (2**62, 24), (-8, 24)])
def test_offset_or_size_past_end_of_shard(offset: int, size: int) -> None:
    fs = fs_with(index_bytes({b"w": f32_entry(ONES, offset=offset, size=size)}), ONES_RAW)
    err = expect(fs, "w", CorruptCheckpointError, None, blame=DATA if offset >= 0 else INDEX)
    assert "offset" in str(err)


def test_truncated_data_file_says_which_file() -> None:
    fs = fs_with(index_bytes({b"w": f32_entry(ONES)}), ONES_RAW[:-1])
    err = expect(fs, "w", CorruptCheckpointError, "data file is truncated", blame=DATA)
    assert "runs past the end of its data file" in str(err)


def test_flipped_data_says_data_checksum() -> None:
    bad = bytearray(ONES_RAW)
    bad[5] ^= 4
    fs = fs_with(index_bytes({b"w": f32_entry(ONES)}), bytes(bad))
    expect(fs, "w", ChecksumMismatchError, "checksum does not match in shard 0", blame=DATA)


@pytest.mark.parametrize("num_shards", [-1, 2**31, 2**40, -(2**63)])
def test_num_shards_invalid(num_shards: int) -> None:
    header = field_varint(1, num_shards) + field_bytes(3, field_varint(1, 1))
    expect_open(
        fs_with(index_bytes({b"w": f32_entry(ONES)}, header), ONES_RAW),
        CorruptCheckpointError,
        "num_shards",
    )


def test_num_shards_zero() -> None:
    fs = fs_with(index_bytes({b"w": f32_entry(ONES)}, Header(num_shards=0)), ONES_RAW)
    expect(fs, "w", CorruptCheckpointError, "shard_id 0 out of range for num_shards 0")


def test_num_shards_a_billion() -> None:
    """Nothing is sized by num_shards: the one referenced shard is simply missing."""
    fs = fs_with(index_bytes({b"w": f32_entry(ONES)}, Header(num_shards=10**9)), ONES_RAW)
    missing = P + ".data-00000-of-1000000000"
    expect(fs, "w", CheckpointNotFoundError, "data file does not exist", blame=missing)


@pytest.mark.parametrize("shard_id", [1, 7, -1, 2**31 - 1])
def test_shard_id_out_of_range(shard_id: int) -> None:
    fs = fs_with(index_bytes({b"w": f32_entry(ONES, shard_id=shard_id)}), ONES_RAW)
    expect(fs, "w", CorruptCheckpointError, "out of range")


def test_missing_shard_named_and_other_shard_still_reads() -> None:
    index = index_bytes(
        {b"a": f32_entry(ONES), b"b": f32_entry(ONES, shard_id=1)}, Header(num_shards=2)
    )
    shard0 = P + ".data-00000-of-00002"
    shard1 = P + ".data-00001-of-00002"
    fs = MemFS({INDEX: index, shard0: ONES_RAW})
    expect(fs, "b", CheckpointNotFoundError, "does not exist", blame=shard1)
    with tfckpt_lite.load_checkpoint(P, filesystem=fs) as r:
        np.testing.assert_array_equal(r["a"], ONES)


def test_extra_shard_is_ignored() -> None:
    fs = fs_with(index_bytes({b"w": f32_entry(ONES)}), ONES_RAW)
    fs.files[P + ".data-00001-of-00002"] = b"junk"
    fs.files[P + ".data-00000-of-00001.tempstate123"] = b"stale temp"
    with tfckpt_lite.load_checkpoint(P, filesystem=fs) as r:
        np.testing.assert_array_equal(r["w"], ONES)


# -- strings -----------------------------------------------------------------------------------


def string_entry(payload: bytes, crc: int, n: int) -> Entry:
    return Entry(dtype=7, shape=(n,), size=len(payload), crc32c=crc)


@pytest.mark.parametrize("claimed", [2**33, 2**62, 2**64 - 1])
def test_string_length_claims_gigabytes(claimed: int) -> None:
    payload, crc = encode_strings([b"abc", b"de"])
    lying = encode_varint(claimed) + payload[1:]
    fs = fs_with(index_bytes({b"s": string_entry(lying, crc, 2)}), lying)
    expect(fs, "s", CorruptCheckpointError, "size mismatch", blame=DATA)


def test_string_length_varint_longer_than_ten_bytes() -> None:
    payload = b"\x80" * 11 + b"\x00" + b"\0" * 8
    fs = fs_with(index_bytes({b"s": string_entry(payload, 0, 1)}), payload)
    expect(fs, "s", CorruptCheckpointError, "longer than", blame=DATA)


def test_string_count_claims_trillions() -> None:
    payload, crc = encode_strings([b"abc"])
    fs = fs_with(index_bytes({b"s": string_entry(payload, crc, 10**12)}), payload)
    expect(fs, "s", CorruptCheckpointError, "invalid size in bundle entry")


@pytest.mark.parametrize("n", [10**12, 2**62])
def test_decode_strings_checks_count_before_allocating(n: int) -> None:
    payload, crc = encode_strings([b"abc"])
    with bounded(), pytest.raises(CorruptCheckpointError):
        decode_strings(payload, n, crc)


# -- varints, keys, blocks ---------------------------------------------------------------------


def test_entry_varint_longer_than_ten_bytes() -> None:
    raw = b"\x08" + b"\x81" * 10 + b"\x01"  # field 1 (dtype), an 11-byte varint
    expect(fs_with(index_bytes({b"w": raw}), b""), "w", CorruptCheckpointError, "longer than 10")


def test_entry_with_group_wire_type() -> None:
    raw = field_varint(1, 1) + b"\x13"  # field 2, wire type 3 (start group)
    expect(fs_with(index_bytes({b"w": raw}), b""), "w", CorruptCheckpointError, "wire type")


def test_header_varint_longer_than_ten_bytes() -> None:
    expect_open(fs_with(index_bytes({}, b"\x08" + b"\xff" * 11)), CorruptCheckpointError, "10")


@pytest.mark.parametrize(
    ("keys", "match"),
    [([b"", b"b", b"a"], "unsorted"), ([b"", b"a", b"a"], "duplicate")],
)
def test_unsorted_or_duplicate_keys(keys: list[bytes], match: str) -> None:
    items = [(k, encode_header(Header()) if not k else encode_entry(f32_entry(ONES))) for k in keys]
    expect_open(fs_with(raw_table(items), ONES_RAW), CorruptCheckpointError, match)


def test_raw_table_control() -> None:
    items = [(b"", encode_header(Header())), (b"w", encode_entry(f32_entry(ONES)))]
    with tfckpt_lite.load_checkpoint(P, filesystem=fs_with(raw_table(items), ONES_RAW)) as r:
        np.testing.assert_array_equal(r["w"], ONES)


def _rewrite_index_block(table: bytes, edit: Callable[[bytearray], bytes]) -> bytes:
    """Replace the index block's contents (fixing its checksum, so only the lie remains)."""
    from tfckpt_lite._coding import decode_varint

    footer = len(table) - 48
    _, pos = decode_varint(table, footer, len(table))
    _, pos = decode_varint(table, pos, len(table))
    off, pos = decode_varint(table, pos, len(table))
    size, _ = decode_varint(table, pos, len(table))
    contents = edit(bytearray(table[off : off + size]))
    trailer = b"\x00" + struct.pack("<I", mask_crc(crc32c(b"\x00", crc32c(contents))))
    handle = encode_varint(off) + encode_varint(len(contents))
    meta = table[footer : footer + 48]
    _, mpos = decode_varint(meta, 0, 48)
    _, mpos = decode_varint(meta, mpos, 48)
    new_footer = meta[:mpos] + handle
    new_footer += bytes(40 - len(new_footer)) + struct.pack("<Q", TABLE_MAGIC)
    return table[:off] + contents + trailer + new_footer


@pytest.mark.parametrize(
    ("num_restarts", "match"), [(0xFFFFFFFF, "restart points do not fit"), (0, "no restart")]
)
def test_absurd_restart_count(num_restarts: int, match: str) -> None:
    def edit(b: bytearray) -> bytes:
        b[-4:] = struct.pack("<I", num_restarts)
        return bytes(b)

    table = _rewrite_index_block(index_bytes({b"w": f32_entry(ONES)}), edit)
    expect_open(fs_with(table, ONES_RAW), CorruptCheckpointError, match)


def test_garbage_restart_offsets_are_not_trusted() -> None:
    """A full scan does not need the restart offsets; garbage there changes nothing."""

    def edit(b: bytearray) -> bytes:
        b[-8:-4] = struct.pack("<I", 0xFFFFFF00)
        return bytes(b)

    table = _rewrite_index_block(index_bytes({b"w": f32_entry(ONES)}), edit)
    with tfckpt_lite.load_checkpoint(P, filesystem=fs_with(table, ONES_RAW)) as r:
        np.testing.assert_array_equal(r["w"], ONES)


def test_index_handle_past_end_of_file() -> None:
    def edit(b: bytearray) -> bytes:
        return bytes(b)

    table = bytearray(_rewrite_index_block(index_bytes({b"w": f32_entry(ONES)}), edit))
    table[-48 + 2 : -40] = encode_varint(2**40) + encode_varint(5) + bytes(6 - 6)  # bogus handles
    expect_open(fs_with(bytes(table), ONES_RAW), CorruptCheckpointError, None)


@pytest.mark.parametrize("index", [b"", b"\0" * 48, struct.pack("<Q", TABLE_MAGIC), b"x" * 4096])
def test_not_a_table(index: bytes) -> None:
    expect_open(fs_with(index), CorruptCheckpointError, "sstable")


def test_missing_header_entry() -> None:
    table = build_table([(b"w", encode_entry(f32_entry(ONES)))])
    expect_open(fs_with(table, ONES_RAW), CorruptCheckpointError, "header")


def test_newer_min_consumer_is_unsupported() -> None:
    fs = fs_with(index_bytes({}, Header(min_consumer=7)))
    expect_open(fs, UnsupportedCheckpointError, "min consumer")


# -- slices ------------------------------------------------------------------------------------


def sliced(
    extents_list: list[list[tuple[int, int]]],
    shape: tuple[int, ...] = (4, 3),
    stored: list[list[tuple[int, int]]] | None = None,
) -> MemFS:
    full = Entry(dtype=1, shape=shape, slices=extents_list)
    entries: dict[bytes, Entry | bytes] = {b"p": full}
    data = b""
    for ext in stored if stored is not None else extents_list:
        box = [(s, d if n < 0 else n) for (s, n), d in zip(ext, shape)]
        part = np.full([n for _, n in box], len(entries), np.float32)
        entries[encode_slice_key(b"p", ext)] = f32_entry(part, offset=len(data))
        data += part.tobytes()
    return fs_with(index_bytes(entries), data)


def test_slices_control() -> None:
    fs = sliced([[(0, 2), (0, -1)], [(2, 2), (0, -1)]])
    with tfckpt_lite.load_checkpoint(P, filesystem=fs) as r:
        assert r["p"].tolist() == [[1.0] * 3] * 2 + [[2.0] * 3] * 2


@pytest.mark.parametrize(
    ("extents", "match"),
    [
        ([[(0, 3), (0, -1)], [(2, 2), (0, -1)]], "overlapping"),
        ([[(0, 2), (0, -1)]], "sufficient slices"),
        ([[(0, 2), (0, -1)], [(2, 5), (0, -1)]], "outside shape"),
        ([[(-1, 2), (0, -1)], [(1, 3), (0, -1)]], "outside shape"),
        ([[(0, 2)], [(2, 2)]], "rank"),
    ],
)
def test_bad_slices(extents: list[list[tuple[int, int]]], match: str) -> None:
    expect(sliced(extents), "p", CorruptCheckpointError, match)


def test_many_slices_are_not_quadratic() -> None:
    """20,000 one-element slices (a 650 KB index): pairwise overlap checks took ~75 s."""
    k = 20_000
    extents = [[(i, 1)] for i in range(k)]
    entries: dict[bytes, Entry | bytes] = {b"p": Entry(dtype=1, shape=(k,), slices=extents)}
    for i, ext in enumerate(extents):
        entries[encode_slice_key(b"p", ext)] = f32_entry(np.full(1, i, np.float32), offset=4 * i)
    fs = fs_with(index_bytes(entries), np.arange(k, dtype=np.float32).tobytes())
    with bounded(seconds=5, megabytes=None), tfckpt_lite.load_checkpoint(P, filesystem=fs) as r:
        np.testing.assert_array_equal(r["p"], np.arange(k, dtype=np.float32))
    # and an overlap among them is still found, as fast
    entries[b"p"] = Entry(dtype=1, shape=(k,), slices=[*extents[:-1], [(k - 2, 1)]])
    fs = fs_with(index_bytes(entries), fs.files[DATA])
    with (
        bounded(seconds=5, megabytes=None),
        tfckpt_lite.load_checkpoint(P, filesystem=fs) as r,
        pytest.raises(CorruptCheckpointError, match="overlapping"),
    ):
        r["p"]


def test_listed_slice_without_entry() -> None:
    fs = sliced([[(0, 2), (0, -1)], [(2, 2), (0, -1)]], stored=[[(0, 2), (0, -1)]])
    expect(fs, "p", CorruptCheckpointError, "has no entry")


# -- the state file ---------------------------------------------------------------------


def _real_ckpt(d: Path) -> str:
    return tfckpt_lite.save(d / "ckpt-1", {"w": ONES}, fsync=False)


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\x01\x02\xff\xfe binary \x80",
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
        b"\xff\xfe not UTF-8, no NUL",
        b'model_checkpoint_path: "unterminated',
        b'model_checkpoint_path: "bad \\q escape"',
        b"model_checkpoint_path ckpt-1",
        b'model_checkpoint_path: "ckpt-1"\n' + b"\0" * 100,
    ],
)
@pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")
def test_state_file_not_text(tmp_path: Path, content: bytes) -> None:
    """A binary state file is taken for a V1 checkpoint named `checkpoint` (as TF: no state);
    other garbage is a CorruptCheckpointError naming the state file. Never anything else."""
    _real_ckpt(tmp_path)
    state = tmp_path / "checkpoint"
    state.write_bytes(content)
    with bounded():
        try:
            assert tfckpt_lite.latest_checkpoint(tmp_path) is None
        except CorruptCheckpointError as e:
            assert e.path == str(state)
        with pytest.raises(CheckpointError) as info:
            tfckpt_lite.load_checkpoint(tmp_path)
    assert info.value.path == str(state)


def test_state_file_huge(tmp_path: Path) -> None:
    _real_ckpt(tmp_path)
    with open(tmp_path / "checkpoint", "wb") as f:
        f.write(b'model_checkpoint_path: "ckpt-1"\n')
        f.write(b"#" * (17 << 20))
    with bounded(megabytes=40), pytest.raises(CorruptCheckpointError, match="larger than"):
        tfckpt_lite.latest_checkpoint(tmp_path)


def test_state_file_huge_sparse(tmp_path: Path) -> None:
    _real_ckpt(tmp_path)
    with open(tmp_path / "checkpoint", "wb") as f:
        f.write(b'model_checkpoint_path: "ckpt-1"\n')
        f.truncate(1 << 30)  # a sparse GiB of NULs: never read whole
    with bounded(megabytes=40):
        assert tfckpt_lite.latest_checkpoint(tmp_path) is None
        with pytest.raises(CheckpointError):
            tfckpt_lite.load_checkpoint(tmp_path)


@pytest.mark.parametrize("target", ["../outside/ckpt-1", "/nonexistent/dir/ckpt-1", "/etc"])
def test_state_file_points_outside_its_directory(tmp_path: Path, target: str) -> None:
    """As TF: a relative path is joined to the directory, an absolute one taken as is, and a
    name that does not exist there falls back to the same name inside the directory; what
    exists nowhere is None, and opening it is a CheckpointNotFoundError, never an OSError."""
    d = tmp_path / "run"
    d.mkdir()
    (tmp_path / "outside").mkdir()
    _real_ckpt(tmp_path / "outside")
    (d / "checkpoint").write_text(f'model_checkpoint_path: "{target}"\n')
    got = tfckpt_lite.latest_checkpoint(d)
    if target.startswith("../"):
        assert got == str(d / target)  # TF's os.path.join behaviour
        np.testing.assert_array_equal(tfckpt_lite.load(d)["w"], ONES)
    else:
        assert got is None
        with pytest.raises(CheckpointNotFoundError):
            tfckpt_lite.load_checkpoint(d)


def test_state_file_is_a_directory(tmp_path: Path) -> None:
    _real_ckpt(tmp_path)
    (tmp_path / "checkpoint").mkdir()
    assert tfckpt_lite.latest_checkpoint(tmp_path) is None


# -- files of the wrong kind -------------------------------------------------------------


def test_data_shard_is_a_directory(tmp_path: Path) -> None:
    prefix = _real_ckpt(tmp_path)
    data = Path(prefix + ".data-00000-of-00001")
    data.unlink()
    data.mkdir()
    with tfckpt_lite.load_checkpoint(prefix) as r, pytest.raises(CheckpointNotFoundError) as info:
        r["w"]
    assert info.value.path == str(data)


def test_index_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "x.index").mkdir()
    with pytest.raises(CheckpointNotFoundError):
        tfckpt_lite.load_checkpoint(tmp_path / "x")


def test_empty_files(tmp_path: Path) -> None:
    (tmp_path / "x.index").write_bytes(b"")
    (tmp_path / "x.data-00000-of-00001").write_bytes(b"")
    with pytest.raises(CorruptCheckpointError, match="too short") as info:
        tfckpt_lite.load_checkpoint(tmp_path / "x")
    assert info.value.path == str(tmp_path / "x.index")


# -- the object graph (when the graph module exists) -------------------------------------------


def _graph_bytes(children: list[list[int]], attrs: dict[int, str] | None = None) -> bytes:
    pb = pytest.importorskip("tfckpt_lite._proto.trackable_object_graph_pb2")
    g = pb.TrackableObjectGraph()
    for i, kids in enumerate(children):
        node = g.nodes.add()
        for j, c in enumerate(kids):
            ref = node.children.add()
            ref.node_id = c
            ref.local_name = f"c{j}"
        if attrs and i in attrs:
            a = node.attributes.add()
            a.name = "VARIABLE_VALUE"
            a.checkpoint_key = attrs[i]
    data: bytes = g.SerializeToString()
    return data


def _graph_cases() -> list[tuple[str, bytes]]:
    n = 2000
    return [
        ("self loop", _graph_bytes([[0]])),
        ("two-node cycle", _graph_bytes([[1], [0]], {1: "x/.ATTRIBUTES/VARIABLE_VALUE"})),
        ("child that does not exist", _graph_bytes([[5]])),
        ("child id 2^31-1", _graph_bytes([[2**31 - 1]])),
        ("negative child id", _graph_bytes([[-1]])),
        ("no nodes", b""),
        ("not a proto", b"\xff" * 64),
        ("deep chain", _graph_bytes([[i + 1] for i in range(n - 1)] + [[]], {n - 1: "k"})),
        ("wide", _graph_bytes([list(range(1, n))] + [[] for _ in range(n - 1)])),
        # 40 diamonds in a row: 2^40 distinct paths to the last node
        (
            "exponential paths",
            _graph_bytes(
                [[i + 1, i + 1] if i % 2 == 0 else [i + 1] for i in range(80)] + [[]],
                {80: "deep/.ATTRIBUTES/VARIABLE_VALUE"},
            ),
        ),
        ("many empty nodes", b"\n\x00" * 100_000),
    ]


@pytest.mark.parametrize(("name", "raw"), _graph_cases(), ids=[c[0] for c in _graph_cases()])
def test_object_graph_hostile(name: str, raw: bytes) -> None:
    """Cyclic, dangling, deep, wide, exponentially many paths: every query stays bounded."""
    graph = pytest.importorskip("tfckpt_lite._graph")
    with bounded(seconds=10, megabytes=None):
        try:
            g = graph.ObjectGraph.from_bytes(raw, "/x/ckpt")
        except CheckpointError as e:
            assert e.path == "/x/ckpt"
            return
        repr(g)
        g.checkpoint_keys()
        paths = g.canonical_paths()
        assert paths.get(0, "") == ""
        last = len(g) - 1
        for node in (0, last):
            g.path_of(node)
            assert len(g.paths(node)) <= graph.MAX_PATHS
        for key in g.checkpoint_keys():
            g.owner(key)
            g.paths(key)
        with pytest.raises((KeyError, CheckpointError)):
            g.find("no/such/child")


@pytest.mark.parametrize(
    "value",
    [
        np.array([], dtype=object),  # used to escape as IndexError
        np.array(2**40),  # bytes(<numpy int>) used to try to allocate a TiB: MemoryError
        np.float32(3),
        np.array([b"\n\x00", b"\n\x00"], dtype=object),  # used to take the first silently
    ],
    ids=["empty", "int 2^40", "float", "two strings"],
)
def test_object_graph_tensor_of_the_wrong_kind(tmp_path: Path, value: Any) -> None:
    prefix = tfckpt_lite.save(tmp_path / "c", {"_CHECKPOINTABLE_OBJECT_GRAPH": value, "x": 1})
    with (
        bounded(),
        tfckpt_lite.load_checkpoint(prefix) as r,
        pytest.raises(CorruptCheckpointError, match="must be a single string") as info,
    ):
        r.object_graph  # noqa: B018
    assert info.value.key == "_CHECKPOINTABLE_OBJECT_GRAPH" and info.value.path == prefix


def test_read_all_helper_covers_every_key() -> None:
    fs = fs_with(index_bytes({b"a": f32_entry(ONES), b"b": f32_entry(ONES)}), ONES_RAW)
    out = read_all(P, fs)
    assert out.opened == ["a", "b"]
    assert {k for k, _ in out.ops} == {"", "a", "b"}
    assert not out.errors()


def test_verify_checks_variant_payloads() -> None:
    """`verify` checksums DT_VARIANT tensors (it used to refuse them as unreadable)."""
    from ._robust_util import REPO, load_dir

    prefix = REPO / "testdata" / "iterator_variant" / "ckpt"
    if not prefix.with_suffix(".index").exists():
        pytest.skip("testdata not present")
    files = {f"/h/{k}".replace("/h/ckpt", P): v for k, v in load_dir(prefix).items()}
    with tfckpt_lite.load_checkpoint(P, filesystem=MemFS(files)) as r:
        assert r.verify() == 2
        key = "it/.ATTRIBUTES/ITERATOR_STATE"
        e = r._backend.entry(key)  # type: ignore[attr-defined]
    bad = bytearray(files[DATA])
    bad[e.offset + e.size // 2] ^= 1
    files[DATA] = bytes(bad)
    with (
        tfckpt_lite.load_checkpoint(P, filesystem=MemFS(files)) as r,
        pytest.raises(ChecksumMismatchError) as info,
    ):
        r.verify()
    check_error(info.value, "variant", key, DATA)


@pytest.mark.tf
def test_tf_aborts_where_we_raise(tmp_path: Path) -> None:
    """Live check of the headline of docs/robustness.md: on an index entry with a negative
    dimension TF 2.21 kills the whole process (CHECK failure); we raise, naming file and key."""
    pytest.importorskip("tensorflow")
    import subprocess
    import sys

    d = tmp_path / "neg"
    d.mkdir()
    (d / "ckpt.index").write_bytes(index_bytes({b"w": f32_entry(ONES, shape=(2, -3))}))
    (d / "ckpt.data-00000-of-00001").write_bytes(ONES_RAW)
    script = (
        "import sys, tensorflow as tf\n"
        "r = tf.train.load_checkpoint(sys.argv[1])\n"
        "r.get_tensor('w')\n"
        "print('returned')\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(d / "ckpt")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert proc.returncode < 0, (proc.returncode, proc.stdout, proc.stderr[-500:])  # a signal
    assert "Check failed" in proc.stderr
    with pytest.raises(CorruptCheckpointError, match="negative dimension") as info:
        tfckpt_lite.load_checkpoint(d / "ckpt").get_tensor("w")
    assert info.value.key == "w" and info.value.path == str(d / "ckpt.index")


# -- damaged files on disk ---------------------------------------------------------------------


def test_damage_is_detected(tmp_path: Path) -> None:
    tfckpt_lite.save(tmp_path / "c", format_tensors())
    index_path = Path(str(tmp_path / "c") + ".index")
    data_path = Path(str(tmp_path / "c") + ".data-00000-of-00001")
    data = bytearray(data_path.read_bytes())
    data[3] ^= 0x40  # inside "w"
    data[31] ^= 0x01  # inside the length checksum of "s" (s@28: 02 00 03 | checksum)
    data_path.write_bytes(bytes(data))
    r = tfckpt_lite.load_checkpoint(tmp_path / "c")
    with pytest.raises(tfckpt_lite.ChecksumMismatchError) as ei:
        r["w"]
    assert ei.value.key == "w" and "c.data-00000-of-00001" in str(ei.value)
    assert r.get_tensor("w", verify=False)[0, 0] != 0  # unverified read sees the damage
    with pytest.raises(tfckpt_lite.ChecksumMismatchError, match="length checksum"):
        r["s"]
    assert r["b"] == 7
    with pytest.raises(tfckpt_lite.ChecksumMismatchError):
        r.verify()
    r.close()
    data_path.write_bytes(bytes(data[:50]))  # truncated: "d" runs past the end
    with (
        tfckpt_lite.load_checkpoint(tmp_path / "c") as r2,
        pytest.raises(tfckpt_lite.CorruptCheckpointError, match="runs past"),
    ):
        r2["d"]
    data_path.unlink()
    with (
        tfckpt_lite.load_checkpoint(tmp_path / "c") as r3,
        pytest.raises(tfckpt_lite.CheckpointNotFoundError),
    ):
        r3["d"]
    index = bytearray(index_path.read_bytes())
    index[20] ^= 0x01
    index_path.write_bytes(bytes(index))
    with pytest.raises(tfckpt_lite.ChecksumMismatchError) as ej:
        tfckpt_lite.load_checkpoint(tmp_path / "c")
    assert "c.index" in str(ej.value)


def test_invalid_entries_are_corrupt_not_crashes(tmp_path: Path) -> None:
    p = tmp_path / "c"
    Path(str(p) + ".data-00000-of-00001").write_bytes(bytes(64))
    ok_crc = mask_crc(crc32c(bytes(8)))
    entries = {
        b"size": encode_entry(Entry(dtype=1, shape=(3,), size=8, crc32c=ok_crc)),
        b"neg": encode_entry(Entry(dtype=1, shape=(-2,), size=8, crc32c=ok_crc)),
        b"shard": encode_entry(Entry(dtype=1, shape=(2,), shard_id=3, size=8, crc32c=ok_crc)),
        b"past": encode_entry(Entry(dtype=1, shape=(2,), offset=60, size=8, crc32c=ok_crc)),
        b"huge": encode_entry(Entry(dtype=1, shape=(2**40, 2**20), size=2**62, crc32c=ok_crc)),
        b"var": encode_entry(Entry(dtype=21, shape=(1,), size=8, crc32c=ok_crc)),
        b"res": encode_entry(Entry(dtype=20, shape=(), size=8, crc32c=ok_crc)),
        b"unk": encode_entry(Entry(dtype=77, shape=(), size=8, crc32c=ok_crc)),
        b"junk": b"\x12\x05",
        # a string tensor claiming 2**40 elements in 10 bytes: refused before allocating
        b"hugestr": encode_entry(Entry(dtype=7, shape=(2**40,), size=10, crc32c=ok_crc)),
        b"slicedstr": encode_entry(Entry(dtype=7, shape=(2**40,), slices=[[(0, -1)]])),
        b"negoff": encode_entry(Entry(dtype=1, shape=(2,), offset=-8, size=8, crc32c=ok_crc)),
        b"overlap": encode_entry(Entry(dtype=1, shape=(4,), slices=[[(0, 3)], [(2, 2)]])),
        b"outside": encode_entry(Entry(dtype=1, shape=(4,), slices=[[(2, 3)]])),
        b"rank": encode_entry(Entry(dtype=1, shape=(4,), slices=[[(0, 2), (0, 1)]])),
        b"noslice": encode_entry(Entry(dtype=1, shape=(4,), slices=[[(0, 2)], [(2, 2)]])),
        b"good": encode_entry(Entry(dtype=9, shape=(), size=8, crc32c=ok_crc)),
        # valid for TF (0 elements) but NumPy cannot make an array of this shape
        b"emptybig": encode_entry(Entry(dtype=1, shape=(0, 2**61), crc32c=mask_crc(0))),
    }
    write_index(p, entries, encode_header(Header()))
    r = tfckpt_lite.load_checkpoint(p)
    assert r["good"] == 0
    corrupt = ["size", "neg", "shard", "past", "huge", "junk", "hugestr", "slicedstr", "negoff"]
    corrupt += ["overlap", "outside", "rank", "noslice"]
    for k in corrupt:
        with pytest.raises(tfckpt_lite.CorruptCheckpointError) as ei:
            r[k]
        assert ei.value.key == k
    for k in ("var", "res", "unk", "emptybig"):
        with pytest.raises(tfckpt_lite.UnsupportedCheckpointError):
            r[k]
    assert r.dtype("var") == "variant" and r.shape("var") == (1,)
    assert r.dtype("unk") == "DT_77"


def test_bad_headers(tmp_path: Path) -> None:
    p = tmp_path / "c"
    Path(str(p) + ".index").write_bytes(build_table([(b"a", b"")]))
    with pytest.raises(tfckpt_lite.CorruptCheckpointError, match="header"):
        tfckpt_lite.load_checkpoint(p)
    write_index(p, {}, encode_header(Header(min_consumer=5)))
    with pytest.raises(tfckpt_lite.UnsupportedCheckpointError, match="min consumer"):
        tfckpt_lite.load_checkpoint(p)
    Path(str(p) + ".index").write_bytes(b"not a table at all" * 4)
    with pytest.raises(tfckpt_lite.CorruptCheckpointError, match="magic"):
        tfckpt_lite.load_checkpoint(p)


def test_verify_checks_variant_tensors(tmp_path: Path) -> None:
    """DT_VARIANT values cannot be read, but verify() still checks their checksums (FORMAT 5.5)
    instead of refusing the whole checkpoint."""
    protos = [b"\x0a\x12tensorflow::Iterator", b"\x12\x03abc"]
    payload = b""
    c = 0
    for proto in protos:
        payload += encode_varint(len(proto)) + proto
        c = crc32c(proto, crc32c(len(proto).to_bytes(8, "little"), c))
        stored = mask_crc(c).to_bytes(4, "little")
        payload += stored
        c = crc32c(stored, c)
    p = tmp_path / "v"
    Path(str(p) + ".data-00000-of-00001").write_bytes(payload + b"\x07\x00\x00\x00")
    entries = {
        b"it": encode_entry(Entry(21, (2,), 0, 0, len(payload), mask_crc(c))),
        b"n": encode_entry(Entry(3, (), 0, len(payload), 4, mask_crc(crc32c(b"\x07\x00\x00\x00")))),
    }
    write_index(p, entries, encode_header(Header()))
    with tfckpt_lite.load_checkpoint(p) as r:
        assert r.dtype("it") == "variant" and r.shape("it") == (2,)
        with pytest.raises(tfckpt_lite.UnsupportedCheckpointError, match="VARIANT"):
            r["it"]
        assert r.verify() == 2
    damaged = bytearray(payload)
    damaged[5] ^= 1
    Path(str(p) + ".data-00000-of-00001").write_bytes(bytes(damaged) + b"\x07\x00\x00\x00")
    with (
        tfckpt_lite.load_checkpoint(p) as r,
        pytest.raises(tfckpt_lite.ChecksumMismatchError) as ei,
    ):
        r.verify()
    assert ei.value.key == "it"
    fixture = TESTDATA / "iterator_variant" / "ckpt"
    if Path(str(fixture) + ".index").exists():
        with tfckpt_lite.load_checkpoint(fixture) as r:
            assert r.verify() == len(r)
