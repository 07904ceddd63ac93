"""Every checkpoint of the real-world corpus reads exactly as TensorFlow 2.21 reads it.

`testdata/realworld_expected.json` (written once with TF 2.21 by `testdata/generate_realworld.py`)
records, per checkpoint of `shared/real-world-checkpoints`, the keys TF lists, each key's dtype
and shape, and a digest (`tests/canonical.py`) of the value TF returns, or the error TF raised
(the index-only checkpoints, whose data files the source repositories did not carry). We read
each one in place and require the same keys in the same order, the same dtypes and shapes and
bit-identical values; where TF could not read a value because a file is missing, we must raise
`CheckpointNotFoundError` naming that file while still listing the variables.

The corpus lives outside the repository: `$TFCKPT_REALWORLD`, else
`<repo>/../shared/real-world-checkpoints`, else `/work/shared/real-world-checkpoints`; the tests
skip when none exists.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

import tfckpt_lite as tfc

from .canonical import canonical_digest
from .conftest import realworld_dir

REPO = Path(__file__).resolve().parent.parent
EXPECTED: dict[str, Any] = json.loads((REPO / "testdata" / "realworld_expected.json").read_text())


CORPUS = realworld_dir()
CHECKPOINTS: list[dict[str, Any]] = EXPECTED["checkpoints"]
needs_corpus = pytest.mark.skipif(CORPUS is None, reason="real-world corpus not present")


def _id(c: dict[str, Any]) -> str:
    return str(c["prefix"])


def _expected_digest(t: dict[str, Any]) -> str | None:
    """TF's value digest: from get_tensor, else from the RestoreV2 kernel."""
    return t.get("digest") or t.get("restore_v2_digest")


def test_expectations_cover_the_corpus() -> None:
    meta = EXPECTED["meta"]
    assert meta["tf_version"] == "2.21.0"
    assert meta["count"] == len(CHECKPOINTS) > 100
    formats = {c["format"] for c in CHECKPOINTS}
    assert formats == {"v1", "v2"}


@needs_corpus
@pytest.mark.parametrize("ckpt", CHECKPOINTS, ids=_id)
def test_reads_like_tensorflow(ckpt: dict[str, Any]) -> None:
    assert CORPUS is not None
    path = CORPUS / ckpt["prefix"]
    expected: dict[str, Any] = ckpt["tensors"]
    with tfc.load_checkpoint(path) as r:
        assert r.format == ckpt["format"]
        assert list(r) == sorted(expected, key=lambda k: k.encode("utf-8", "surrogateescape"))
        for key, t in expected.items():
            assert r.dtype(key) == t["dtype"], key
            assert list(r.shape(key)) == t["shape"], key
            digest = _expected_digest(t)
            if digest is not None:
                value = r[key]
                assert value.shape == tuple(t["shape"])
                assert canonical_digest(value) == digest, key
            else:
                _assert_missing_file_error(r, key, t)
        if ckpt["status"] == "full":
            assert r.verify() == len(expected)
    listed = tfc.list_variables(path)
    assert listed == [(k, list(expected[k]["shape"])) for k, _ in listed]
    assert sorted(k for k, _ in listed) == sorted(expected)


def _assert_missing_file_error(r: tfc.CheckpointReader, key: str, t: dict[str, Any]) -> None:
    m = re.search(r"<corpus>/(\S+?);? No such file", t["error"])
    assert m is not None, f"unexpected TF error for {key}: {t['error']}"
    missing = m.group(1).rstrip(";")
    with pytest.raises(tfc.CheckpointNotFoundError) as info:
        r[key]
    assert info.value.path is not None
    assert info.value.path.endswith(missing)
    assert os.path.basename(missing) in str(info.value)


@needs_corpus
def test_state_files_in_the_corpus_resolve() -> None:
    """Directories holding a `checkpoint` state file open their latest checkpoint, which is
    one of the checkpoints above. Most 2016 state files name absolute /tmp paths, several of
    them V1 shard patterns (`.../variables-?????-of-00001`): they resolve by their last
    component inside the directory. Two name checkpoints their repository did not carry
    (TF's `latest_checkpoint` gives None for those too)."""
    assert CORPUS is not None
    prefixes = {str(CORPUS / c["prefix"]) for c in CHECKPOINTS}
    opened, dangling = 0, 0
    for state in sorted(CORPUS.rglob("checkpoint")):
        if not state.is_file():
            continue
        latest = tfc.latest_checkpoint(state.parent)
        if latest is None:
            dangling += 1
            with pytest.raises(tfc.CheckpointNotFoundError):
                tfc.load_checkpoint(state.parent)
            continue
        assert latest in prefixes
        with tfc.load_checkpoint(state.parent) as r:
            assert r.prefix == latest
        opened += 1
    assert (opened, dangling) == (21, 2)


@needs_corpus
def test_savedmodel_directories_open_their_variables() -> None:
    """Every SavedModel directory of the corpus whose variables are there opens them: V2
    `variables/variables` and the 2016 V1 layouts (`variables/saved_model_variables`,
    `variables/variables-00000-of-00001`)."""
    assert CORPUS is not None
    by_dir: dict[Path, dict[str, Any]] = {}
    for c in CHECKPOINTS:
        prefix = CORPUS / c["prefix"]
        if prefix.parent.name == "variables" and c["status"] == "full":
            by_dir.setdefault(prefix.parent.parent, c)
    kinds: set[str] = set()
    for model_dir, ckpt in sorted(by_dir.items()):
        if not any(model_dir.glob("saved_model.pb*")):
            continue
        with tfc.load_checkpoint(model_dir) as r:
            assert sorted(r) == sorted(ckpt["tensors"]), model_dir
            kinds.add(r.format)
    assert kinds == {"v1", "v2"}
