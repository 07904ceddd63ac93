"""Every name TF gives a checkpoint's files, tensors and objects: one home for each rule.

As TF keeps them in `tensor_bundle/naming.cc`, `saved_model/constants.py` and
`trackable/base.py`/`trackable_utils.py`. Nothing here touches a file.

Files (P is the prefix the user passes):
    P.index                     V2 bundle: the sorted table of entries
    P.data-NNNNN-of-MMMMM       V2 data shard N of M (`%05d`: five digits or more)
    P or P-NNNNN-of-MMMMM       a V1 checkpoint, one file or shards (TF records the glob
                                `P-?????-of-MMMMM`)
    DIR/checkpoint              the state file naming a directory's checkpoints
    DIR/variables/variables     a SavedModel's checkpoint prefix
Temporary files of an unfinished write are `<final name>.tempstate<u64 in decimal>` (TF's
`TempFilename`; every atomic write here uses it), and a sharded save's per-shard bundles
`P_temp[_<32 hex>]/part-NNNNN-of-MMMMM`. No name `is_temp_name` accepts is ever a checkpoint.

Keys. A key is `str` in the API and UTF-8 bytes on disk; surrogateescape keeps any non-UTF-8
key round-trippable. The TF2 object graph is the tensor `_CHECKPOINTABLE_OBJECT_GRAPH`. An
object path is the `/`-joined *escaped* local names from the root: `escape(n)` doubles `.`
and turns `/` into `.S`, so `"a.b/c"` is `a..b.Sc`. The variable at path `p` has key
`p/.ATTRIBUTES/VARIABLE_VALUE`; a slot variable's path is
`<variable path>/.OPTIMIZER_SLOT/<optimizer path>/<slot>`. An escaped component never equals
`.OPTIMIZER_SLOT` or `.ATTRIBUTES` (a leading `.` is always doubled), so the markers are
unambiguous.

Names as a tree (`nest_names`: `load_tree` of a name-based checkpoint, conversions to an
object graph, `tfckpt tree`): names split at every `/`; a name that is also a group of
other names (`dense/kernel` beside `dense/kernel/Adam`) keeps its value under the key `""`
of its group.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from typing import Final, TypeAlias, TypeVar

__all__ = [
    "GROUP_VALUE",
    "INDEX_SUFFIX",
    "OBJECT_ATTRIBUTES",
    "OBJECT_GRAPH_KEY",
    "OPTIMIZER_SLOT",
    "SAVEDMODEL_PB",
    "SAVEDMODEL_PBTXT",
    "SAVEDMODEL_VARIABLES",
    "SAVE_COUNTER",
    "STATE_FILENAME",
    "VARIABLE_VALUE",
    "VARIABLE_VALUE_SUFFIX",
    "NameTree",
    "attribute_key",
    "data_file_prefix",
    "data_filename",
    "data_shard_re",
    "decode_key",
    "encode_key",
    "escape_local_name",
    "index_filename",
    "is_bundle_file",
    "is_temp_name",
    "nest_names",
    "part_prefix",
    "shard_suffix",
    "split_path",
    "temp_filename",
    "unescape_local_name",
    "v1_shard_re",
]

# -- files --------------------------------------------------------------------------------------

INDEX_SUFFIX: Final = ".index"
STATE_FILENAME: Final = "checkpoint"
# A SavedModel's checkpoint prefix, relative to its directory: `DIR/variables/variables`.
SAVEDMODEL_VARIABLES: Final = ("variables", "variables")
# A SavedModel's graphs and signatures: the binary proto, or (rarely) its text form.
SAVEDMODEL_PB: Final = "saved_model.pb"
SAVEDMODEL_PBTXT: Final = "saved_model.pbtxt"
_SHARD: Final = r"(?P<shard>\d{5,})-of-(?P<num_shards>\d{5,})"
# Patterns, not compiled ones: `re` compiles them on first use (and caches them), so opening a
# checkpoint whose path has neither `.data-` nor `temp` in it never pays for compiling them.
_DATA_FILE_PATTERN: Final = rf"^(?P<prefix>.+)\.data-{_SHARD}$"
# TF's debris: `X.tempstate<u64>` files and the per-shard `P_temp[_<hex>]/part-NNNNN-of-NNNNN`
# bundles of an unfinished sharded save. Anchored so user paths like `run_temp/parts` pass.
_TEMP_PATTERN: Final = r"\.tempstate\d+$|_temp(_[0-9a-f]{32})?/part-\d{5,}-of-\d{5,}"


def is_temp_name(path: str) -> bool:
    """Whether `path` is TF's debris (see `_TEMP_PATTERN`), never a checkpoint."""
    return "temp" in path and re.search(_TEMP_PATTERN, path) is not None


def shard_suffix(shard: int, num_shards: int) -> str:
    """`NNNNN-of-MMMMM`, as TF formats shard numbers (`%05d`)."""
    return f"{shard:05d}-of-{num_shards:05d}"


def index_filename(prefix: str) -> str:
    return prefix + INDEX_SUFFIX


def data_filename(prefix: str, shard: int, num_shards: int) -> str:
    return f"{prefix}.data-{shard_suffix(shard, num_shards)}"


def data_file_prefix(path: str) -> str | None:
    """The prefix P when `path` is named like a data shard `P.data-NNNNN-of-MMMMM`."""
    m = re.match(_DATA_FILE_PATTERN, path) if ".data-" in path else None
    return m.group("prefix") if m else None


def is_bundle_file(path: str) -> bool:
    """Whether `path` is named like a V2 bundle's index or data file."""
    return path.endswith(INDEX_SUFFIX) or data_file_prefix(path) is not None


def data_shard_re(base: str) -> re.Pattern[str]:
    """Matches the data shards of prefix `base` (a file name, no directory)."""
    return re.compile(re.escape(base) + rf"\.data-{_SHARD}$")


def v1_shard_re(base: str) -> re.Pattern[str]:
    """Matches the shards `base-NNNNN-of-MMMMM` of a V1 checkpoint (a file name, no directory).
    With an empty `base` it finds the shard suffix of any name (`search`)."""
    return re.compile(re.escape(base) + rf"-{_SHARD}$")


def part_prefix(prefix: str, part: int, num_parts: int) -> str:
    """Where part `part` of a sharded save writes its bundle before the merge (TF 2's
    `<prefix>_temp/part-NNNNN-of-MMMMM`; TF adds `_<32 hex>` to `_temp` for some callers)."""
    return f"{prefix}_temp/part-{shard_suffix(part, num_parts)}"


def temp_filename(final: str) -> str:
    """A fresh temporary name beside `final` (TF's `TempFilename`), to be renamed onto it."""
    # os.urandom rather than the secrets module: the same bytes, minus 5 ms of imports.
    return f"{final}.tempstate{int.from_bytes(os.urandom(8), 'little')}"


# -- keys -----------------------------------------------------------------------------------------


def decode_key(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def encode_key(key: str) -> bytes:
    return key.encode("utf-8", "surrogateescape")


OBJECT_GRAPH_KEY: Final = "_CHECKPOINTABLE_OBJECT_GRAPH"
OBJECT_ATTRIBUTES: Final = ".ATTRIBUTES"
OPTIMIZER_SLOT: Final = ".OPTIMIZER_SLOT"
VARIABLE_VALUE: Final = "VARIABLE_VALUE"
VARIABLE_VALUE_SUFFIX: Final = f"/{OBJECT_ATTRIBUTES}/{VARIABLE_VALUE}"
# tf.train.Checkpoint's counter of save() calls: a root child, key `save_counter/.ATTRIBUTES/...`.
SAVE_COUNTER: Final = "save_counter"


def escape_local_name(name: str) -> str:
    """TF's `trackable_utils.escape_local_name`: `.` -> `..`, then `/` -> `.S`."""
    return name.replace(".", "..").replace("/", ".S")


def unescape_local_name(escaped: str) -> str:
    """Inverse of `escape_local_name`; a lone `.` not followed by `.` or `S` is an error."""
    out: list[str] = []
    i = 0
    n = len(escaped)
    while i < n:
        c = escaped[i]
        if c != ".":
            out.append(c)
            i += 1
            continue
        nxt = escaped[i + 1] if i + 1 < n else ""
        if nxt == ".":
            out.append(".")
        elif nxt == "S":
            out.append("/")
        else:
            raise ValueError(f"{escaped!r} is not an escaped local name (lone '.')")
        i += 2
    return "".join(out)


def attribute_key(path: str, attribute: str = VARIABLE_VALUE) -> str:
    """The bundle key TF gives attribute `attribute` of the object at escaped path `path`."""
    suffix = "" if attribute == ".TENSORS" else escape_local_name(attribute)
    return f"{path}/{OBJECT_ATTRIBUTES}/{suffix}"


def split_path(path: str | Sequence[str]) -> list[str]:
    """Raw local names of a path: a `/`-joined escaped string, or already a list of names."""
    if isinstance(path, str):
        if path in ("", "/"):
            return []
        parts = path.strip("/").split("/")
        return [p if p == OPTIMIZER_SLOT else unescape_local_name(p) for p in parts]
    return list(path)


# -- names as a tree ------------------------------------------------------------------------------

#: In `nest_names`' tree, the key under which a name that is also a group keeps its value.
GROUP_VALUE: Final = ""

_V = TypeVar("_V")
#: `nest_names`' result: name -> a value, or the group of names below it.
NameTree: TypeAlias = "dict[str, NameTree[_V] | _V]"


def nest_names(items: Iterable[tuple[str, _V]]) -> NameTree[_V]:
    """Names split at ``/`` into nested dicts, in the order given: ``[("a/b", v)]`` is
    ``{"a": {"b": v}}``. Values must not be dicts (a dict is a group).

    The one collision rule: a name that is also a group of others (``a`` beside ``a/b``),
    in either order, keeps its value under `GROUP_VALUE` (``""``) in its group:
    ``{"a": {"": v, "b": w}}``. An empty component (``a//b``, ``a/``) is a name ``""``
    like any other; where it would take the place of a group's own value, the two names
    (``a`` and ``a//b`` or ``a/``) collide, as does a name given twice.

    Raises:
        ValueError: two names collide (the message names both).
    """
    tree: NameTree[_V] = {}
    # Groups whose GROUP_VALUE entry holds their own name's value (rather than a name "").
    valued: set[int] = set()
    owner: dict[int, str] = {}  # id(group) -> the name whose value it holds, for messages

    def clash(name: str, other: str) -> ValueError:
        return ValueError(f"names {other!r} and {name!r} take the same place when nested at '/'")

    for name, value in items:
        *groups, last = name.split("/")
        node = tree
        for i, part in enumerate(groups):
            held = node.get(part, tree)  # `tree`: nothing there yet
            if held is tree:
                held = node[part] = {}
            elif not isinstance(held, dict):
                if part == GROUP_VALUE and id(node) in valued:
                    raise clash(name, owner[id(node)])
                held = node[part] = {GROUP_VALUE: held}  # a value that is also a group
                valued.add(id(held))
                owner[id(held)] = "/".join(groups[: i + 1])
            node = held
        held = node.get(last, tree)
        if held is tree:
            node[last] = value
        elif isinstance(held, dict) and GROUP_VALUE not in held:
            held[GROUP_VALUE] = value
            valued.add(id(held))
            owner[id(held)] = name
        elif isinstance(held, dict):  # its "" is taken: by `name` itself, or by `name/...`
            raise clash(name, owner.get(id(held), f"{name}/..."))
        elif last == GROUP_VALUE and id(node) in valued:  # `name` is `group/`
            raise clash(name, owner[id(node)])
        else:
            raise clash(name, name)
    return tree
