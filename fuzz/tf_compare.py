"""What TensorFlow does on the damaged checkpoints our tests feed to tfckpt-lite.

    PYTHONPATH=src python fuzz/tf_compare.py --tf-python /work/tfvenv/bin/python [--out FILE]

Builds each damaged checkpoint in a temp directory, then reads it twice: with TensorFlow in
a subprocess (it may abort the whole process; that is recorded, with the signal) and with
tfckpt-lite in this process. Prints a Markdown table for docs/robustness.md.
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import tfckpt_lite
from tfckpt_lite._bundle import Entry, Header, encode_entry, encode_header
from tfckpt_lite._coding import crc32c, encode_varint, mask_crc
from tfckpt_lite._table import build_table, read_table
from tfckpt_lite._wire import field_bytes, field_varint

ONES = np.ones((2, 3), np.float32)
RAW = ONES.tobytes()

TF_SCRIPT = r"""
import sys, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import tensorflow as tf
path = sys.argv[1]
try:
    r = tf.train.load_checkpoint(path)
    m = r.get_variable_to_shape_map()
    print("OPEN-OK", sorted(m.items()), flush=True)
    for k in sorted(m):
        v = r.get_tensor(k)
        print("GET-OK", k, getattr(v, "shape", None), repr(v)[:60].replace("\n", " "), flush=True)
except Exception as e:
    print("RAISED", type(e).__name__, str(e).splitlines()[0][:160] if str(e) else "", flush=True)
if "object graph" in sys.argv[2]:
    try:
        ckpt = tf.train.Checkpoint(a=tf.Variable(1.0))
        ckpt.read(path).expect_partial()
        print("GET-OK restore a =", float(ckpt.a.numpy()), flush=True)
    except Exception as e:
        msg = str(e).splitlines()[0][:160] if str(e) else ""
        print("RAISED", type(e).__name__, msg, flush=True)
"""


def entry(values: np.ndarray, **kw: object) -> Entry:
    raw = values.astype("<f4").tobytes()
    e = Entry(dtype=1, shape=values.shape, size=len(raw), crc32c=mask_crc(crc32c(raw)))
    for k, v in kw.items():
        setattr(e, k, v)
    return e


def write(
    d: Path,
    entries: dict[bytes, Entry | bytes],
    data: bytes = RAW,
    header: Header | bytes | None = None,
    shards: dict[str, bytes] | None = None,
) -> Path:
    h = header if isinstance(header, bytes) else encode_header(header or Header())
    items = [(b"", h)]
    items += sorted((k, v if isinstance(v, bytes) else encode_entry(v)) for k, v in entries.items())
    d.mkdir(parents=True)
    (d / "ckpt.index").write_bytes(build_table(items))
    for name, content in (shards or {"ckpt.data-00000-of-00001": data}).items():
        (d / name).write_bytes(content)
    return d / "ckpt"


def good(d: Path) -> Path:
    return Path(tfckpt_lite.save(d / "ckpt", {"w": ONES, "s": np.array([b"abc", b"de"], object)}))


def damaged_index(d: Path, where: str) -> Path:
    p = good(d)
    idx = bytearray((d / "ckpt.index").read_bytes())
    if where == "block":
        idx[10] ^= 0x10  # inside the data block (covered by its CRC)
    elif where == "magic":
        idx[-1] ^= 1
    elif where == "footer handle":
        idx[-45] ^= 0x40  # the index block handle
    (d / "ckpt.index").write_bytes(bytes(idx))
    return p


def damaged_data(d: Path, how: str) -> Path:
    p = good(d)
    f = d / "ckpt.data-00000-of-00001"
    data = bytearray(f.read_bytes())
    if how == "flip":
        data[3] ^= 1
    else:
        del data[-1:]
    f.write_bytes(bytes(data))
    return p


def strings_claiming(d: Path, n: int, length: int) -> Path:
    payload, crc = tfckpt_lite._tensor_codec.encode_strings([b"abc"])  # type: ignore[attr-defined]
    lying = encode_varint(length) + payload[1:] if length else payload
    e = Entry(dtype=7, shape=(n,), size=len(lying), crc32c=crc)
    return write(d, {b"s": e}, data=lying)


def thousands_of_axes(d: Path) -> Path:
    dims = b"".join(field_bytes(2, field_varint(1, 1)) for _ in range(3000))
    raw = field_varint(1, 1) + field_bytes(2, dims) + field_varint(5, 4)
    return write(d, {b"w": raw}, data=b"\0" * 4)


def unsorted_keys(d: Path) -> Path:
    p = good(d)
    items = read_table((d / "ckpt.index").read_bytes())
    from tfckpt_lite._block import BlockBuilder

    b = BlockBuilder(16)
    for k, v in [items[0], items[2], items[1]]:
        b.add(k, v)
    contents = b.finish()
    out = bytearray()

    def block(c: bytes) -> tuple[int, int]:
        h = (len(out), len(c))
        out.extend(c + b"\0" + struct.pack("<I", mask_crc(crc32c(b"\0", crc32c(c)))))
        return h

    d_h = block(contents)
    m_h = block(BlockBuilder(16).finish())
    ib = BlockBuilder(1)
    ib.add(b"\xff", encode_varint(d_h[0]) + encode_varint(d_h[1]))
    i_h = block(ib.finish())
    footer = b"".join(encode_varint(x) for x in (*m_h, *i_h))
    out += footer + bytes(40 - len(footer)) + struct.pack("<Q", 0xDB4775248B80FB57)
    (d / "ckpt.index").write_bytes(bytes(out))
    return p


def state_file_binary(d: Path) -> Path:
    good(d)
    (d / "checkpoint").write_bytes(b"\x00\xff\xfe binary \x80")
    return d


def with_graph(d: Path, children: list[list[int]]) -> Path:
    """A checkpoint whose object graph has the given child edges (node 1 owns `v`)."""
    from tfckpt_lite._proto import trackable_object_graph_pb2 as pb

    g = pb.TrackableObjectGraph()
    for i, kids in enumerate(children):
        node = g.nodes.add()
        for j, c in enumerate(kids):
            ref = node.children.add()
            ref.node_id = c
            ref.local_name = "a" if j == 0 else f"a{j}"
        if i == 1:
            attr = node.attributes.add()
            attr.name = "VARIABLE_VALUE"
            attr.full_name = "a"
            attr.checkpoint_key = "a/.ATTRIBUTES/VARIABLE_VALUE"
    tensors = {
        "_CHECKPOINTABLE_OBJECT_GRAPH": g.SerializeToString(),
        "a/.ATTRIBUTES/VARIABLE_VALUE": np.float32(5.0),
    }
    return Path(tfckpt_lite.save(d / "ckpt", tensors))


CASES: list[tuple[str, Callable[[Path], Path]]] = [
    ("object graph: child id 7 of 2 nodes", lambda d: with_graph(d, [[7], []])),
    ("object graph: cycle root->1->root", lambda d: with_graph(d, [[1], [0]])),
    ("object graph: negative child id", lambda d: with_graph(d, [[-5], []])),
    ("negative dimension (2, -3)", lambda d: write(d, {b"w": entry(ONES, shape=(2, -3))})),
    ("shape (2^40,), 24-byte entry", lambda d: write(d, {b"w": entry(ONES, shape=(2**40,))})),
    (
        "shape (2^40, 2^40): int64 overflow",
        lambda d: write(d, {b"w": entry(ONES, shape=(2**40, 2**40))}),
    ),
    ("3000 axes", thousands_of_axes),
    ("unknown dtype 99", lambda d: write(d, {b"w": entry(ONES, dtype=99)})),
    ("size 23 vs float32[2,3]", lambda d: write(d, {b"w": entry(ONES, size=23)})),
    ("offset past end of shard", lambda d: write(d, {b"w": entry(ONES, offset=2**40)})),
    ("num_shards 0", lambda d: write(d, {b"w": entry(ONES)}, header=Header(num_shards=0))),
    ("num_shards 10^9", lambda d: write(d, {b"w": entry(ONES)}, header=Header(num_shards=10**9))),
    ("shard_id 7 of 1", lambda d: write(d, {b"w": entry(ONES, shard_id=7)})),
    ("string length claims 8 GiB", lambda d: strings_claiming(d, 1, 2**33)),
    ("string count claims 10^12", lambda d: strings_claiming(d, 10**12, 0)),
    ("index: bit flip in data block", lambda d: damaged_index(d, "block")),
    ("index: bit flip in footer handle", lambda d: damaged_index(d, "footer handle")),
    ("index: bit flip in magic", lambda d: damaged_index(d, "magic")),
    ("index: unsorted keys (valid CRCs)", unsorted_keys),
    ("data: bit flip", lambda d: damaged_data(d, "flip")),
    ("data: truncated by 1 byte", lambda d: damaged_data(d, "truncate")),
    ("state file is binary", state_file_binary),
]


def run_tf(python: str, path: Path, name: str) -> str:
    t = time.perf_counter()
    try:
        r = subprocess.run(
            [python, "-c", TF_SCRIPT, str(path), name],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        return "**hang** (killed after 120 s)"
    dt = time.perf_counter() - t
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    if r.returncode < 0:
        err = [
            ln
            for ln in r.stderr.splitlines()
            if "Check failed" in ln or "F0000" in ln or "terminate" in ln or "what()" in ln
        ]
        why = err[-1].strip()[:140] if err else r.stderr.strip().splitlines()[-1][:140]
        return f"**process killed by signal {-r.returncode}** ({why})"
    last = lines[-1] if lines else f"exit {r.returncode}: {r.stderr.strip()[-140:]}"
    if last.startswith("RAISED"):
        return f"raises {last[7:]}"
    gets = [ln for ln in lines if ln.startswith("GET-OK")]
    return f"returns values ({len(gets)} tensors): {'; '.join(g[7:] for g in gets)[:160]}" + (
        f" [{dt:.0f} s]" if dt > 30 else ""
    )


def run_ours(path: Path, name: str) -> str:
    try:
        with tfckpt_lite.load_checkpoint(path) as r:
            vals = {k: r[k] for k in r}
            r.verify()
            if "object graph" in name:
                g = r.object_graph
                tree = tfckpt_lite.load_tree(path)  # type: ignore[attr-defined]
                return f"returns values; graph of {len(g or [])} nodes, tree {tree}"
        return f"returns values ({len(vals)} tensors)"
    except tfckpt_lite.CheckpointError as e:
        return f"{type(e).__name__}: {e}"
    except Exception as e:
        return f"**{type(e).__name__}** (promise broken): {e}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tf-python", default=os.environ.get("TF_PYTHON", "/work/tfvenv/bin/python"))
    ap.add_argument("--out")
    args = ap.parse_args()
    rows = ["| input | TensorFlow 2.21 | tfckpt-lite |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, build) in enumerate(CASES):
            path = build(Path(tmp) / f"case{i}")
            tf = run_tf(args.tf_python, path, name)
            ours = run_ours(path, name).replace(tmp, "…")
            rows.append(f"| {name} | {tf.replace('|', '/')} | {ours.replace('|', '/')} |")
            print(rows[-1], flush=True)
    if args.out:
        Path(args.out).write_text("\n".join(rows) + "\n")
    sys.exit(0)


if __name__ == "__main__":
    main()
