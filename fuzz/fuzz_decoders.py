"""Coverage-guided fuzzing of tfckpt-lite's decoders with atheris (libFuzzer for Python).

    PYTHONPATH=src python fuzz/fuzz_decoders.py TARGET [libFuzzer options] [CORPUS_DIR ...]

TARGET is one of: table, block, entry, header, strings, variants, slice_key, snappy, state,
graph, bundle. Any exception other than `tfckpt_lite.CheckpointError` is a crash, which
libFuzzer reports with the input that caused it (saved as crash-<sha1>). See fuzz/README.md.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import tfckpt_lite
    from tfckpt_lite._block import decode_block
    from tfckpt_lite._bundle import check_header, check_shape, decode_entry, decode_header
    from tfckpt_lite._coding import decode_varint
    from tfckpt_lite._ordered_code import decode_slice_key
    from tfckpt_lite._snappy import snappy_decompress
    from tfckpt_lite._state import parse_state
    from tfckpt_lite._table import build_table, read_table
    from tfckpt_lite._tensor_codec import decode_strings, decode_variants

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _robust_util import MemFS, read_all  # type: ignore[import-not-found]


def _entry(data: bytes) -> None:
    e = decode_entry(data)
    check_shape(e.shape, e.unknown_rank)


def _header(data: bytes) -> None:
    check_header(decode_header(data))


def _strings(data: bytes) -> None:
    # First 4 bytes: element count and a verify flag; the rest is the payload.
    if len(data) < 4:
        return
    n = int.from_bytes(data[:3], "little")
    decode_strings(data[4:], n, 0, verify=bool(data[3] & 1))


def _variants(data: bytes) -> None:
    if len(data) < 3:
        return
    decode_variants(data[3:], int.from_bytes(data[:3], "little"), 0, verify=False)


def _graph(data: bytes) -> None:
    from tfckpt_lite._graph import ObjectGraph  # type: ignore[import-not-found]

    g = ObjectGraph.from_bytes(data, "/fuzz")
    g.canonical_paths()
    for key in g.checkpoint_keys()[:20]:
        g.paths(key, limit=50)
    for i in range(min(len(g), 50)):
        g.path_of(i)


def _read_all_in_memory(files: dict[str, bytes]) -> None:
    out = read_all("/f/c", MemFS(files))
    for err in out.errors():
        if not isinstance(err, tfckpt_lite.CheckpointError):
            raise err


def _bundle(data: bytes) -> None:
    """The whole read path over an in-memory checkpoint: the input is the .index file and
    the data shard is a fixed 64-byte pattern."""
    _read_all_in_memory({"/f/c.index": data, "/f/c.data-00000-of-00001": bytes(range(64))})


def _bundle_items(data: bytes) -> None:
    """The whole read path past the checksums: the input is a data shard (2-byte length,
    then its bytes) and then varint-length-prefixed (key, value) pairs, which we build
    into a valid table, so the fuzzer explores entries, shapes, slices and shards rather
    than CRC failures."""
    if len(data) < 2:
        return
    n = int.from_bytes(data[:2], "little")
    shard, rest = data[2 : 2 + n], data[2 + n :]
    items: dict[bytes, bytes] = {}
    pos = 0
    try:
        while pos < len(rest):
            klen, pos = decode_varint(rest, pos, len(rest))
            key = rest[pos : pos + klen]
            pos += klen
            vlen, pos = decode_varint(rest, pos, len(rest))
            items[key] = rest[pos : pos + vlen]
            pos += vlen
    except tfckpt_lite.CheckpointError:
        pass
    index = build_table(sorted(items.items()), block_size=256)
    _read_all_in_memory({"/f/c.index": index, "/f/c.data-00000-of-00001": shard})


TARGETS: dict[str, Callable[[bytes], object]] = {
    "table": read_table,
    "block": decode_block,
    "entry": _entry,
    "header": _header,
    "strings": _strings,
    "variants": _variants,
    "slice_key": decode_slice_key,
    "snappy": snappy_decompress,
    "state": parse_state,
    "graph": _graph,
    "bundle": _bundle,
    "bundle_items": _bundle_items,
}


def seeds(name: str) -> list[bytes]:
    """Valid inputs to start from: libFuzzer cannot guess an 8-byte magic or a CRC."""
    import numpy as np

    from tfckpt_lite._coding import encode_varint
    from tfckpt_lite._ordered_code import encode_slice_key
    from tfckpt_lite._tensor_codec import encode_strings

    indexes = [p.read_bytes() for p in sorted(Path("testdata").rglob("*.index"))]
    with tempfile.TemporaryDirectory() as tmp:
        with tfckpt_lite.BundleWriter(Path(tmp) / "c", fsync=False) as w:
            w.add("w", np.ones((2, 3), np.float32))
            w.add("s", np.array([b"ab", b"c" * 130], object))
            w.add_slice("p", (4,), "0,2", np.zeros(2, np.int64))
            w.add_slice("p", (4,), "2,2", np.ones(2, np.int64))
        indexes.append((Path(tmp) / "c.index").read_bytes())
    items = [kv for idx in indexes for kv in read_table(idx)]
    payloads = [encode_strings(v)[0] for v in ([b"a"], [b"ab", b""], [b"x" * 300, b"y"])]
    by_target: dict[str, list[bytes]] = {
        "table": indexes,
        "bundle": indexes,
        "bundle_items": [_items_seed(i) for i in indexes],
        "block": [read_table_blocks(i) for i in indexes],
        "entry": [v for k, v in items if k],
        "header": [v for k, v in items if not k],
        "strings": [
            len(v).to_bytes(3, "little") + b"\x01" + p
            for v, p in zip(([1], [1, 2], [1, 2]), payloads)
        ],
        "variants": [b"\x01\x00\x00" + encode_varint(2) + b"\x08\x01" + b"\0" * 4],
        "slice_key": [k for k, _ in items if k[:1] == b"\x00"]
        + [encode_slice_key(b"emb", [(0, 2), (0, -1)])],
        "snappy": [b"\x05\x10hello", b"\x0a\x00a\x15\x01"],
        "state": [
            b'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-1"\n'
            b"all_model_checkpoint_timestamps: 1.5\n"
        ],
        "graph": _graph_seeds(),
    }
    return by_target[name]


def _graph_seeds() -> list[bytes]:
    out = []
    for idx in sorted(Path("testdata").rglob("*.index")):
        with tfckpt_lite.load_checkpoint(idx) as r:
            if "_CHECKPOINTABLE_OBJECT_GRAPH" in r:
                out.append(bytes(r["_CHECKPOINTABLE_OBJECT_GRAPH"].reshape(-1)[0]))
    return out


def _items_seed(index: bytes) -> bytes:
    from tfckpt_lite._coding import encode_varint

    out = (64).to_bytes(2, "little") + bytes(range(64))
    for k, v in read_table(index):
        out += encode_varint(len(k)) + k + encode_varint(len(v)) + v
    return out


def read_table_blocks(index: bytes) -> bytes:
    """The first data block of a table (its handle is the index block's first value)."""
    from tfckpt_lite._coding import decode_varint

    n = len(index)
    _, pos = decode_varint(index, n - 48, n)
    _, pos = decode_varint(index, pos, n)
    off, pos = decode_varint(index, pos, n)
    size, _ = decode_varint(index, pos, n)
    first = decode_block(index[off : off + size])[0][1]
    d_off, p = decode_varint(first, 0, len(first))
    d_size, _ = decode_varint(first, p, len(first))
    return index[d_off : d_off + d_size]


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer args] [CORPUS]")
    name = sys.argv[1]
    target = TARGETS[name]
    for arg in sys.argv[2:]:
        corpus = Path(arg)
        if not arg.startswith("-") and not corpus.exists():
            corpus.mkdir(parents=True)  # a new corpus directory starts from valid seeds
            for i, seed in enumerate(seeds(name)):
                (corpus / f"seed{i}").write_bytes(seed)

    def one_input(data: bytes) -> None:
        try:
            target(data)
        except tfckpt_lite.CheckpointError:
            pass

    atheris.Setup([sys.argv[0], *sys.argv[2:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
