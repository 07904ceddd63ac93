"""save() and the writers on bad input: a clear TypeError/ValueError naming the key; torch
tensors of every dtype; prefixes naming a checkpoint's own files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite as tfc


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ({"inner": 1}, TypeError, r"'w': dict is not a tensor \(a nested mapping"),
        (None, TypeError, "'w': NoneType is not a tensor"),
        (Decimal("1.5"), TypeError, "'w': Decimal is not a tensor value"),
        ([[1, 2], [3]], ValueError, "'w': a nested list whose rows differ in length"),
        ([1, None], TypeError, "'w': NoneType is not a tensor value"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, value: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        tfc.save(tmp_path / "m", {"ok": 1, "w": value})
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_list_of_pairs_and_file_prefixes(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"pass dict\(pairs\)"):
        tfc.save(tmp_path / "m", [("a", 1)])  # type: ignore[arg-type]
    for bad in ("m.index", "m.data-00000-of-00001"):
        with pytest.raises(ValueError, match=r"pass the prefix without the suffix: '.*m'"):
            tfc.save(tmp_path / bad, {"a": 1})
    assert list(tmp_path.iterdir()) == []


def test_torch_tensors_of_every_dtype(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    dtypes = [torch.float16, torch.float32, torch.float64, torch.bfloat16, torch.int8,
              torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool,
              torch.complex64, torch.complex128]  # fmt: skip
    dtypes += [getattr(torch, n) for n in ("float8_e4m3fn", "float8_e5m2") if hasattr(torch, n)]
    tensors = {str(d): torch.ones(3, 2, dtype=d) for d in dtypes}
    tensors["grad"] = torch.ones(2, requires_grad=True) * 2
    p = tfc.save(tmp_path / "m", tensors)
    got = tfc.load(p)
    for name, t in tensors.items():
        want = t.detach().to(torch.float64).numpy() if not t.is_complex() else t.detach().numpy()
        assert np.array_equal(np.asarray(got[name]).astype(want.dtype), want), name
    assert tfc.load_checkpoint(p).dtype("torch.bfloat16") == "bfloat16"
