"""One measurement in a fresh process; `run.py` starts it and reads the JSON line it prints.

    python -c "import _worker; _worker.main()" TASK SIDE ARGS_JSON   (bench/ on sys.path)
    python -c "..." first-tensor SIDE PREFIX KEY                       SIDE is "ours" or "tf"

Started through `-c` and an import, not as a script, so that its bytecode is cached like any
module's and no run pays for compiling it.

Only builtins are imported before the timed part, so that the time to first tensor measures
the interpreter, the library's import and the read, and nothing of the harness. Peak RSS is
`getrusage(RUSAGE_SELF).ru_maxrss` at the end: the process's high-water mark, which counts
file-backed pages of a memory map once they are touched, just as it counts heap copies.
"""

from __future__ import annotations

import sys
import time

T_START = time.perf_counter()


def _import(side: str) -> object:
    if side == "tf":
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf

        return tf
    import tfckpt_lite

    return tfckpt_lite


def _touch(arr: object) -> int:
    """Read one byte of every 4 KiB page of an array: forces every page of a lazily mapped
    array to be resident (our reader verifies the CRC over every byte before returning, so
    the data was already read once; this keeps the comparison honest if it ever stopped)."""
    import numpy as np

    a = np.asarray(arr)
    if a.dtype.kind == "O" or a.size == 0:
        return int(a.size)
    b = a.reshape(-1).view(np.uint8)
    return int(b[::4096].sum(dtype=np.uint64))


def _rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def first_tensor(side: str, args: dict[str, object]) -> dict[str, object]:
    lib = _import(side)
    t_imported = time.perf_counter()
    prefix, key = str(args["prefix"]), str(args["key"])
    load_variable = lib.train.load_variable if side == "tf" else lib.load_variable  # type: ignore[attr-defined]
    value = load_variable(prefix, key)
    check = _touch(value)
    t_done = time.perf_counter()
    ready = time.monotonic()  # system-wide clock: the harness subtracts its spawn time
    return {
        "import_s": t_imported - T_START,
        "op_s": t_done - t_imported,
        "ready_monotonic": ready,
        "nbytes": int(value.nbytes),
        "check": check,
    }


def read_all(side: str, args: dict[str, object]) -> dict[str, object]:
    lib = _import(side)
    prefix = str(args["prefix"])
    t0 = time.perf_counter()
    check = 0
    nbytes = 0
    if side == "tf":
        reader = lib.train.load_checkpoint(prefix)  # type: ignore[attr-defined]
        values = {k: reader.get_tensor(k) for k in sorted(reader.get_variable_to_shape_map())}
    else:
        values = lib.load(prefix, readonly=bool(args.get("readonly")))  # type: ignore[attr-defined]
    for v in values.values():
        check += _touch(v)
        nbytes += int(v.nbytes)
    t1 = time.perf_counter()
    return {"op_s": t1 - t0, "nbytes": nbytes, "tensors": len(values), "check": check}


def write(side: str, args: dict[str, object]) -> dict[str, object]:
    import numpy as np

    lib = _import(side)
    prefix = str(args["prefix"])
    count, elements = int(str(args["count"])), int(str(args["elements"]))
    fsync = bool(args.get("fsync", True))
    rng = np.random.default_rng(0)
    arrays = {f"layer_{i:04d}/kernel": rng.random(elements, dtype=np.float32) for i in range(count)}
    if side == "tf":
        tf = lib
        names = list(arrays)
        tensors = [tf.constant(a) for a in arrays.values()]  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        tf.raw_ops.SaveV2(  # type: ignore[attr-defined]
            prefix=prefix,
            tensor_names=names,
            shape_and_slices=[""] * len(names),
            tensors=tensors,
        )
    else:
        t0 = time.perf_counter()
        lib.save(prefix, arrays, fsync=fsync)  # type: ignore[attr-defined]
    t1 = time.perf_counter()
    return {"op_s": t1 - t0, "nbytes": count * elements * 4}


def list_vars(side: str, args: dict[str, object]) -> dict[str, object]:
    import hashlib

    lib = _import(side)
    prefix = str(args["prefix"])
    t0 = time.perf_counter()
    list_variables = lib.train.list_variables if side == "tf" else lib.list_variables  # type: ignore[attr-defined]
    listing = list_variables(prefix)
    t1 = time.perf_counter()
    digest = hashlib.sha256(repr([(k, list(s)) for k, s in listing]).encode()).hexdigest()
    return {"op_s": t1 - t0, "entries": len(listing), "check": digest[:16]}


def stream_write(side: str, args: dict[str, object]) -> dict[str, object]:
    """Tensors made one at a time and dropped after `add`: memory must not grow with the file."""
    import numpy as np

    if side != "ours":
        raise SystemExit("stream-write measures BundleWriter only")
    lib = _import(side)
    prefix = str(args["prefix"])
    sizes = [int(s) for s in args["sizes"]]  # type: ignore[attr-defined]
    rss_before = _rss_mib()
    t0 = time.perf_counter()
    with lib.BundleWriter(prefix) as w:  # type: ignore[attr-defined]
        for i, n in enumerate(sizes):
            value = np.empty(n // 4, np.float32)
            value.fill(float(i))
            w.add(f"block_{i:05d}/value", value)
            del value
    t1 = time.perf_counter()
    return {"op_s": t1 - t0, "nbytes": sum(sizes), "rss_before_mib": rss_before}


def make_checkpoint(side: str, args: dict[str, object]) -> dict[str, object]:
    """The 1 GiB read fixture: `count` float32 tensors of `elements` random values, written by
    our BundleWriter (byte-identical to SaveV2's output; TF reads it in the benchmark)."""
    import numpy as np

    lib = _import("ours")
    prefix = str(args["prefix"])
    count, elements = int(str(args["count"])), int(str(args["elements"]))
    rng = np.random.default_rng(1)
    with lib.BundleWriter(prefix, fsync=False) as w:  # type: ignore[attr-defined]
        for i in range(count):
            w.add(f"layer_{i:04d}/kernel", rng.random(elements, dtype=np.float32))
    return {"nbytes": count * elements * 4}


_SHAPES = ((), (3,), (2, 3), (4, 1, 2), (8,), (1, 1, 1, 1))


def make_index(side: str, args: dict[str, object]) -> dict[str, object]:
    """An index of `entries` small tensors of mixed rank and dtype (a large model's optimizer
    slots look like this): the listing cost is all in the index."""
    import numpy as np

    lib = _import("ours")
    prefix = str(args["prefix"])
    entries = int(str(args["entries"]))
    with lib.BundleWriter(prefix, fsync=False) as w:  # type: ignore[attr-defined]
        for i in range(entries):
            shape = _SHAPES[i % len(_SHAPES)]
            dtype = np.float32 if i % 3 else np.int64
            name = f"model/block_{i // 100:04d}/layer_{i % 100:02d}/.ATTRIBUTES/VARIABLE_VALUE"
            w.add(name, np.full(shape, i, dtype))
    return {"entries": entries}


TASKS = {
    "make-checkpoint": make_checkpoint,
    "make-index": make_index,
    "first-tensor": first_tensor,
    "read-all": read_all,
    "write": write,
    "list": list_vars,
    "stream-write": stream_write,
}


def main() -> None:
    task, side, raw = sys.argv[1], sys.argv[2], sys.argv[3:]
    if task == "first-tensor":
        # Plain arguments: not even json is imported before the tensor is in hand.
        args: dict[str, object] = {"prefix": raw[0], "key": raw[1]}
    else:
        import json

        args = json.loads(raw[0])
    result = TASKS[task](side, args)
    result["peak_rss_mib"] = _rss_mib()
    import json

    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
