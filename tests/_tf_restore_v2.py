"""Run under TensorFlow by tests/test_tf_v1.py: read (path, key, dtype) triples given as JSON
on stdin with the RestoreV2 kernel (TF's V1 reader, as `Saver.restore` runs it) and print,
per triple, `{"digest": ...}` (tests/canonical.py) or `{"error": "<class>"}`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.canonical import canonical_digest


def restore(path: str, key: str, dtype: str) -> dict[str, str]:
    try:
        (t,) = tf.raw_ops.RestoreV2(
            prefix=path, tensor_names=[key], shape_and_slices=[""], dtypes=[tf.as_dtype(dtype)]
        )
    except Exception as e:
        return {"error": type(e).__name__}
    return {"digest": canonical_digest(t.numpy())}


def main() -> None:
    print(json.dumps([restore(*q) for q in json.load(sys.stdin)]))


if __name__ == "__main__":
    main()
