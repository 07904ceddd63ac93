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

import os
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


# -- floors: the least work that any reader or writer of these files must do -----------------


def floor_first(side: str, args: dict[str, object]) -> dict[str, object]:
    """A fresh process that imports NumPy, opens the data file and reads the tensor's bytes
    (its offset given) into an array: what any NumPy reader of one tensor must at least do."""
    import numpy as np

    t_imported = time.perf_counter()
    path, offset, nbytes = str(args["path"]), int(str(args["offset"])), int(str(args["nbytes"]))
    with open(path, "rb") as f:
        f.seek(offset)
        value = np.fromfile(f, np.float32, nbytes // 4)
    check = _touch(value)
    t_done = time.perf_counter()
    ready = time.monotonic()
    return {
        "import_s": t_imported - T_START,
        "op_s": t_done - t_imported,
        "ready_monotonic": ready,
        "nbytes": int(value.nbytes),
        "check": check,
    }


def floor_crc(side: str, args: dict[str, object]) -> dict[str, object]:
    """CRC32C over the data files alone (mapped, as our reader maps them), in `threads`
    threads; or, with `copy`, one copy of the files into memory (a `readinto`)."""
    import mmap

    import crc32c

    paths = [str(p) for p in args["paths"]]  # type: ignore[attr-defined]
    threads = int(str(args.get("threads", 1)))
    copy = bool(args.get("copy", False))
    t0 = time.perf_counter()
    nbytes = 0
    if copy:
        for path in paths:
            with open(path, "rb", buffering=0) as f:
                buf = bytearray(os.fstat(f.fileno()).st_size)
                f.readinto(buf)
                nbytes += len(buf)
                del buf
    else:
        maps = []
        for path in paths:
            with open(path, "rb") as f:
                maps.append(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
        chunks = []
        for m in maps:
            step = max(1, -(-len(m) // threads))
            view = memoryview(m)
            chunks += [view[i : i + step] for i in range(0, len(m), step)]
            nbytes += len(m)
        if threads == 1:
            for c in chunks:
                crc32c.crc32c(c)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(crc32c.crc32c, chunks))
        del chunks, view
    t1 = time.perf_counter()
    return {"op_s": t1 - t0, "nbytes": nbytes}


def floor_write(side: str, args: dict[str, object]) -> dict[str, object]:
    """The same bytes as `write`, written with plain `write` calls to one file, then fsync of
    the file and of its directory: what any durable writer of them must at least do."""
    import numpy as np

    prefix = str(args["prefix"])
    count, elements = int(str(args["count"])), int(str(args["elements"]))
    rng = np.random.default_rng(0)
    arrays = [rng.random(elements, dtype=np.float32) for _ in range(count)]
    t0 = time.perf_counter()
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    with open(prefix + ".raw", "wb", buffering=0) as f:
        for a in arrays:
            f.write(memoryview(a).cast("B"))
        os.fsync(f.fileno())
    fd = os.open(os.path.dirname(prefix), os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    t1 = time.perf_counter()
    return {"op_s": t1 - t0, "nbytes": count * elements * 4}


def floor_list(side: str, args: dict[str, object]) -> dict[str, object]:
    """Reading the index file: the floor of any listing."""
    t0 = time.perf_counter()
    with open(str(args["prefix"]) + ".index", "rb") as f:
        n = len(f.read())
    t1 = time.perf_counter()
    return {"op_s": t1 - t0, "nbytes": n}


def load_all(side: str, args: dict[str, object]) -> dict[str, object]:
    """Every tensor of a checkpoint with many small ones: TF's loop over get_tensor (what
    porting scripts do) vs our `load()`."""
    lib = _import(side)
    prefix = str(args["prefix"])
    t0 = time.perf_counter()
    if side == "tf":
        reader = lib.train.load_checkpoint(prefix)  # type: ignore[attr-defined]
        values = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}
    else:
        values = lib.load(prefix)  # type: ignore[attr-defined]
    t1 = time.perf_counter()
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for k in sorted(values):
        digest.update(k.encode())
        digest.update(np.asarray(values[k]).tobytes())
    return {"op_s": t1 - t0, "tensors": len(values), "check": digest.hexdigest()[:16]}


def make_shards(side: str, args: dict[str, object]) -> dict[str, object]:
    """A checkpoint of `shards` data files (`per_shard` 64 KiB float32 tensors in each), made
    the way a sharded save makes it: one part per shard, then the merge."""
    import numpy as np

    lib = _import("ours")
    prefix = str(args["prefix"])
    shards, per_shard = int(str(args["shards"])), int(str(args["per_shard"]))
    parts = []
    for s in range(shards):
        part = lib.part_prefix(prefix, s, shards)  # type: ignore[attr-defined]
        with lib.BundleWriter(part, fsync=False) as w:  # type: ignore[attr-defined]
            for t in range(per_shard):
                w.add(f"shard_{s:04d}/t{t}", np.full(16384, s + t, np.float32))
        parts.append(part)
    lib.merge_v2_checkpoints(parts, prefix, fsync=False)  # type: ignore[attr-defined]
    return {"tensors": shards * per_shard}


TASKS = {
    "make-checkpoint": make_checkpoint,
    "make-index": make_index,
    "first-tensor": first_tensor,
    "read-all": read_all,
    "write": write,
    "list": list_vars,
    "stream-write": stream_write,
    "floor-first": floor_first,
    "floor-crc": floor_crc,
    "floor-write": floor_write,
    "floor-list": floor_list,
    "load-all": load_all,
    "make-shards": make_shards,
}


def main() -> None:
    task, side, raw = sys.argv[1], sys.argv[2], sys.argv[3:]
    if task in ("first-tensor", "floor-first"):
        # Plain arguments: not even json is imported before the tensor is in hand.
        keys = ("prefix", "key") if task == "first-tensor" else ("path", "offset", "nbytes")
        args: dict[str, object] = dict(zip(keys, raw))
    else:
        import json

        args = json.loads(raw[0])
    result = TASKS[task](side, args)
    result["peak_rss_mib"] = _rss_mib()
    import json

    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
