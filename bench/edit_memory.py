"""Peak memory of checkpoint surgery: `edit` (strip + cast), `reshard`, `average`.

Writes a name-based checkpoint of N model tensors of SIZE MiB each plus two Adam slots per
tensor (3 x N x SIZE MiB in all), then runs each edit in a fresh process and reports its peak
RSS (ru_maxrss) next to the size of the largest tensor. The target: peak memory near the
largest tensor (twice it while casting; for `average`, plus a float64 accumulator), not the
checkpoint's size.

    python bench/edit_memory.py [--tensors 4] [--mib 256] [--dir /tmp/tfckpt-edit-bench]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"

CHILD = r"""
import json, resource, sys, time
import tfckpt_lite as tfc
task, args = sys.argv[1], json.loads(sys.argv[2])
t = time.perf_counter()
if task == "strip_cast":
    tfc.edit(args["src"], args["dst"], strip=True, cast="bfloat16")
elif task == "reshard":
    tfc.reshard(args["src"], args["dst"], args.get("max"))
elif task == "average":
    tfc.average(args["srcs"], args["dst"])
elapsed = time.perf_counter() - t
print(json.dumps({"seconds": elapsed,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make(prefix: Path, tensors: int, mib: int, seed: int) -> None:
    sys.path.insert(0, str(SRC))
    import tfckpt_lite as tfc

    n = mib * (1 << 20) // 4
    rng = np.random.default_rng(seed)
    with tfc.BundleWriter(prefix) as w:
        for i in range(tensors):
            arr = rng.standard_normal(n, dtype=np.float32)
            w.add(f"layer{i}/kernel", arr)
            w.add(f"layer{i}/kernel/Adam", arr)
            w.add(f"layer{i}/kernel/Adam_1", arr)
            del arr
        w.add("global_step", np.int64(1000))


def run(task: str, args: dict[str, object]) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, task, json.dumps(args)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tensors", type=int, default=4)
    p.add_argument("--mib", type=int, default=256)
    p.add_argument("--dir", default="/tmp/tfckpt-edit-bench")
    a = p.parse_args()
    d = Path(a.dir)
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    try:
        t = time.perf_counter()
        make(d / "a", a.tensors, a.mib, 0)
        make(d / "b", a.tensors, a.mib, 1)
        total = 3 * a.tensors * a.mib
        print(
            f"two checkpoints of {total} MiB each ({a.tensors} x 3 tensors of {a.mib} MiB) "
            f"written in {time.perf_counter() - t:.1f} s"
        )
        cases = [
            (
                "edit(strip=True, cast='bfloat16')",
                "strip_cast",
                {"src": str(d / "a"), "dst": str(d / "s")},
            ),
            ("reshard (one data file)", "reshard", {"src": str(d / "a"), "dst": str(d / "r")}),
            (
                "reshard --max-shard-size 100MB",
                "reshard",
                {"src": str(d / "a"), "dst": str(d / "r2"), "max": 100_000_000},
            ),
            (
                "average of 2",
                "average",
                {"srcs": [str(d / "a"), str(d / "b")], "dst": str(d / "m")},
            ),
        ]
        print(f"largest tensor: {a.mib} MiB")
        print("| edit | time | peak RSS |")
        print("|---|---:|---:|")
        for label, task, args in cases:
            r = run(task, args)
            print(f"| {label} | {r['seconds']:.2f} s | {r['peak_mib']:.0f} MiB |")
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
