#!/usr/bin/env python3
"""tfckpt-lite against TensorFlow, side by side, on the same files in one run.

    python bench/run.py --quick          # a few minutes: smaller files, 3 repetitions
    python bench/run.py                  # the full run (1 GiB checkpoints, > RAM/2 stream)

Every measurement is a fresh subprocess (`bench/_worker.py`). TensorFlow runs under
`--tf-python` (default `$TFCKPT_TF_PYTHON`, else `python3`); ours runs under the *same*
interpreter with `PYTHONPATH=<repo>/src`, so both sides share Python, NumPy and the crc32c
wheel. Repetitions alternate TF and ours; the table shows medians (peak RSS: the largest
seen). One untimed warm-up run per side comes first (bytecode caches, TF's shared libraries
in the page cache). Checkpoint files are read into the page cache before every read
measurement (`--cache warm`, the default) or evicted with posix_fadvise(DONTNEED)
(`--cache cold`).

Only the standard library is used here; see bench/README.md for what each row means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(REPO, "bench", "_worker.py")
MIB = 1 << 20
GIB = 1 << 30


@dataclass
class Config:
    quick: bool
    repeat: int
    tf_python: str
    our_python: str
    workdir: str
    cache: str
    read_tensors: int  # 4 MiB float32 tensors in the read fixture
    write_tensors: int
    index_entries: int
    stream_total: int
    stream_tensor: int
    only: set[str] = field(default_factory=set)


@dataclass
class Row:
    name: str
    unit: str
    tf: float | None
    ours: float | None
    target: str
    passed: bool | None
    note: str = ""
    floor: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.tf is None or self.ours is None or self.ours == 0:
            return None
        return self.tf / self.ours

    @property
    def over_floor(self) -> float | None:
        if self.floor is None or self.ours is None or self.floor == 0:
            return None
        return self.ours / self.floor


# -- subprocesses ---------------------------------------------------------------------------


def _env(side: str) -> dict[str, str]:
    side = side.split("-")[0]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    # Both sides import from compiled bytecode, as an installed package does (see `compile`).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if side == "ours":
        env["PYTHONPATH"] = os.path.join(REPO, "src")
    return env


def run_worker(cfg: Config, task: str, side: str, args: dict[str, Any]) -> dict[str, Any]:
    python = cfg.tf_python if side == "tf" else cfg.our_python
    side = side.split("-")[0]  # "ours-nofsync" is ours with other arguments
    here = os.path.dirname(WORKER)
    boot = f"import sys; sys.path.insert(0, {here!r}); import _worker; _worker.main()"
    if task == "first-tensor":
        argv = [args["prefix"], args["key"]]
    elif task == "floor-first":
        argv = [args["path"], str(args["offset"]), str(args["nbytes"])]
    else:
        argv = [json.dumps(args)]
    cmd = [python, "-c", boot, task, side, *argv]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    spawned = time.monotonic()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=_env(side), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(
            f"worker {task}/{side} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[7:])
            result["wall_s"] = wall
            if "ready_monotonic" in result:
                result["ready_s"] = result["ready_monotonic"] - spawned
            result["cpu_s"] = cpu
            return result
    raise SystemExit(f"worker {task}/{side} printed no result:\n{proc.stdout}\n{proc.stderr}")


def compile_sources(cfg: Config) -> None:
    """Byte-compile our package the way pip does on install, so that the fresh-process timings
    do not include compiling it (TensorFlow's site-packages are compiled at install time)."""
    targets = [os.path.join(REPO, "src", "tfckpt_lite"), WORKER]
    for python in sorted({cfg.our_python, cfg.tf_python}):
        cmd = [python, "-m", "compileall", "-q", *targets]
        subprocess.run(cmd, env=_env("ours"), check=True)


def checkpoint_files(prefix: str) -> list[str]:
    d, base = os.path.split(prefix)
    return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.startswith(base + ".")]


def set_cache(cfg: Config, prefix: str) -> None:
    """Warm: read every file of the checkpoint once. Cold: ask the kernel to drop its pages."""
    for path in checkpoint_files(prefix):
        fd = os.open(path, os.O_RDONLY)
        try:
            if cfg.cache == "cold":
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            else:
                while os.read(fd, 8 * MIB):
                    pass
        finally:
            os.close(fd)


def remove_checkpoint(prefix: str) -> None:
    for path in checkpoint_files(prefix):
        os.unlink(path)


def measure(
    cfg: Config,
    task: str,
    args: dict[str, Any] | Callable[[str, int], dict[str, Any]],
    sides: tuple[str, ...] = ("tf", "ours"),
    before: Callable[[], None] | None = None,
    after: Callable[[dict[str, Any]], None] | None = None,
    warmup: bool = True,
    repeat: int | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Run `task` for each side, alternating sides, `repeat` times after an untimed warm-up."""
    results: dict[str, list[dict[str, Any]]] = {s: [] for s in sides}
    n = cfg.repeat if repeat is None else repeat
    for rep in range(-1 if warmup else 0, n):
        for side in sides if rep % 2 == 0 else tuple(reversed(sides)):
            a = args(side, rep) if callable(args) else args
            if before is not None:
                before()
            r = run_worker(cfg, task, side, a)
            if after is not None:
                after(a)
            if rep >= 0:
                results[side].append(r)
        print(".", end="", flush=True, file=sys.stderr)
    return results


def med(results: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in results))


def peak(results: list[dict[str, Any]]) -> float:
    return float(max(r["peak_rss_mib"] for r in results))


def same_check(res: dict[str, list[dict[str, Any]]]) -> bool:
    checks = {json.dumps(r.get("check")) for rs in res.values() for r in rs}
    return len(checks) == 1


# -- the benchmarks -------------------------------------------------------------------------


def note_first_tensor(res: dict[str, list[dict[str, Any]]]) -> str:
    tf, ours = res["tf"], res["ours"]
    return (
        f"import {med(tf, 'import_s'):.2f} s vs {med(ours, 'import_s'):.3f} s; "
        f"read {med(tf, 'op_s') * 1e3:.1f} ms vs {med(ours, 'op_s') * 1e3:.1f} ms; "
        f"whole process to exit {med(tf, 'wall_s'):.2f} s vs {med(ours, 'wall_s'):.3f} s "
        f"({med(tf, 'wall_s') / med(ours, 'wall_s'):.1f}x); "
        f"CPU time {med(tf, 'cpu_s'):.2f} s vs {med(ours, 'cpu_s'):.3f} s"
        + ("" if same_check(res) else "; VALUES DIFFER")
    )


def bench_read(cfg: Config, rows: list[Row], raw: dict[str, Any]) -> None:
    prefix = os.path.join(cfg.workdir, "read", "ckpt")
    nbytes = cfg.read_tensors * 4 * MIB
    log(f"making the read fixture: {cfg.read_tensors} x 4 MiB float32 ({nbytes / GIB:.2f} GiB)")
    run_worker(
        cfg,
        "make-checkpoint",
        "ours",
        {"prefix": prefix, "count": cfg.read_tensors, "elements": MIB},
    )
    key = f"layer_{cfg.read_tensors // 2:04d}/kernel"
    size = f"{nbytes / GIB:g} GiB"

    if cfg.only & {"1", "5"} or not cfg.only:
        log("1/5: time to first tensor and its peak RSS (fresh processes)")
        res = measure(
            cfg,
            "first-tensor",
            {"prefix": prefix, "key": key},
            before=lambda: set_cache(cfg, prefix),
        )
        raw["first_tensor"] = res
        # Floor: a fresh process that imports NumPy and reads the same 4 MiB from the file.
        offset = cfg.read_tensors // 2 * 4 * MIB  # tensors are written in order, unpadded
        floor = measure(
            cfg,
            "floor-first",
            {"path": prefix + ".data-00000-of-00001", "offset": offset, "nbytes": 4 * MIB},
            sides=("floor",),
            before=lambda: set_cache(cfg, prefix),
        )
        raw["first_tensor_floor"] = floor
        tf_s, ours_s = med(res["tf"], "ready_s"), med(res["ours"], "ready_s")
        floor_s = med(floor["floor"], "ready_s")
        rows.append(
            Row(
                f"1. time to first tensor: fresh process, `load_variable` of 4 MiB from {size}",
                "s",
                tf_s,
                ours_s,
                ">= 20x TF; <= 1.3x floor",
                tf_s / ours_s >= 20 and ours_s <= 1.3 * floor_s,
                note_first_tensor(res)
                + "; floor: `import numpy`, open the data file, read the tensor's bytes",
                floor_s,
            )
        )
        rss_tf, rss_ours = peak(res["tf"]), peak(res["ours"])
        rows.append(
            Row(
                f"5. peak RSS reading one 4 MiB tensor from {size} (fresh process)",
                "MiB",
                rss_tf,
                rss_ours,
                "< 150 MiB",
                rss_ours < 150,
                "ratio is TF RSS / our RSS",
            )
        )

    if cfg.only & {"2"} or not cfg.only:
        log("2: read everything, checksums verified")

        def read_args(side: str, rep: int) -> dict[str, Any]:
            return {"prefix": prefix, "readonly": side == "ours-readonly"}

        res = measure(
            cfg,
            "read-all",
            read_args,
            sides=("tf", "ours", "ours-readonly"),
            before=lambda: set_cache(cfg, prefix),
        )
        raw["read_all"] = res
        data = [prefix + ".data-00000-of-00001"]
        floors = {}
        for name, extra in (("crc1", {"threads": 1}), ("crc2", {"threads": 2}),
                            ("copy", {"copy": True})):  # fmt: skip
            f = measure(
                cfg,
                "floor-crc",
                {"paths": data, **extra},
                sides=("floor",),
                before=lambda: set_cache(cfg, prefix),
            )
            raw[f"read_all_floor_{name}"] = f
            floors[name] = med(f["floor"], "op_s")
        tf_s, ours_s = med(res["tf"], "op_s"), med(res["ours"], "op_s")
        ro_s = med(res["ours-readonly"], "op_s")
        rows.append(
            Row(
                f"2. read all {cfg.read_tensors} tensors ({size}), CRC verified, pages touched",
                "s",
                tf_s,
                ours_s,
                ">= 2x TF; <= 1.3x floor",
                tf_s / ours_s >= 2 and ours_s <= 1.3 * floors["crc1"],
                f"{nbytes / tf_s / 1e9:.2f} GB/s vs {nbytes / ours_s / 1e9:.2f} GB/s; "
                f"peak RSS {peak(res['tf']):.0f} vs {peak(res['ours']):.0f} MiB; "
                f"ours with `readonly=True` (shared read-only views): {ro_s:.3f} s, "
                f"{peak(res['ours-readonly']):.0f} MiB; floor: CRC32C of the mapped data file, "
                f"1 thread ({floors['crc2']:.3f} s with 2 threads; one copy of the file into "
                f"memory {floors['copy']:.3f} s)" + ("" if same_check(res) else "; VALUES DIFFER"),
                floors["crc1"],
            )
        )
    shutil.rmtree(os.path.dirname(prefix))


def bench_write(cfg: Config, rows: list[Row], raw: dict[str, Any]) -> None:
    d = os.path.join(cfg.workdir, "write")
    os.makedirs(d, exist_ok=True)
    nbytes = cfg.write_tensors * 4 * MIB
    size = f"{nbytes / GIB:g} GiB"
    log(f"3: write {cfg.write_tensors} x 4 MiB float32 ({size})")

    def args(side: str, rep: int) -> dict[str, Any]:
        return {
            "prefix": os.path.join(d, f"{side}-{rep + 1}", "ckpt"),
            "count": cfg.write_tensors,
            "elements": MIB,
            "fsync": side != "ours-nofsync",
        }

    def after(a: dict[str, Any]) -> None:
        shutil.rmtree(os.path.dirname(a["prefix"]))

    res = measure(cfg, "write", args, sides=("tf", "ours", "ours-nofsync"), after=after)
    raw["write"] = res
    floor = measure(cfg, "floor-write", args, sides=("floor",), after=after)
    raw["write_floor"] = floor
    tf_s, ours_s = med(res["tf"], "op_s"), med(res["ours"], "op_s")
    nosync_s = med(res["ours-nofsync"], "op_s")
    floor_s = med(floor["floor"], "op_s")
    rows.append(
        Row(
            f"3. write {size} ({cfg.write_tensors} x 4 MiB): `save()` (fsync) vs `SaveV2`",
            "s",
            tf_s,
            ours_s,
            ">= 3x TF; <= 1.3x floor",
            tf_s / ours_s >= 3 and ours_s <= 1.3 * floor_s,
            f"{nbytes / tf_s / 1e9:.2f} GB/s vs {nbytes / ours_s / 1e9:.2f} GB/s; "
            f"ours without fsync (as TF, which never syncs): {nosync_s:.3f} s, "
            f"{tf_s / nosync_s:.1f}x; floor: the same bytes in plain writes to one file, "
            f"fsync of it and of its directory",
            floor_s,
        )
    )
    shutil.rmtree(d)


def bench_list(cfg: Config, rows: list[Row], raw: dict[str, Any]) -> None:
    for entries, number in ((cfg.index_entries, "4"), (cfg.index_entries * 10, "7")):
        if cfg.only and number not in cfg.only and not (number == "4" and "8" in cfg.only):
            continue
        prefix = os.path.join(cfg.workdir, f"index{number}", "ckpt")
        log(f"{number}: making an index of {entries} small tensors")
        run_worker(cfg, "make-index", "ours", {"prefix": prefix, "entries": entries})
        index_size = os.path.getsize(prefix + ".index")
        warm = lambda p=prefix: set_cache(cfg, p)  # noqa: E731
        repeat = cfg.repeat if entries <= 100_000 else min(cfg.repeat, 3)
        if not cfg.only or number in cfg.only:
            res = measure(cfg, "list", {"prefix": prefix}, before=warm, repeat=repeat)
            floor = measure(cfg, "floor-list", {"prefix": prefix}, sides=("floor",), before=warm)
            raw[f"list_{entries}"] = res
            tf_s, ours_s = med(res["tf"], "op_s"), med(res["ours"], "op_s")
            rss_tf, rss_ours = peak(res["tf"]), peak(res["ours"])
            rows.append(
                Row(
                    f"{number}. `list_variables()`, {entries:,} entries "
                    f"({index_size / MIB:.1f} MiB index)",
                    "s",
                    tf_s,
                    ours_s,
                    ">= 5x TF; peak RSS <= TF's / 2",
                    tf_s / ours_s >= 5 and rss_ours <= rss_tf / 2,
                    f"peak RSS {rss_tf:.0f} MiB vs {rss_ours:.0f} MiB; floor: reading the "
                    f"index file; " + ("same listing" if same_check(res) else "LISTINGS DIFFER"),
                    med(floor["floor"], "op_s"),
                )
            )
        if number == "4" and (not cfg.only or "8" in cfg.only):
            log(f"8: load() of {entries} small tensors vs TF's loop over get_tensor")
            res = measure(cfg, "load-all", {"prefix": prefix}, before=warm)
            raw["load_small"] = res
            tf_s, ours_s = med(res["tf"], "op_s"), med(res["ours"], "op_s")
            rows.append(
                Row(
                    f"8. read all of {entries:,} small tensors: `load()` vs TF's loop over "
                    f"`get_tensor`",
                    "s",
                    tf_s,
                    ours_s,
                    ">= 5x TF",
                    tf_s / ours_s >= 5,
                    f"peak RSS {peak(res['tf']):.0f} vs {peak(res['ours']):.0f} MiB; "
                    + ("same values" if same_check(res) else "VALUES DIFFER"),
                )
            )
        shutil.rmtree(os.path.dirname(prefix))


def bench_shards(cfg: Config, rows: list[Row], raw: dict[str, Any]) -> None:
    prefix = os.path.join(cfg.workdir, "shards", "ckpt")
    shards, per_shard = 1000, 4
    log(f"9: a checkpoint of {shards} shards ({shards * per_shard} tensors of 64 KiB)")
    run_worker(cfg, "make-shards", "ours", {"prefix": prefix, "shards": shards,
                                             "per_shard": per_shard})  # fmt: skip
    warm = lambda: set_cache(cfg, prefix)  # noqa: E731
    res = measure(cfg, "load-all", {"prefix": prefix}, before=warm)
    raw["shards"] = res
    tf_s, ours_s = med(res["tf"], "op_s"), med(res["ours"], "op_s")
    rows.append(
        Row(
            f"9. read all of a {shards}-shard checkpoint ({shards * per_shard} x 64 KiB): "
            f"`load()` vs TF's loop over `get_tensor`",
            "s",
            tf_s,
            ours_s,
            "faster than TF",
            ours_s < tf_s,
            f"peak RSS {peak(res['tf']):.0f} vs {peak(res['ours']):.0f} MiB; "
            + ("same values" if same_check(res) else "VALUES DIFFER"),
        )
    )
    shutil.rmtree(os.path.dirname(prefix))


def bench_stream(cfg: Config, rows: list[Row], raw: dict[str, Any]) -> None:
    d = os.path.join(cfg.workdir, "stream")
    os.makedirs(d, exist_ok=True)
    count = -(-cfg.stream_total // cfg.stream_tensor)
    sizes = [cfg.stream_tensor] * count
    total = sum(sizes)
    free = shutil.disk_usage(d).free
    if free < total + 2 * GIB:
        raise SystemExit(f"stream-write needs {total / GIB:.1f} GiB on {d}, {free / GIB:.1f} free")
    log(
        f"6: streaming write of {total / GIB:.1f} GiB ({count} x {cfg.stream_tensor // MIB} MiB)"
        f" with BundleWriter; RAM {ram_bytes() / GIB:.1f} GiB"
    )
    limit = 2 * cfg.stream_tensor / MIB + 100

    def args(side: str, rep: int) -> dict[str, Any]:
        return {"prefix": os.path.join(d, f"s{rep + 1}", "ckpt"), "sizes": sizes}

    def after(a: dict[str, Any]) -> None:
        shutil.rmtree(os.path.dirname(a["prefix"]))

    reps = 1 if not cfg.quick else min(cfg.repeat, 2)
    res = measure(
        cfg, "stream-write", args, sides=("ours",), after=after, warmup=False, repeat=reps
    )
    raw["stream_write"] = res
    rss = peak(res["ours"])
    secs = med(res["ours"], "op_s")
    rows.append(
        Row(
            f"6. streaming write of {total / GIB:.1f} GiB "
            f"({count} x {cfg.stream_tensor // MIB} MiB) with `BundleWriter`, peak RSS",
            "MiB",
            None,
            rss,
            f"< {limit:.0f} MiB",
            rss < limit,
            f"{total / secs / 1e9:.2f} GB/s with fsync; RSS before writing "
            f"{max(r['rss_before_mib'] for r in res['ours']):.0f} MiB",
        )
    )
    shutil.rmtree(d)


# -- report ---------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"\n[{time.strftime('%H:%M:%S')}] {msg}", end="", file=sys.stderr, flush=True)


def ram_bytes() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {ram_bytes() / GIB:.1f} GiB RAM, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}; "
        f"load average {load}"
    )


def fmt(x: float | None, unit: str) -> str:
    if x is None:
        return "-"
    if unit == "s":
        return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"
    return f"{x:.0f} {unit}"


def table(rows: list[Row]) -> str:
    lines = [
        "| benchmark | TensorFlow | tfckpt-lite | floor | TF / ours | ours / floor | target "
        "| met | notes |",
        "|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.1f}x"
        over = "-" if r.over_floor is None else f"{r.over_floor:.2f}x"
        met = "-" if r.passed is None else ("yes" if r.passed else "**NO**")
        lines.append(
            f"| {r.name} | {fmt(r.tf, r.unit)} | {fmt(r.ours, r.unit)} | {fmt(r.floor, r.unit)} "
            f"| {ratio} | {over} | {r.target} | {met} | {r.note} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, 3 repetitions")
    ap.add_argument("--repeat", type=int, help="repetitions per measurement (default 5, quick 3)")
    ap.add_argument("--tf-python", default=os.environ.get("TFCKPT_TF_PYTHON", "python3"))
    ap.add_argument(
        "--our-python", help="interpreter for tfckpt-lite (default: the same as --tf-python)"
    )
    ap.add_argument("--workdir", help="where files go (default: a new directory in $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--cache", choices=("warm", "cold"), default="warm")
    ap.add_argument(
        "--only", default="", help="comma-separated benchmark numbers, e.g. 1,5 (default: all)"
    )
    ap.add_argument("--json", help="also write every raw measurement to this file")
    ns = ap.parse_args()

    quick = ns.quick
    ram = ram_bytes()
    stream_tensor = (64 if quick else 256) * MIB
    # Full mode: more than half of RAM, rounded up to whole tensors, plus a tensor.
    stream_total = 1 * GIB if quick else (ram // 2 // stream_tensor + 1) * stream_tensor
    workdir = ns.workdir or tempfile.mkdtemp(prefix="tfckpt-bench-")
    os.makedirs(workdir, exist_ok=True)
    cfg = Config(
        quick=quick,
        repeat=ns.repeat or (3 if quick else 5),
        tf_python=ns.tf_python,
        our_python=ns.our_python or ns.tf_python,
        workdir=workdir,
        cache=ns.cache,
        read_tensors=64 if quick else 256,
        write_tensors=64 if quick else 256,
        index_entries=100_000,
        stream_total=stream_total,
        stream_tensor=stream_tensor,
        only={s.strip() for s in ns.only.split(",") if s.strip()},
    )
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    started = time.time()
    try:
        compile_sources(cfg)
        if not cfg.only or cfg.only & {"1", "2", "5"}:
            bench_read(cfg, rows, raw)
        if not cfg.only or "3" in cfg.only:
            bench_write(cfg, rows, raw)
        if not cfg.only or cfg.only & {"4", "7", "8"}:
            bench_list(cfg, rows, raw)
        if not cfg.only or "9" in cfg.only:
            bench_shards(cfg, rows, raw)
        if not cfg.only or "6" in cfg.only:
            bench_stream(cfg, rows, raw)
    finally:
        if not ns.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(file=sys.stderr)
    rows.sort(key=lambda r: int(r.name.split(".")[0]))
    print(
        f"tfckpt-lite vs TensorFlow ({'quick' if quick else 'full'} mode, {cfg.repeat} runs each,"
        f" medians; page cache {cfg.cache}; {time.time() - started:.0f} s in all)"
    )
    print(f"Machine: {machine()}")
    print(f"Work directory: {workdir} ({'kept' if ns.keep else 'removed'})\n")
    print(table(rows))
    if ns.json:
        with open(ns.json, "w") as f:
            json.dump({"rows": [r.__dict__ for r in rows], "raw": raw}, f, indent=1)
    if any(r.passed is False for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
