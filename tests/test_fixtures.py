"""Every TF-2.21-written fixture in testdata/ reads exactly as TensorFlow read it.

`testdata/manifest.json` records, per checkpoint, what `tf.train.load_checkpoint` returned:
keys, dtype names, shapes and a digest of each value (tests/canonical.py), or the error TF
raised. We must list the same keys with the same dtypes and shapes and produce bit-identical
values; where TF could not produce a value (DT_VARIANT), we raise UnsupportedCheckpointError.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tfckpt_lite as tfc

from .canonical import canonical_digest

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"
MANIFEST: dict[str, Any] = json.loads((TESTDATA / "manifest.json").read_text())
CHECKPOINTS: dict[str, Any] = MANIFEST["checkpoints"]


def _v2(name: str) -> bool:
    return bool(CHECKPOINTS[name]["format"] == "v2")


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_fixture_reads_like_tf(name: str) -> None:
    expected = CHECKPOINTS[name]
    with tfc.load_checkpoint(TESTDATA / name) as r:
        assert list(r) == sorted(expected["tensors"])
        for key, want in expected["tensors"].items():
            assert r.dtype(key) == want["dtype"], key
            assert list(r.shape(key)) == want["shape"], key
            if "digest" in want:
                assert canonical_digest(r[key]) == want["digest"], key
            elif want["dtype"] == "variant":
                with pytest.raises(tfc.UnsupportedCheckpointError):
                    r[key]
        assert r.verify() == len(expected["tensors"])


def test_list_variables_matches_tf() -> None:
    name = "keras3/ckpt"
    got = tfc.list_variables(TESTDATA / name)
    tensors = CHECKPOINTS[name]["tensors"]
    assert got == [(k, tensors[k]["shape"]) for k in sorted(tensors)]


def test_variable_to_dtype_map_names() -> None:
    r = tfc.load_checkpoint(TESTDATA / "savev2_dtypes" / "ckpt")
    names = {k: d.name for k, d in r.get_variable_to_dtype_map().items()}
    want = {k: v["dtype"] for k, v in CHECKPOINTS["savev2_dtypes/ckpt"]["tensors"].items()}
    assert names == want


def test_manifest_covers_the_fixture_kinds() -> None:
    # Guards against a regenerated manifest silently dropping what issue 2 asks for.
    fixtures = {c["fixture"] for c in CHECKPOINTS.values()}
    assert {
        "savev2_dtypes",
        "savev2_strings",
        "keras_tf_keras",
        "keras3",
        "partitioned",
        "two_shards_v1saver",
        "savedmodel",
        "sharded_policy",
    } <= fixtures
    assert any(_v2(n) and CHECKPOINTS[n]["index"]["num_shards"] > 1 for n in CHECKPOINTS)
