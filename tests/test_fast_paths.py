"""The speed-motivated code paths give exactly what the general ones give.

`decode_info` (the cached, canonical-form shortcut used to list an index) against
`decode_entry` + `check_shape`, including on mutated and non-canonical entries; the bulk
listing against key-by-key lookups; the GC pause; and the lazy imports (crc32c's extension
loaded without its package, ml_dtypes on first use) in fresh interpreters.
"""

from __future__ import annotations

import gc
import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tfckpt_lite as tfc
from tfckpt_lite._bundle import (
    Entry,
    Header,
    Info,
    check_shape,
    decode_entry,
    decode_entry_columns,
    decode_info,
    decode_infos,
    encode_entry,
    encode_header,
)
from tfckpt_lite._coding import crc32c, mask_crc
from tfckpt_lite._errors import CheckpointError, ChecksumMismatchError, CorruptCheckpointError
from tfckpt_lite._gcpause import gc_paused
from tfckpt_lite._table import build_table
from tfckpt_lite._wire import field_bytes, field_varint

from .conftest import budget

SRC = str(Path(__file__).resolve().parent.parent / "src")


def _general(buf: bytes) -> Info | type[CheckpointError]:
    try:
        e = decode_entry(buf)
        check_shape(e.shape, e.unknown_rank)
    except CheckpointError as err:
        return type(err)
    return e.dtype_info, e.shape


def _fast(buf: bytes, cache: dict[bytes, Info]) -> Info | type[CheckpointError]:
    try:
        return decode_info(buf, cache)
    except CheckpointError as err:
        return type(err)


dims = st.integers(0, 2**40) | st.integers(0, 4)
entries = st.builds(
    Entry,
    dtype=st.integers(0, 140),
    shape=st.lists(dims, max_size=6).map(tuple),
    shard_id=st.integers(0, 3) | st.integers(-(2**31), 2**31 - 1),
    offset=st.integers(0, 2**40) | st.integers(-(2**63), 2**63 - 1),
    size=st.integers(0, 2**40),
    crc32c=st.integers(0, 2**32 - 1),
    slices=st.lists(
        st.lists(st.tuples(st.integers(0, 9), st.integers(-1, 9)), min_size=1, max_size=3),
        max_size=2,
    ),
)


@given(entries)
def test_decode_info_matches_decode_entry(e: Entry) -> None:
    buf = encode_entry(e)
    cache: dict[bytes, Info] = {}
    assert _fast(buf, cache) == _general(buf)
    assert _fast(buf, cache) == _general(buf)  # now from the cache, if it was cacheable


def _damaged(buf: bytes, data: st.DataObject) -> bytes:
    out = bytearray(buf)
    kind = data.draw(st.sampled_from(["none", "flip", "truncate", "append", "insert"]))
    if kind == "flip" and out:
        i = data.draw(st.integers(0, len(out) - 1))
        out[i] = data.draw(st.integers(0, 255))
    elif kind == "truncate":
        del out[data.draw(st.integers(0, len(out))) :]
    elif kind == "append":
        out += data.draw(st.binary(max_size=12))
    elif kind == "insert":
        i = data.draw(st.integers(0, len(out)))
        out[i:i] = data.draw(st.binary(min_size=1, max_size=6))
    return bytes(out)


@settings(max_examples=budget(300, 60))
@given(entries, st.data())
def test_decode_info_matches_on_damaged_entries(e: Entry, data: st.DataObject) -> None:
    buf = _damaged(encode_entry(e), data)
    # A warm cache must not change the answer either: prime it with the intact entry.
    cache: dict[bytes, Info] = {}
    _fast(encode_entry(e), cache)
    assert _fast(buf, cache) == _general(buf)


def test_decode_info_non_canonical_forms_take_the_general_path() -> None:
    f32 = field_varint(1, 1)
    shape_2_3 = field_bytes(
        2, field_bytes(2, field_varint(1, 2)) + field_bytes(2, field_varint(1, 3))
    )
    shape_5 = field_bytes(2, field_bytes(2, field_varint(1, 5)))
    cases = {
        # protobuf merges a repeated message field: the dims of both shapes, in order
        "repeated shape": f32 + shape_2_3 + field_varint(4, 8) + shape_5,
        "fields out of order": shape_2_3 + f32,
        "unknown field": f32 + shape_2_3 + field_varint(9, 1),
        "negative offset": f32 + shape_2_3 + field_varint(4, -8),
        "dtype missing": shape_2_3,
        "shape longer than 127 bytes": f32
        + field_bytes(2, field_bytes(2, field_varint(1, 1)) * 64),
    }
    cache: dict[bytes, Info] = {}
    expected_shapes = {
        "repeated shape": (2, 3, 5),
        "fields out of order": (2, 3),
        "unknown field": (2, 3),
        "negative offset": (2, 3),
        "dtype missing": (2, 3),
        "shape longer than 127 bytes": (1,) * 64,
    }
    for name, buf in cases.items():
        got = decode_info(buf, cache)
        assert got == _general(buf), name
        assert got[1] == expected_shapes[name], name
    assert cache == {}  # none of them was canonical


def test_decode_info_cache_is_shared_by_equal_heads_only() -> None:
    a = encode_entry(Entry(dtype=1, shape=(2, 3), offset=0, size=24, crc32c=7))
    b = encode_entry(Entry(dtype=1, shape=(2, 3), offset=24, size=24, crc32c=9))
    c = encode_entry(Entry(dtype=19, shape=(2, 3), offset=48, size=12, crc32c=9))
    cache: dict[bytes, Info] = {}
    infos = [decode_info(x, cache) for x in (a, b, c)]
    assert [(d.name, s) for d, s in infos] == [
        ("float32", (2, 3)),
        ("float32", (2, 3)),
        ("float16", (2, 3)),
    ]
    assert len(cache) == 2


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (Entry(dtype=1, shape=(2, -1)), "negative dimension"),
        (Entry(dtype=1, shape=(2**40, 2**40)), "overflows"),
    ],
)
def test_decode_info_validates_shapes(entry: Entry, message: str) -> None:
    with pytest.raises(CorruptCheckpointError, match=message):
        decode_info(encode_entry(entry), {})


@settings(max_examples=budget(300, 60))
@given(st.lists(entries, min_size=1, max_size=6), st.data())
def test_entry_columns_match_decode_entry(es: list[Entry], data: st.DataObject) -> None:
    """Every row the bulk decoder takes holds exactly what `decode_entry` finds; `decode_infos`
    gives `decode_info`'s answer for every entry (or raises where one of them does)."""
    bufs = [_damaged(encode_entry(e), data) for e in es]
    joined = b"".join(bufs) + bytes(data.draw(st.integers(0, 100)))
    ends = np.cumsum([len(b) for b in bufs])
    starts = ends - [len(b) for b in bufs]
    cols = decode_entry_columns(joined, starts, ends)
    for i, buf in enumerate(bufs):
        if cols.head[i] == -1:
            continue
        # The row's head (dtype and shape, the rest of its fields aside) says what the whole
        # entry says, or fails as it does.
        head = buf[: cols.head_end[i] - starts[i]]
        assert _fast(head, {}) == _general(buf)
        if cols.head[i] >= 0:
            assert cols.heads[cols.head[i]] == head
        e = decode_entry(buf) if not isinstance(_general(buf), type) else None
        if e is not None:
            got = (cols.shard_id[i], cols.offset[i], cols.size[i], cols.crc32c[i])
            assert got == (e.shard_id, e.offset, e.size, e.crc32c) and not e.slices
    expected = [_general(b) for b in bufs]
    cache: dict[bytes, Info] = {}
    if any(isinstance(x, type) for x in expected):
        with pytest.raises(CheckpointError):
            decode_infos(joined, starts, ends, cache)
    else:
        assert decode_infos(joined, starts, ends, cache)[0] == expected


def test_entry_columns_group_equal_heads_only() -> None:
    # (1,) * 8 has a head too long to group (taken one by one), (1,) * 20 an entry too long
    # for the bulk decoder (left to `decode_entry`).
    shapes = [(), (3,), (2, 3), (4, 1, 2), (1, 1, 1, 1), (300, 70000, 2, 9), (1,) * 8, (1,) * 20]
    es = [
        Entry(dtype=dt, shape=sh, offset=off, size=off % 7 + 1, crc32c=off * 977 % 2**32)
        for off, (dt, sh) in enumerate((dt, sh) for sh in shapes for dt in (1, 9, 14))
    ]
    es += es[::-1]
    bufs = [encode_entry(e) for e in es]
    ends = np.cumsum([len(b) for b in bufs])
    cols = decode_entry_columns(b"".join(bufs), ends - [len(b) for b in bufs], ends)
    assert ((cols.head == -1) == [len(b) > 64 for b in bufs]).all()
    assert ((cols.head == -2) == [e.shape == (1,) * 8 for e in es]).all()
    grouped = [cols.heads[h] if h >= 0 else None for h in cols.head.tolist()]
    for i, j in itertools.combinations(range(len(es)), 2):
        if grouped[i] is not None and grouped[j] is not None:
            same = (es[i].dtype, es[i].shape) == (es[j].dtype, es[j].shape)
            assert (grouped[i] == grouped[j]) == same
    taken = [len(b) <= 64 for b in bufs]
    assert cols.offset[taken].tolist() == [e.offset for e, t in zip(es, taken) if t]
    assert cols.size[taken].tolist() == [e.size for e, t in zip(es, taken) if t]
    assert cols.crc32c[taken].tolist() == [e.crc32c for e, t in zip(es, taken) if t]


def _write_index(prefix: Path, items: dict[bytes, bytes]) -> None:
    table = build_table([(b"", encode_header(Header())), *sorted(items.items())])
    prefix.with_name(prefix.name + ".index").write_bytes(table)
    prefix.with_name(prefix.name + ".data-00000-of-00001").write_bytes(b"")


def test_listing_matches_key_by_key_lookups(tmp_path: Path) -> None:
    prefix = tmp_path / "ckpt"
    with tfc.BundleWriter(prefix, fsync=False) as w:
        w.add("a/kernel", np.ones((3, 4), np.float32))
        w.add("a/bias", np.zeros(4, ml_dtypes.bfloat16))
        w.add("b/strings", np.array([b"x", b"yz"], dtype=object))
        w.add("c/scalar", np.int64(7))
        w.add_slice("d/part", (4, 2), "0,2:-", np.ones((2, 2), np.float64))
        w.add_slice("d/part", (4, 2), "2,2:-", np.zeros((2, 2), np.float64))
        for i in range(300):
            w.add(f"many/{i:03d}", np.full((i % 3, 2), i, np.int32))
    with tfc.load_checkpoint(prefix) as r:
        by_key = {k: (r.dtype_info(k), tuple(r.shape(k))) for k in r}
        shapes = r.get_variable_to_shape_map()
        dtypes = r.get_variable_to_dtype_map()
        assert r._backend.infos() == [(k, *by_key[k]) for k in r]
    assert shapes == {k: list(s) for k, (_, s) in by_key.items()}
    assert dtypes == {k: d for k, (d, _) in by_key.items()}
    assert shapes["d/part"] == [4, 2] and dtypes["a/bias"].name == "bfloat16"
    assert dtypes["b/strings"].name == "string" and shapes["c/scalar"] == []
    listing = tfc.list_variables(prefix)
    assert listing == sorted((k, list(s)) for k, (_, s) in by_key.items())


def test_listing_names_the_bad_entry(tmp_path: Path) -> None:
    prefix = tmp_path / "ckpt"
    good = encode_entry(Entry(dtype=1, shape=(2,), size=8))
    bad = encode_entry(Entry(dtype=1, shape=(2, -3), size=8))
    _write_index(prefix, {b"a": good, b"b": bad, b"c": good})
    with pytest.raises(CorruptCheckpointError, match="negative dimension") as info:
        tfc.list_variables(prefix)
    assert info.value.key == "b"
    assert str(prefix) in str(info.value)
    with tfc.load_checkpoint(prefix) as r:
        assert r.shape("a") == (2,)
        with pytest.raises(CorruptCheckpointError) as info2:
            r.get_variable_to_shape_map()
        assert info2.value.key == "b"


def test_gc_paused_restores_the_collector() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: leaves the outer pause alone
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError), gc_paused():
        raise KeyError("x")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off before: stays off
    finally:
        gc.enable()


def _fresh(code: str) -> str:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_keeps_heavy_modules_out() -> None:
    code = (
        "import sys, numpy\n"
        "base = set(sys.modules)  # older NumPy releases import json and secrets themselves\n"
        "import tfckpt_lite\n"
        "heavy = ['ml_dtypes', 'secrets', 'google.protobuf.descriptor', 'json',"
        " 'zipfile', 'uuid', 'importlib.metadata', 'tfckpt_lite._proto',"
        " 'tfckpt_lite._writer', 'tfckpt_lite._sharding', 'tfckpt_lite._state']\n"
        # crc32c >= 2.4 is a package whose __init__ is the cost; older ones are one module
        "import importlib.util as u\n"
        "if u.find_spec('crc32c').submodule_search_locations: heavy.append('crc32c')\n"
        "print(sorted(m for m in heavy if m in sys.modules and m not in base))\n"
        "from tfckpt_lite._coding import crc32c\n"
        "print(crc32c(b'123456789') == 0xE3069283)\n"
        "import crc32c as pkg\n"  # the package still imports and works afterwards
        "ext = getattr(pkg, '_crc32c', pkg)\n"
        "print(pkg.crc32c(b'123456789') == 0xE3069283, ext.crc32c(b'a') == crc32c(b'a'))"
    )
    assert _fresh(code).splitlines() == ["[]", "True", "True True"]


@pytest.mark.parametrize(
    "probe",
    [
        "dtype_from_enum(14).numpy_dtype == ml_dtypes.bfloat16",
        "dtype_from_enum(114).name == 'bfloat16_ref'",
        "dtype_from_name('float8_e4m3fn').enum == 25",
        "dtype_of_array(np.zeros(2, ml_dtypes.int4)).name == 'int4'",
    ],
)
def test_ml_dtypes_are_found_on_first_use(probe: str) -> None:
    code = (
        "import sys; from tfckpt_lite._dtypes import *\n"
        "assert 'ml_dtypes' not in sys.modules\n"
        f"import ml_dtypes, numpy as np\nprint({probe})"
    )
    assert _fresh(code) == "True"


def test_ml_dtype_tensor_reads_in_a_fresh_process(tmp_path: Path) -> None:
    value: Any = np.arange(6, dtype=np.float32).reshape(2, 3).astype(ml_dtypes.bfloat16)
    tfc.save(tmp_path / "ckpt", {"w": value}, fsync=False)
    code = (
        "import tfckpt_lite\n"
        f"v = tfckpt_lite.load_variable({str(tmp_path / 'ckpt')!r}, 'w')\n"
        "print(v.dtype, v.astype('float32').tolist())"
    )
    assert _fresh(code) == "bfloat16 [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]"


def test_writeback_hints_leave_the_bytes_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tfckpt_lite._writer as writer

    rng = np.random.default_rng(5)
    # Small tensors (gathered in the write buffer) between big ones (written past it), so the
    # order of buffered and direct writes matters.
    tensors: dict[str, Any] = {}
    for i in range(40):
        n = int(rng.integers(1, 40)) if i % 3 else int(rng.integers(70_000, 300_000))
        tensors[f"t{i:02d}"] = rng.random(n, dtype=np.float32)
    tensors["s"] = np.array([b"abc", b""], dtype=object)
    advised: list[tuple[int, int]] = []
    real_advise = writer._ADVISE

    def record(fd: int, offset: int, length: int, advice: int) -> None:
        advised.append((offset, length))
        if real_advise is not None:
            real_advise(fd, offset, length, advice)

    monkeypatch.setattr(writer, "_ADVISE", record)
    monkeypatch.setattr(writer, "_WRITEBACK_CHUNK", 1 << 20)
    monkeypatch.setattr(writer, "_DROP_BEHIND", 2 << 20)
    tfc.save(tmp_path / "synced", tensors, fsync=True)
    tfc.save(tmp_path / "plain", tensors, fsync=False)
    for suffix in (".index", ".data-00000-of-00001"):
        synced = (tmp_path / ("synced" + suffix)).read_bytes()
        assert synced == (tmp_path / ("plain" + suffix)).read_bytes()
    # Writeback is started on the whole data file but its last chunk, from the start and
    # without gaps; dropping follows 2 MiB behind (calls alternate: start, drop, start...).
    starts = [advised[0]]
    drops: list[tuple[int, int]] = []
    for call in advised[1:]:
        (drops if call[0] < starts[-1][0] + starts[-1][1] else starts).append(call)
    assert starts[0][0] == 0 and len(starts) >= 5
    assert all(a + n == b for (a, n), (b, _) in itertools.pairwise(starts))
    assert len(synced) - (1 << 20) <= starts[-1][0] + starts[-1][1] <= len(synced)
    assert drops and drops[0][0] == 0
    assert all(a + n == b for (a, n), (b, _) in itertools.pairwise(drops))
    assert drops[-1][0] + drops[-1][1] <= starts[-1][0] - (2 << 20)
    got = tfc.load(tmp_path / "synced")
    assert all(np.array_equal(got[k], v) for k, v in tensors.items())


def test_reading_a_local_tensor_imports_nothing_more(tmp_path: Path) -> None:
    tfc.save(tmp_path / "ckpt", {"w": np.arange(3, dtype=np.float32)}, fsync=False)
    code = (
        "import sys, tfckpt_lite\n"
        "before = set(sys.modules)\n"
        f"v = tfckpt_lite.load_variable({str(tmp_path / 'ckpt')!r}, 'w')\n"
        "print(v.tolist(), sorted(set(sys.modules) - before))"
    )
    assert _fresh(code) == "[0.0, 1.0, 2.0] []"


def test_lazy_public_names_resolve_and_load_on_first_use() -> None:
    code = (
        "import sys, tfckpt_lite as t\n"
        "late = ('tfckpt_lite._checkpoint', 'tfckpt_lite._convert', 'tfckpt_lite._graph',"
        " 'tfckpt_lite._manager', 'tfckpt_lite._torch')\n"
        "print(sorted(m for m in late if m in sys.modules))\n"
        "from tfckpt_lite import ObjectGraph\n"
        "print(ObjectGraph is sys.modules['tfckpt_lite._graph'].ObjectGraph)\n"
        "print(all(getattr(t, n) is not None for n in t.__all__), set(t.__all__) <= set(dir(t)),"
        " {n for n in dir(t) if n[0] != '_'} <= set(t.__all__))\n"
        "print(sorted(m for m in late if m in sys.modules) == sorted(late))\n"
        "try:\n    t.no_such_name\nexcept AttributeError as e:\n    print(e)"
    )
    assert _fresh(code).splitlines() == [
        "[]",
        "True",
        "True True True",
        "True",
        "module 'tfckpt_lite' has no attribute 'no_such_name'",
    ]


def test_lazy_exports_are_the_names_type_checkers_see() -> None:
    """`_LAZY` (what loads on first use) and the TYPE_CHECKING imports (what type checkers
    see) name the same exports from the same modules, and all of them are in `__all__`."""
    import ast

    tree = ast.parse(Path(tfc.__file__).read_text())
    block = next(
        n
        for n in tree.body
        if isinstance(n, ast.If) and ast.unparse(n.test) == "_typing.TYPE_CHECKING"
    )
    seen = {
        ((imp.module or "").lstrip("."), a.name)
        for imp in block.body
        if isinstance(imp, ast.ImportFrom)
        for a in imp.names
    }
    lazy = {(m, n) for m, names in tfc._LAZY.items() for n in names}
    assert seen == lazy
    assert {n for _, n in lazy} <= set(tfc.__all__)
    assert len(tfc.__all__) == len(set(tfc.__all__))


@pytest.mark.parametrize(
    "name",
    ["tfckpt_lite.errors", "tfckpt_lite.torch", "tfckpt_lite.train", "tfckpt_lite.transformers"],
)
def test_public_namespaces_list_only_their_api(name: str) -> None:
    """What `dir()` and tab completion show of a public module is its `__all__`, not the
    modules and helpers it imports."""
    import importlib

    module = importlib.import_module(name)
    assert {n for n in dir(module) if not n.startswith("_")} == set(module.__all__)


# -- load(): small tensors read in bulk (`BundleReader.read_many`) ----------------------------


def _mixed_values() -> dict[str, Any]:
    rng = np.random.default_rng(5)
    vals: dict[str, Any] = {
        "a/str": np.array([b"ab", b""], object),  # odd length: what follows is misaligned
        "a/f64": rng.standard_normal((3, 2)),
        "b/big": rng.standard_normal(300_000).astype(np.float32),  # past the bulk limit
        "b/bf16": rng.standard_normal((4, 4)).astype(ml_dtypes.bfloat16),
        "b/bool": np.array([True, False, True]),
        "b/c64": (rng.standard_normal(3) + 1j).astype(np.complex64),
        "b/empty": np.zeros((0, 3), np.float32),
        "c/scalar": np.array(2.5, np.float64),
        "c/u8": np.array([7], np.uint8),
    }
    for i in range(200):
        vals[f"many/{i:03d}"] = np.full((i % 4, 2), i, np.int64 if i % 3 else np.float16)
    return vals


def test_load_in_bulk_matches_key_by_key_reads(tmp_path: Path) -> None:
    prefix = tmp_path / "ckpt"
    vals = _mixed_values()
    with tfc.BundleWriter(prefix, fsync=False) as w:
        for k, v in vals.items():
            w.add(k, v)
        w.add_slice("d/part", (4, 2), "0,2:-", np.ones((2, 2), np.float32))
        w.add_slice("d/part", (4, 2), "2,2:-", np.zeros((2, 2), np.float32))
    got = tfc.load(prefix)
    with tfc.load_checkpoint(prefix) as r:
        assert list(got) == list(r)
        for k in r:
            one = r[k]
            assert got[k].dtype == one.dtype and got[k].shape == one.shape, k
            np.testing.assert_array_equal(got[k], one)
    for k, v in vals.items():
        np.testing.assert_array_equal(got[k], v)
    # Each array is its own: writable, aligned, and writing it changes no other.
    arrays = [a for a in got.values() if a.dtype != object and a.size]
    for a in arrays:
        assert a.flags.writeable and a.flags.aligned
        a[...] = 0 if a.dtype != bool else False
    fresh = tfc.load(prefix)
    for a, b in itertools.combinations(arrays, 2):
        assert not np.shares_memory(a, b)
    for k, v in vals.items():
        np.testing.assert_array_equal(fresh[k], v)


def test_load_in_bulk_names_the_damaged_tensor(tmp_path: Path) -> None:
    prefix = tmp_path / "ckpt"
    with tfc.BundleWriter(prefix, fsync=False) as w:
        for i in range(50):
            w.add(f"t{i:02d}", np.full(3, i, np.float32))
    data = tmp_path / "ckpt.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[17 * 12 + 5] ^= 0x40  # a byte of t17
    data.write_bytes(raw)
    with pytest.raises(ChecksumMismatchError) as info:
        tfc.load(prefix)
    assert info.value.key == "t17" and str(data) in str(info.value)


def test_load_in_bulk_never_shares_bytes_between_entries(tmp_path: Path) -> None:
    # Two keys whose entries point at the same bytes (a hand-made index: legal to read):
    # each array still owns its memory.
    prefix = tmp_path / "ckpt"
    value = np.arange(6, dtype=np.float32)
    crc = mask_crc(crc32c(value.tobytes()))
    e = encode_entry(Entry(dtype=1, shape=(2, 3), offset=0, size=24, crc32c=crc))
    half = encode_entry(
        Entry(dtype=1, shape=(3,), offset=12, size=12, crc32c=mask_crc(crc32c(value[3:].tobytes())))
    )
    _write_index(prefix, {b"a": e, b"b": e, b"c": half})
    (tmp_path / "ckpt.data-00000-of-00001").write_bytes(value.tobytes())
    got = tfc.load(prefix)
    np.testing.assert_array_equal(got["a"], value.reshape(2, 3))
    np.testing.assert_array_equal(got["c"], value[3:])
    assert not np.shares_memory(got["a"], got["b"])
    assert not np.shares_memory(got["a"], got["c"]) and not np.shares_memory(got["b"], got["c"])
