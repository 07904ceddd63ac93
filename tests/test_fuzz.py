"""Fuzzing the byte-level decoders with hypothesis: any input, only `CheckpointError`s.

Each decoder gets both raw random bytes and structured near-misses (valid encodings with
bytes flipped, cut or spliced), since random bytes rarely get past the first check. The
property: the decoder returns, or raises a `CheckpointError` subclass; never IndexError,
struct.error, OverflowError, MemoryError, UnicodeDecodeError, numpy's ValueError, a hang.
Where a decoder has an encoder, a successful decode must also round-trip.

Bounded: 25 examples per target in the quick default run, 150 under TFCKPT_DEEP=1 (CI),
or TFCKPT_FUZZ_EXAMPLES. To fuzz longer:
    TFCKPT_FUZZ_EXAMPLES=20000 HYPOTHESIS_PROFILE=dev pytest tests/test_fuzz.py
(`dev` draws fresh random seeds; the default profile is derandomized). The atheris harnesses in
`fuzz/` run the same targets coverage-guided (see fuzz/README.md).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tfckpt_lite as tfc
from tfckpt_lite import CheckpointError
from tfckpt_lite._block import BlockBuilder, decode_block
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
from tfckpt_lite._coding import decode_varint, encode_varint
from tfckpt_lite._ordered_code import decode_slice_key, encode_slice_key
from tfckpt_lite._snappy import snappy_decompress
from tfckpt_lite._state import parse_state
from tfckpt_lite._table import build_table, read_table
from tfckpt_lite._tensor_codec import decode_strings, decode_variants, encode_strings

from .conftest import budget

EXAMPLES = budget(150, 25, "TFCKPT_FUZZ_EXAMPLES")
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

T = TypeVar("T")


def only_checkpoint_errors(fn: Callable[[], T]) -> T | None:
    try:
        return fn()
    except CheckpointError as e:
        assert str(e)  # a message, always
        return None


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[bytes]) -> bytes:
    """A valid encoding with a few bit flips, byte overwrites, a cut or an insertion."""
    data = bytearray(draw(valid))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "byte", "cut", "insert", "extreme"]))
        if not data and op != "insert":
            continue
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte":
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=12))
        else:  # the values that break arithmetic: varint continuation runs, all-ones
            data[i : i + 1] = draw(st.sampled_from([b"\xff" * 11, b"\x80" * 10 + b"\x01", b"\0"]))
    return bytes(data)


keys = st.binary(min_size=1, max_size=24)
values = st.binary(max_size=40)


@st.composite
def tables(draw: st.DrawFn) -> bytes:
    items = sorted(draw(st.dictionaries(keys, values, max_size=40)).items())
    return build_table(items, block_size=draw(st.sampled_from([64, 256, 4096])))


@st.composite
def blocks(draw: st.DrawFn) -> bytes:
    b = BlockBuilder(draw(st.integers(1, 16)))
    for k, v in sorted(draw(st.dictionaries(keys, values, max_size=30)).items()):
        b.add(k, v)
    return b.finish()


dims = st.integers(-(2**63), 2**63 - 1) | st.integers(0, 8)
extents = st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(-1, 2**62))


@st.composite
def entries(draw: st.DrawFn) -> bytes:
    e = Entry(
        dtype=draw(st.integers(0, 2**31 - 1) | st.sampled_from([1, 7, 21])),
        shape=tuple(draw(st.lists(dims, max_size=6))),
        shard_id=draw(st.integers(-(2**31), 2**31 - 1)),
        offset=draw(st.integers(0, 2**63 - 1)),
        size=draw(st.integers(0, 2**63 - 1)),
        crc32c=draw(st.integers(0, 2**32 - 1)),
        slices=draw(st.lists(st.lists(extents, max_size=4), max_size=3)),
    )
    return encode_entry(e)


@st.composite
def headers(draw: st.DrawFn) -> bytes:
    return encode_header(
        Header(
            num_shards=draw(st.integers(0, 2**31 - 1)),
            big_endian=draw(st.booleans()),
            producer=draw(st.integers(0, 2**31 - 1)),
            min_consumer=draw(st.integers(0, 3)),
            bad_consumers=draw(st.lists(st.integers(0, 2**31 - 1), max_size=3)),
        )
    )


@st.composite
def string_payloads(draw: st.DrawFn) -> tuple[bytes, int, list[bytes]]:
    strs = draw(st.lists(st.binary(max_size=300), max_size=20))
    payload, crc = encode_strings(strs)
    return payload, crc, strs


@st.composite
def slice_keys(draw: st.DrawFn) -> bytes:
    ext = draw(st.lists(extents, min_size=1, max_size=5))
    return encode_slice_key(draw(st.binary(max_size=20)), ext)


@st.composite
def snappy_streams(draw: st.DrawFn) -> bytes:
    """Hand-assembled Snappy: literals and copies, some valid, some lying."""
    out = bytearray()
    n = 0
    for _ in range(draw(st.integers(0, 12))):
        if n == 0 or draw(st.booleans()):
            lit = draw(st.binary(min_size=1, max_size=70))
            if len(lit) <= 60:
                out.append((len(lit) - 1) << 2)
            else:
                out += bytes((60 << 2, len(lit) - 1))
            out += lit
            n += len(lit)
        else:
            length = draw(st.integers(1, 64))
            offset = draw(st.integers(1, max(1, n)))
            out.append(((length - 1) << 2) | 2)
            out += offset.to_bytes(2, "little")
            n += length
    declared = n if draw(st.booleans()) else draw(st.integers(0, 2**40))
    pre = bytearray()
    v = declared
    while v >= 0x80:
        pre.append((v & 0x7F) | 0x80)
        v >>= 7
    pre.append(v)
    return bytes(pre + out)


@st.composite
def state_files(draw: st.DrawFn) -> bytes:
    names = st.sampled_from(
        [
            "model_checkpoint_path",
            "all_model_checkpoint_paths",
            "all_model_checkpoint_timestamps",
            "last_preserved_timestamp",
            "bogus_field",
        ]
    )
    vals = st.sampled_from(
        [
            '"ckpt-1"',
            '"C:\\\\x\\\\y"',
            "1.5",
            "nan",
            "-inf",
            "'q\\x41'",
            '"\\377\\n"',
            '"',
            "1e999",
            "--",
            '"\\u1234"',
        ]
    )
    lines = draw(st.lists(st.tuples(names, vals), max_size=8))
    return "\n".join(f"{n}: {v}" for n, v in lines).encode()


# -- properties -------------------------------------------------------------------------


@fuzz
@given(st.binary(max_size=300) | mutated(tables()))
def test_read_table(data: bytes) -> None:
    items = only_checkpoint_errors(lambda: read_table(data))
    if items is not None:
        got = [k for k, _ in items]
        assert got == sorted(set(got))


@fuzz
@given(st.binary(max_size=200) | mutated(blocks()))
def test_decode_block(data: bytes) -> None:
    only_checkpoint_errors(lambda: decode_block(data))


@fuzz
@given(st.binary(max_size=120) | mutated(entries()))
def test_decode_entry(data: bytes) -> None:
    e = only_checkpoint_errors(lambda: decode_entry(data))
    if e is not None:
        n = only_checkpoint_errors(lambda: check_shape(e.shape, e.unknown_rank))
        assert n is None or 0 <= n < 2**63
        e.dtype_info  # noqa: B018 - any enum has a DType, unknown ones a placeholder


@fuzz
@given(st.binary(max_size=60) | mutated(headers()))
def test_decode_header(data: bytes) -> None:
    h = only_checkpoint_errors(lambda: decode_header(data))
    if h is not None:
        only_checkpoint_errors(lambda: check_header(h))


@fuzz
@given(string_payloads(), st.data())
def test_decode_strings(case: tuple[bytes, int, list[bytes]], data: st.DataObject) -> None:
    payload, crc, strs = case
    n = len(strs)
    bad = data.draw(mutated(st.just(payload)))
    count = data.draw(st.sampled_from([n, n + 1, max(0, n - 1), 0, 2**40, 10**12]))
    verify = data.draw(st.booleans())
    out = only_checkpoint_errors(lambda: decode_strings(bad, count, crc, verify=verify))
    if bad == payload and count == n:
        assert out is not None and out.tolist() == strs
    if out is not None and verify:
        # Checksums on: what decodes is what was written (the few damaged payloads CRC32C
        # cannot tell apart need >= 4 changed bytes and a 2^-32 chance).
        assert out.tolist() == strs


@fuzz
@given(st.binary(max_size=200), st.integers(0, 2**20) | st.sampled_from([2**40, 2**62]))
def test_decode_variants(data: bytes, n: int) -> None:
    only_checkpoint_errors(lambda: decode_variants(data, n, 0, verify=False))
    only_checkpoint_errors(lambda: decode_variants(data, n, 0, verify=True))


@fuzz
@given(st.binary(max_size=80) | mutated(slice_keys()))
def test_decode_slice_key(data: bytes) -> None:
    got = only_checkpoint_errors(lambda: decode_slice_key(data))
    if got is not None:
        name, ext = got
        assert encode_slice_key(name, ext) == data  # canonical: one encoding per key


@fuzz
@given(st.binary(max_size=200) | snappy_streams() | mutated(snappy_streams()))
def test_snappy_decompress(data: bytes) -> None:
    out = only_checkpoint_errors(lambda: snappy_decompress(data))
    if out is not None:
        declared, _ = decode_varint(data, 0, len(data))
        assert len(out) == declared


@fuzz
@given(st.binary(max_size=300) | state_files() | mutated(state_files()))
def test_parse_state(data: bytes) -> None:
    st_ = only_checkpoint_errors(lambda: parse_state(data))
    if st_ is not None:
        assert isinstance(st_.model_checkpoint_path, str)


@st.composite
def object_graphs(draw: st.DrawFn) -> bytes:
    """Valid-looking TrackableObjectGraphs: random edges (cycles, sharing), attributes, slots."""
    pb: Any = pytest.importorskip("tfckpt_lite._proto.trackable_object_graph_pb2")
    n = draw(st.integers(1, 12))
    g = pb.TrackableObjectGraph()
    node_ids = st.integers(0, n - 1) | st.integers(-3, n + 3)
    for _ in range(n):
        node = g.nodes.add()
        for name in draw(st.lists(st.sampled_from(["a", "b", "a.b", "x/y", ""]), max_size=3)):
            ref = node.children.add()
            ref.node_id = draw(node_ids)
            ref.local_name = name
        if draw(st.booleans()):
            attr = node.attributes.add()
            attr.name = "VARIABLE_VALUE"
            attr.checkpoint_key = draw(st.sampled_from(["k", "a/.ATTRIBUTES/VARIABLE_VALUE"]))
        if draw(st.integers(0, 4)) == 0:
            slot = node.slot_variables.add()
            slot.original_variable_node_id = draw(node_ids)
            slot.slot_variable_node_id = draw(node_ids)
            slot.slot_name = "m"
    data: bytes = g.SerializeToString()
    return data


@fuzz
@given(st.binary(max_size=300) | object_graphs() | mutated(object_graphs()))
def test_object_graph(data: bytes) -> None:
    graph: Any = pytest.importorskip("tfckpt_lite._graph")
    g = only_checkpoint_errors(lambda: graph.ObjectGraph.from_bytes(data, "/fuzz"))
    if g is not None:  # every query on a graph that parsed stays within the promise
        only_checkpoint_errors(g.canonical_paths)
        for key in g.checkpoint_keys():
            only_checkpoint_errors(partial(g.paths, key))
        for i in range(len(g)):
            only_checkpoint_errors(partial(g.path_of, i))


def test_fuzz_catches_a_leak() -> None:
    """The harness is not vacuous: a decoder leaking IndexError fails it."""

    def leaky() -> None:
        np.zeros(2)[5]

    with pytest.raises(IndexError):
        only_checkpoint_errors(leaky)


@pytest.mark.parametrize(
    ("key", "match"),
    [
        # a 10-byte signed number beyond int64 used to escape as IndexError
        (b"\x00\x00\x01\x01\x01" + b"\x00" * 10, "64 bits"),
        # a length of -64 used to be read as -1 (the whole dimension)
        (b"\x00\x00\x01\x01\x01\x20\x00\x40", "negative length"),
    ],
)
def test_decode_slice_key_regressions(key: bytes, match: str) -> None:
    with pytest.raises(CheckpointError, match=match):
        decode_slice_key(key)


@st.composite
def safetensors_headers(draw: st.DrawFn) -> tuple[bytes, int]:
    """Near-valid safetensors headers: JSON with odd dtypes, shapes and offsets."""
    import json

    entries: dict[str, Any] = {}
    pos = 0
    for i in range(draw(st.integers(0, 4))):
        shape = draw(st.lists(st.integers(-2, 5) | st.just(2**62), max_size=3))
        n = 1
        for d in shape:
            n *= max(d, 0)
        size = n * 4 + draw(st.sampled_from([0, 0, 0, 1, -4]))
        end = pos + size if draw(st.booleans()) else draw(st.integers(-5, 2**64))
        entries[f"t{i}"] = {
            "dtype": draw(st.sampled_from(["F32", "F32", "I64", "BOOL", "F8_E4M3", "X", 3])),
            "shape": shape,
            "data_offsets": [pos, end],
        }
        pos = max(pos, end) if isinstance(end, int) else pos
    if draw(st.booleans()):
        entries["__metadata__"] = draw(st.sampled_from([{"a": "b"}, {"a": 1}, "x", []]))
    text = json.dumps(entries).encode()
    head = len(text).to_bytes(8, "little") + text
    return head, len(head) + draw(st.integers(0, 64))


@fuzz
@given(safetensors_headers() | st.tuples(st.binary(max_size=120), st.integers(0, 2**40)))
def test_read_safetensors_header(case: tuple[bytes, int]) -> None:
    convert: Any = pytest.importorskip("tfckpt_lite._convert")
    head, file_size = case
    only_checkpoint_errors(lambda: convert.read_safetensors_header(head, file_size, "/f"))


# -- whole checkpoints: damaged entries behind valid block checksums ---------------------------


@pytest.fixture(scope="module")
def fuzz_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[bytes, bytes]]]:
    d = tmp_path_factory.mktemp("fuzz")
    with tfc.BundleWriter(d / "c") as w:
        w.add("f", np.arange(6, dtype=np.float32).reshape(2, 3))
        w.add("s", [b"ab", b"", b"xyz"])
        w.add("scalar", np.int64(-5))
        w.add("e", np.zeros((0, 3), np.int8))
        w.add_slice("p", (4, 2), "0,2:-", np.ones((2, 2), np.float64))
        w.add_slice("p", (4, 2), "2,2:-", np.zeros((2, 2), np.float64))
        w.add_slice("ps", (3,), "0,1", [b"x"])
        w.add_slice("ps", (3,), "1,2", [b"y", b"z\x00"])
    return d / "c", read_table(Path(str(d / "c") + ".index").read_bytes())


_USER_ACTIONS: list[Callable[[tfc.CheckpointReader, str], object]] = [
    lambda r, k: r[k],
    lambda r, k: r.get_tensor(k, verify=False),
    lambda r, k: (r.shape(k), r.dtype(k)),
    lambda r, k: r.get_slice(k)[0:1] if r.shape(k) and r.shape(k)[0] else None,
    lambda r, k: r.get_slice(k)[::-1] if r.shape(k) else None,
    lambda r, k: r.verify(),
]


def _attempt(action: Callable[[tfc.CheckpointReader, str], object], r: Any, k: str) -> None:
    try:
        action(r, k)
    except tfc.CheckpointError:
        pass


def _exercise(prefix: Path) -> None:
    """Do everything a user might do; only CheckpointError may come out."""
    try:
        r = tfc.load_checkpoint(prefix)
    except tfc.CheckpointError:
        return
    with r:
        for k in list(r):
            for action in _USER_ACTIONS:
                _attempt(action, r, k)


@fuzz
@given(st.data())
def test_damaged_entries_raise_only_checkpoint_errors(
    fuzz_source: tuple[Path, list[tuple[bytes, bytes]]], data: st.DataObject
) -> None:
    import tempfile

    src, items = fuzz_source
    items = list(items)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(items) - 1))
        k, v = items[i]
        kind = data.draw(st.sampled_from(["byte", "cut", "insert", "key", "varint"]))
        if kind == "byte" and v:
            j = data.draw(st.integers(0, len(v) - 1))
            v = v[:j] + bytes([data.draw(st.integers(0, 255))]) + v[j + 1 :]
        elif kind == "cut":
            v = v[: data.draw(st.integers(0, len(v)))]
        elif kind == "insert":
            j = data.draw(st.integers(0, len(v)))
            v = v[:j] + data.draw(st.binary(min_size=1, max_size=4)) + v[j:]
        elif kind == "varint":
            field = data.draw(st.sampled_from([1, 3, 4, 5]))
            v = v + bytes([field << 3]) + encode_varint(data.draw(st.integers(0, 2**64 - 1)))
        elif kind == "key" and k:
            k = k + data.draw(st.binary(min_size=1, max_size=3))
        items[i] = (k, v)
    dedup = dict(items)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "c"
        for suffix in (".data-00000-of-00001",):
            shutil.copy(str(src) + suffix, str(p) + suffix)
        Path(str(p) + ".index").write_bytes(build_table(sorted(dedup.items())))
        _exercise(p)
