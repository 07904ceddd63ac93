"""The corruption sweep, run against TensorFlow too: how TF 2.21 fares on the same copies.

    PYTHONPATH=src python fuzz/tf_sweep.py [--tf-python PY] [--flips N] [--truncations N]

Builds the small multi-dtype checkpoint of tests/test_corruption.py with our writer and makes
damaged copies of it (single bit flips and truncations of the .index and of the data shard,
a fixed-seed sample). Every copy is read by TensorFlow in a long-lived worker process (keys,
then every get_tensor) and by tfckpt-lite. A worker killed by a signal (TF's CHECK failures
abort) is recorded and restarted. Each read is classified as

    exact    every tensor equals the pristine value
    error    an exception (for TF: any; for us it must be a CheckpointError)
    WRONG    a tensor came back with a different value and no error
    abort    the process died (signal)      hang  no answer within the timeout
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

import tfckpt_lite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.test_corruption import _writer_small

WORKER = r"""
import os, sys, json, hashlib
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
print("READY", flush=True)
for line in sys.stdin:
    path = line.strip()
    try:
        r = tf.train.load_checkpoint(path)
        out = {}
        for k in sorted(r.get_variable_to_shape_map()):
            try:
                v = np.asarray(r.get_tensor(k))
            except Exception as e:
                out[k] = "ERR:" + type(e).__name__
                continue
            b = repr(v.tolist()).encode() if v.dtype == object else v.tobytes()
            out[k] = hashlib.sha256(str(v.dtype).encode() + str(v.shape).encode() + b).hexdigest()
        print("OK " + json.dumps(out), flush=True)
    except Exception as e:
        print("ERR " + type(e).__name__, flush=True)
"""


def digest(v: np.ndarray[Any, Any]) -> str:
    import hashlib

    v = np.asarray(v)
    b = repr(v.tolist()).encode() if v.dtype == object else v.tobytes()
    return hashlib.sha256(str(v.dtype).encode() + str(v.shape).encode() + b).hexdigest()


class TFWorker:
    def __init__(self, python: str) -> None:
        self.python = python
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.python, "-c", WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "READY"

    def read(self, path: str, timeout: float = 60) -> tuple[str, Any]:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(path + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.proc.kill()
            self.proc.wait()
            return "hang", None
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            return "abort", -code
        kind, _, rest = line.strip().partition(" ")
        return ("ok", json.loads(rest)) if kind == "OK" else ("error", rest)


def ours(path: str) -> tuple[str, Any]:
    try:
        with tfckpt_lite.load_checkpoint(path) as r:
            out = {}
            for k in sorted(r):
                try:
                    out[k] = digest(r[k])
                except tfckpt_lite.CheckpointError as e:  # noqa: PERF203 - per key, on purpose
                    out[k] = "ERR:" + type(e).__name__
            return "ok", out
    except tfckpt_lite.CheckpointError as e:
        return "error", type(e).__name__
    except Exception as e:
        return "LEAK", type(e).__name__


def classify(result: tuple[str, Any], pristine: dict[str, str]) -> str:
    """Against the same reader's result on the intact checkpoint."""
    kind, value = result
    if kind != "ok":
        return kind
    if value == pristine:
        return "exact"
    if value.keys() != pristine.keys():
        return "WRONG"  # keys appeared or vanished without an error
    for k, v in value.items():
        if v != pristine[k] and not v.startswith("ERR:") and not pristine[k].startswith("ERR:"):
            return "WRONG"
    return "error"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tf-python", default=os.environ.get("TF_PYTHON", "/work/tfvenv/bin/python"))
    ap.add_argument("--flips", type=int, default=300)
    ap.add_argument("--truncations", type=int, default=60)
    ap.add_argument("--seed", type=int, default=20261125)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    tf = TFWorker(args.tf_python)
    table: dict[tuple[str, str], Counter[str]] = {}
    examples: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files, name = _writer_small(Path(tmp) / "src")
        base = Path(tmp) / "src" / name
        pristine_tf = tf.read(str(base))
        pristine_ours = ours(str(base))
        assert pristine_tf[0] == "ok" and pristine_ours[0] == "ok", (pristine_tf, pristine_ours)
        reference = {"TF 2.21": pristine_tf[1], "ours": pristine_ours[1]}
        n = 0
        for fname, data in sorted(files.items()):
            kind = "index" if fname.endswith(".index") else "data"
            flips = rnd.sample(range(8 * len(data)), min(args.flips, 8 * len(data)))
            cuts = rnd.sample(range(len(data)), min(args.truncations, len(data)))
            jobs: list[tuple[str, bytes]] = []
            for bit in flips:
                m = bytearray(data)
                m[bit >> 3] ^= 1 << (bit & 7)
                jobs.append((f"flip@{bit}", bytes(m)))
            jobs += [(f"cut@{c}", data[:c]) for c in cuts]
            for label, mutated in jobs:
                d = Path(tmp) / f"m{n}"
                n += 1
                d.mkdir()
                for k, v in files.items():
                    (d / k).write_bytes(mutated if k == fname else v)
                mode = "flip" if label.startswith("flip") else "truncate"
                for who, res in (
                    ("TF 2.21", tf.read(str(d / name))),
                    ("ours", ours(str(d / name))),
                ):
                    c = classify(res, reference[who])
                    table.setdefault((f"{kind} {mode}", who), Counter())[c] += 1
                    if c in ("WRONG", "abort", "hang", "LEAK"):
                        examples.setdefault(f"{who} {c}", []).append(f"{fname} {label}")
                for k in files:
                    (d / k).unlink()
                d.rmdir()
    print("| damage | reader | copies | exact | error | WRONG values | abort | hang |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (what, who), c in sorted(table.items()):
        print(
            f"| {what} | {who} | {sum(c.values())} | {c['exact']} | {c['error']} | "
            f"{c['WRONG']} | {c['abort']} | {c['hang']} |"
            + (f" LEAK {c['LEAK']}" if c["LEAK"] else "")
        )
    for k, v in examples.items():
        print(f"{k}: {len(v)}, e.g. {v[:5]}")


if __name__ == "__main__":
    main()
