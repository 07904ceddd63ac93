"""Record what TensorFlow 2.21 reads from the real-world checkpoint corpus.

    /work/tfvenv/bin/python testdata/generate_realworld.py [CORPUS_DIR]

CORPUS_DIR defaults to ``../shared/real-world-checkpoints`` relative to the repository root.
The corpus files are never copied into the repository; only their relative paths and what
TF read from them go to ``testdata/realworld_expected.json`` (one checkpoint per line). A summary
table is printed and written into the generated section of ``testdata/README.md``.

Checkpoints found:

* V2 bundles: every ``X.index`` gives the prefix ``X`` (also ``variables/variables``);
* V1 TensorSlice tables: files ending in the LevelDB magic ``57 fb 80 8b 24 75 47 db`` that are
  not ``.index`` / ``.data-*`` files (``model.ckpt``, ``export``, a binary ``checkpoint``,
  ...). Sharded V1 sets ``X-00000-of-0000N`` are recorded once, by the glob pattern
  ``X-?????-of-0000N`` that TF's V1 reader accepts.

TF is driven from a worker subprocess that appends one JSON line per checkpoint; if TF aborts
the process (CHECK failures do that), the checkpoint is recorded as ``crashed`` and a new
worker continues with the next one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(HERE))

from _table import TABLE_MAGIC, describe_files  # noqa: E402
from canonical import canonical_digest  # noqa: E402

OUT = REPO / "testdata" / "realworld_expected.json"
SHARD_RE = re.compile(r"(.*)-(\d{5})-of-(\d{5})")
README_BEGIN = "<!-- BEGIN GENERATED: realworld (testdata/generate_realworld.py) -->"
README_END = "<!-- END GENERATED: realworld -->"


def _is_table(path: Path) -> bool:
    size = path.stat().st_size
    if size < 48:
        return False
    with path.open("rb") as f:
        f.seek(size - 8)
        return f.read(8) == TABLE_MAGIC


def find_checkpoints(root: Path) -> list[dict[str, Any]]:
    """Every checkpoint under ``root``: prefix (relative, as TF is given it), format, files."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root)
        if path.name.endswith(".index"):
            prefix = str(rel)[: -len(".index")]
            files = sorted(
                str(q.relative_to(root))
                for q in path.parent.iterdir()
                if q.name == path.name or q.name.startswith(path.name[: -len(".index")] + ".data-")
            )
            found[prefix] = {"prefix": prefix, "format": "v2", "files": files}
        elif ".data-" in path.name or not _is_table(path):
            continue
        else:
            m = SHARD_RE.fullmatch(path.name)
            if m:
                prefix = str(rel.parent / f"{m.group(1)}-?????-of-{m.group(3)}")
                rec = found.setdefault(prefix, {"prefix": prefix, "format": "v1", "files": []})
                rec["files"].append(str(rel))
            else:
                found[str(rel)] = {"prefix": str(rel), "format": "v1", "files": [str(rel)]}
    return [found[k] for k in sorted(found)]


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    for i, ln in enumerate(lines):  # graph-mode errors: the message follows "Node: ..."
        if ln.startswith("Node: ") and i + 1 < len(lines):
            line = lines[i + 1]
            break
    # Absolute paths of this machine would make the file machine-specific.
    line = line.replace(str(CORPUS_ROOT) + os.sep, "<corpus>/")
    return f"{type(e).__name__}: {line}"


CORPUS_ROOT = Path()


def examine(root: Path, item: dict[str, Any]) -> dict[str, Any]:
    import tensorflow as tf

    prefix = str(root / item["prefix"])
    rec: dict[str, Any] = dict(item)
    try:
        rec["index"] = describe_files(prefix, item["format"], [root / f for f in item["files"]])
    except Exception as e:  # our own little parser failing is worth knowing too
        rec["index_error"] = f"{type(e).__name__}: {e}"
    if item["format"] == "v2":
        data = [f for f in item["files"] if ".data-" in f]
        rec["data_files_present"] = len(data)
    try:
        listed = tf.train.list_variables(prefix)
        reader = tf.train.load_checkpoint(prefix)
        dtypes = reader.get_variable_to_dtype_map()
    except Exception as e:
        rec["open_error"] = _first_line(e)
        rec["status"] = "open_failed"
        return rec
    if "?" in item["prefix"]:
        # A V1 shard set is given to TF as a glob pattern; does the plain file name work too?
        try:
            tf.train.list_variables(str(root / item["files"][0]))
            rec["tf_accepts_file_path"] = True
        except Exception:
            rec["tf_accepts_file_path"] = False
    tensors: dict[str, Any] = {}
    for key, shape in listed:
        t: dict[str, Any] = {"dtype": dtypes[key].name, "shape": list(shape)}
        try:
            t["digest"] = canonical_digest(reader.get_tensor(key))
        except Exception as e:
            t["error"] = _first_line(e)
            try:
                (restored,) = tf.raw_ops.RestoreV2(
                    prefix=prefix,
                    tensor_names=[key],
                    shape_and_slices=[""],
                    dtypes=[dtypes[key]],
                )
                t["restore_v2_digest"] = canonical_digest(restored.numpy())
            except Exception as e2:
                t["restore_v2_error"] = _first_line(e2)
        tensors[key] = t
    rec["tensors"] = tensors
    n_err = sum(1 for t in tensors.values() if "error" in t)
    rec["status"] = "full" if n_err == 0 else ("partial" if n_err < len(tensors) else "no_values")
    return rec


def worker(root: Path, items_file: Path, start: int, out_file: Path, progress: Path) -> None:
    global CORPUS_ROOT
    CORPUS_ROOT = root
    items = json.loads(items_file.read_text())
    with out_file.open("a") as out:
        for i in range(start, len(items)):
            progress.write_text(str(i))
            rec = examine(root, items[i])
            out.write(json.dumps(rec, sort_keys=True, separators=(",", ":")) + "\n")
            out.flush()


def run_all(root: Path, items: list[dict[str, Any]], tmp: Path) -> list[dict[str, Any]]:
    tmp.mkdir(parents=True, exist_ok=True)
    items_file, out_file, progress = tmp / "items.json", tmp / "out.jsonl", tmp / "progress"
    items_file.write_text(json.dumps(items))
    out_file.write_text("")
    results: dict[str, dict[str, Any]] = {}
    start = 0
    while start < len(items):
        progress.write_text(str(start))
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", str(start), str(root), str(tmp)],
            capture_output=True,
            text=True,
        )
        for line in out_file.read_text().splitlines():
            rec = json.loads(line)
            results[rec["prefix"]] = rec
        if proc.returncode == 0:
            break
        failed = int(progress.read_text())
        tail = [ln for ln in proc.stderr.splitlines() if "Check failed" in ln or "F0000" in ln]
        rec = dict(items[failed])
        rec["status"] = "crashed"
        rec["open_error"] = f"process aborted (exit {proc.returncode}): " + (
            tail[0].split("] ", 1)[-1] if tail else proc.stderr.strip().splitlines()[-1]
        )
        results[rec["prefix"]] = rec
        start = failed + 1
    return [results[it["prefix"]] for it in items]


def summarize(results: list[dict[str, Any]], tf_version: str) -> str:
    status = Counter(r["status"] for r in results)
    fmt = Counter(r["format"] for r in results)
    lines = [
        f"Corpus: `shared/real-world-checkpoints` ({len(results)} checkpoints: "
        f"{fmt['v2']} V2 bundles, {fmt['v1']} V1 TensorSlice files/sets). "
        f"Read with TensorFlow {tf_version}.",
        "",
        "| status | count | meaning |",
        "|---|---:|---|",
        f"| full | {status['full']} | listed, and `get_tensor` returns every key |",
        f"| partial | {status['partial']} | listed; some keys fail |",
        f"| no_values | {status['no_values']} | listed; every key fails |",
        f"| open_failed | {status['open_failed']} | `list_variables`/`load_checkpoint` fail |",
        f"| crashed | {status['crashed']} | TF aborted the process |",
        "",
        "Other facts: "
        f"{sum(1 for r in results if r.get('index', {}).get('snappy_blocks'))} with "
        "snappy-compressed index blocks; "
        f"{sum(1 for r in results if r.get('index', {}).get('has_object_graph'))} with "
        "`_CHECKPOINTABLE_OBJECT_GRAPH`; "
        f"{sum(1 for r in results if (r.get('index', {}).get('num_shards') or 0) > 1)} V2 "
        "with num_shards > 1; "
        f"{sum(1 for r in results if r['format'] == 'v2' and r.get('data_files_present') == 0)}"
        " V2 index-only (no data file in the corpus).",
        "",
        "Not fully read by TF, grouped by cause (first error per checkpoint):",
        "",
    ]
    causes: dict[str, list[str]] = {}
    for r in results:
        if r["status"] == "full":
            continue
        if "open_error" in r:
            cause = r["open_error"]
        else:
            errs = [t["error"] for t in r["tensors"].values() if "error" in t]
            cause = errs[0]
        cause = re.sub(r"<corpus>/\S+", "<path>", cause)
        cause = re.sub(r"[Kk]ey \S+ not found", "Key <k> not found", cause)
        causes.setdefault(cause[:200], []).append(f"{r['prefix']} ({r['status']})")
    for cause, prefixes in sorted(causes.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"* {len(prefixes)} x `{cause}`")
        lines.extend(f"  * `{p}`" for p in prefixes)
    return "\n".join(lines)


def replace_section(text: str, body: str) -> str:
    if README_BEGIN in text and README_END in text:
        head, rest = text.split(README_BEGIN, 1)
        _, tail = rest.split(README_END, 1)
        return f"{head}{README_BEGIN}\n{body}\n{README_END}{tail}"
    return (
        f"{text.rstrip()}\n\n## Real-world corpus: what TF reads (generated)\n\n"
        f"{README_BEGIN}\n{body}\n{README_END}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="TF 2.21 expectations for the real corpus")
    parser.add_argument(
        "corpus", nargs="?", default=str(REPO.parent / "shared" / "real-world-checkpoints")
    )
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("tmp", nargs="?", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    root = Path(args.corpus).resolve()
    if args.worker is not None:
        tmp = Path(args.tmp)
        worker(root, tmp / "items.json", args.worker, tmp / "out.jsonl", tmp / "progress")
        return 0
    import tempfile

    import tensorflow as tf

    items = find_checkpoints(root)
    print(f"{len(items)} checkpoints under {root}", flush=True)
    with tempfile.TemporaryDirectory() as tmpdir:
        results = run_all(root, items, Path(tmpdir))
    header = {
        "corpus": "shared/real-world-checkpoints",
        "generator": "testdata/generate_realworld.py",
        "tf_version": tf.__version__,
        "digest_rule": "tests/canonical.py canonical_digest of reader.get_tensor(key)",
        "count": len(results),
    }
    with Path(args.out).open("w") as f:
        f.write('{"meta":' + json.dumps(header, sort_keys=True, separators=(",", ":")) + ",\n")
        f.write('"checkpoints":[\n')
        for i, r in enumerate(results):
            sep = "," if i + 1 < len(results) else ""
            f.write(json.dumps(r, sort_keys=True, separators=(",", ":")) + sep + "\n")
        f.write("]}\n")
    summary = summarize(results, tf.__version__)
    print(summary)
    readme = HERE / "README.md"
    readme.write_text(replace_section(readme.read_text(), summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
