"""Bundle files for tests: the tensors of FORMAT.md's worked example, reading a bundle's two
files, writing an index table by hand (for entries our writer would refuse to make), and
finding a table's blocks without the table reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tfckpt_lite._block import decode_block
from tfckpt_lite._coding import decode_varint
from tfckpt_lite._snappy import snappy_decompress
from tfckpt_lite._table import FOOTER_SIZE, build_table

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"


def format_tensors() -> dict[str, Any]:
    return {
        "w": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": 7,
        "s": [b"ab", b"", b"xyz"],
        "e": np.array([], dtype=object),
        "scalar_str": b"hello",
        "d": np.array([1.5]),
    }


def files_of(prefix: Path | str) -> tuple[bytes, bytes]:
    p = str(prefix)
    return Path(p + ".index").read_bytes(), Path(p + ".data-00000-of-00001").read_bytes()


def write_index(prefix: Path, items: dict[bytes, bytes], header: bytes) -> None:
    Path(str(prefix) + ".index").write_bytes(build_table([(b"", header), *sorted(items.items())]))


def index_block_handles(table: bytes) -> list[tuple[bytes, tuple[int, int]]]:
    """The index block's (last key, (offset, size)) pairs, one per data block, decoded from
    the footer by hand (independently of read_table); a Snappy-compressed index block too."""
    footer = table[-FOOTER_SIZE:]
    _, p = decode_varint(footer, 0, 40)
    _, p = decode_varint(footer, p, 40)
    off, p = decode_varint(footer, p, 40)
    size, _ = decode_varint(footer, p, 40)
    block = table[off : off + size]
    if table[off + size] == 1:
        block = snappy_decompress(block)
    out = []
    for k, v in decode_block(block):
        o, q = decode_varint(v, 0, len(v))
        s, _ = decode_varint(v, q, len(v))
        out.append((k, (o, s)))
    return out
