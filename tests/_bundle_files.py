"""Bundle files for tests: the tensors of FORMAT.md's worked example, reading a bundle's two
files, and writing an index table by hand (for entries our writer would refuse to make)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tfckpt_lite._table import build_table

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
