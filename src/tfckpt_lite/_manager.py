"""`CheckpointManager` and the directory-level `tf.train` functions: numbered checkpoints in
one directory, old ones deleted as TF does, waiting for new ones.

The manager is TF's `tf.train.CheckpointManager`, argument for argument and rule for rule,
so either manager can take over a directory the other wrote:
  * `checkpoint` is duck-typed: anything with `write(file_prefix)` and a `save_counter` (this
    library's `Checkpoint` or `GraphCheckpoint`, or TF's own `tf.train.Checkpoint`);
  * on start, the state file's paths newer than `last_preserved_timestamp` (timestamps capped
    at "now"; missing timestamps count as that preserved time) are the managed list; a clock
    behind that timestamp is warned about, as TF does;
  * `save()` increments the checkpoint's `save_counter`, writes `<directory>/<checkpoint_name>-<N>`,
    moves it to the end of the list, records the state, sweeps, and records the state again
    (so a crash mid-sweep still leaves a state file naming the new checkpoint);
  * with `checkpoint_interval`, `save()` skips (returns None) until `step_counter` has moved
    that many steps past the last saved step;
  * the sweep pops the oldest while more than `max_to_keep` remain; one at least
    `keep_checkpoint_every_n_hours` newer than the last preserved one is kept on disk (and
    leaves the list), every other one loses `P.index` and its `P.data-NNNNN-of-MMMMM` shards.
Differences, on purpose: paths the state file names outside `directory` are dropped from the
list but never deleted (a hostile or stale state file cannot make us delete foreign files); an
unreadable state file raises CorruptCheckpointError instead of being silently replaced. Debris
of interrupted saves (`*.tempstate<n>`, `*_temp/`) is never listed, as only the state file
names checkpoints, and never matches the deletion patterns.
"""

from __future__ import annotations

import os
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ._api import latest_checkpoint
from ._naming import data_shard_re, index_filename
from ._sharding import CheckpointOptions
from ._state import (
    CheckpointState,
    checkpoint_files,
    generate_state,
    get_checkpoint_state,
    matching_files,
    update_checkpoint_state,
)
from ._storage import destination, filesystem_for, sibling

__all__ = [
    "CheckpointManager",
    "checkpoint_exists",
    "checkpoints_iterator",
    "generate_checkpoint_state_proto",
    "get_checkpoint_mtimes",
    "remove_checkpoint",
    "wait_for_new_checkpoint",
]


def _value(x: object) -> int:
    """An integer from a step counter: an int, a 0-d array, a NumPy scalar, a tf.Variable or
    a callable returning one of those."""
    if callable(x) and not hasattr(x, "numpy"):
        x = x()
    return int(np.asarray(x))


class CheckpointManager:
    """Keeps the last `max_to_keep` checkpoints of `checkpoint` in `directory`, as
    `tf.train.CheckpointManager` (same arguments, same files, same state text).

    Example:
        ckpt = tfckpt_lite.Checkpoint(model=weights, step=np.int64(0))
        mgr = tfckpt_lite.CheckpointManager(ckpt, "runs", max_to_keep=3)
        mgr.restore_or_initialize()    # resume from runs/ckpt-N if there is one
        for step in range(10):
            ...                        # update the arrays in `weights` in place
            mgr.save()                 # runs/ckpt-1, runs/ckpt-2, ...
        mgr.checkpoints                # the last three

    `step_counter` (with `checkpoint_interval`) is read with `int(np.asarray(x))`: pass a 0-d
    array you update in place, a tf.Variable, or a zero-argument callable.
    """

    def __init__(
        self,
        checkpoint: Any,
        directory: str | os.PathLike[str],
        max_to_keep: int | None,
        keep_checkpoint_every_n_hours: float | None = None,
        checkpoint_name: str = "ckpt",
        step_counter: Any = None,
        checkpoint_interval: int | None = None,
        init_fn: Callable[[], object] | None = None,
        last_checkpoint_step: int | None = None,
        *,
        fsync: bool = True,
    ) -> None:
        if isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError(
                "CheckpointManager takes TF's arguments: CheckpointManager(checkpoint, "
                f"directory, max_to_keep); got the path {os.fspath(checkpoint)!r} first. Wrap "
                "the objects to save in a Checkpoint: CheckpointManager(tfckpt_lite.Checkpoint("
                "**tree), directory, max_to_keep=5), then call save() without arguments."
            )
        if not (hasattr(checkpoint, "write") and hasattr(checkpoint, "save_counter")):
            raise TypeError(
                "checkpoint must have write(file_prefix) and a save_counter (a "
                f"tfckpt_lite.Checkpoint or tf.train.Checkpoint), got {type(checkpoint).__name__}"
            )
        if max_to_keep is not None and max_to_keep <= 0:
            raise ValueError(
                f"Expected a positive integer or `None` for `max_to_keep`, got {max_to_keep}."
            )
        if checkpoint_interval is not None and step_counter is None:
            raise ValueError(
                "`step_counter` should be passed if `checkpoint_interval` is not None."
            )
        self._checkpoint = checkpoint
        self._directory = os.fspath(directory)
        # A URL whose store takes no writes is refused here.
        self._remote = destination(self._directory)[0].remote
        self._max_to_keep = max_to_keep
        self._keep_every = keep_checkpoint_every_n_hours
        self._prefix = os.path.join(self._directory, checkpoint_name)
        self._step_counter = step_counter
        self._checkpoint_interval = checkpoint_interval
        self._last_checkpoint_step = last_checkpoint_step
        self._init_fn = init_fn
        self._fsync = fsync
        self._maybe_delete: OrderedDict[str, float] = OrderedDict()
        state = get_checkpoint_state(self._directory)
        now = time.time()
        if state is None:
            self._latest: str | None = None
            self._last_preserved = now - 1.0  # as TF: avoid races with a quick re-creation
            return
        self._latest = state.model_checkpoint_path
        self._last_preserved = state.last_preserved_timestamp
        if now < self._last_preserved:
            warnings.warn(
                f"time.time() returned a value {self._last_preserved - now:f} seconds behind the "
                "last preserved checkpoint timestamp.",
                stacklevel=2,
            )
            self._last_preserved = now  # the clock went back; never delete by mistake
        stamps = state.all_model_checkpoint_timestamps or [self._last_preserved] * len(
            state.all_model_checkpoint_paths
        )
        for path, stamp in zip(state.all_model_checkpoint_paths, stamps):
            stamp = min(stamp, now)
            if stamp > self._last_preserved and self._inside(path):
                self._maybe_delete[path] = stamp

    @property
    def directory(self) -> str:
        return self._directory

    @property
    def checkpoint(self) -> Any:
        """The checkpoint object this manager saves and restores."""
        return self._checkpoint

    @property
    def max_to_keep(self) -> int | None:
        return self._max_to_keep

    @property
    def checkpoint_interval(self) -> int | None:
        return self._checkpoint_interval

    @property
    def checkpoints(self) -> list[str]:
        """Managed prefixes, oldest first (kept-forever ones are not listed, as in TF)."""
        return list(self._maybe_delete)

    @property
    def latest_checkpoint(self) -> str | None:
        """The newest prefix, as `latest_checkpoint(directory)` would return it."""
        return self._latest

    def _inside(self, prefix: str) -> bool:
        if self._remote:  # in a bucket names are only strings: no links to resolve
            return sibling(prefix, "") == sibling(self._prefix, "")
        d = os.path.realpath(self._directory)
        return os.path.dirname(os.path.realpath(prefix)) == d

    def _increment_counter(self) -> int:
        counter = self._checkpoint.save_counter
        if hasattr(counter, "assign_add"):  # a tf.Variable (TF's own Checkpoint)
            counter.assign_add(1)
            return _value(counter)
        new = int(0 if counter is None else counter) + 1
        self._checkpoint.save_counter = new
        return new

    def save(
        self,
        checkpoint_number: Any = None,
        check_interval: bool = True,
        options: CheckpointOptions | None = None,
    ) -> str | None:
        """Write the next checkpoint and delete old ones; returns its prefix, or None when
        `checkpoint_interval` says it is too early (as TF's).

        The checkpoint's `save_counter` is incremented either way; `checkpoint_number` (an
        int, or anything `int(np.asarray(x))` reads) names the file instead of it.
        """
        if isinstance(checkpoint_number, (dict, list, tuple)) or hasattr(
            checkpoint_number, "items"
        ):
            raise TypeError(
                "save() takes TF's arguments (checkpoint_number=None, check_interval=True, "
                "options=None); the objects saved are the manager's checkpoint: "
                "CheckpointManager(tfckpt_lite.Checkpoint(**tree), directory, max_to_keep)"
            )
        if self._checkpoint_interval is not None:
            step = _value(self._step_counter)
            if self._last_checkpoint_step is not None:
                if step == self._last_checkpoint_step:
                    return None
                if check_interval and step < self._last_checkpoint_step + self._checkpoint_interval:
                    return None
            self._last_checkpoint_step = step
        counter = self._increment_counter()
        number = counter if checkpoint_number is None else _value(checkpoint_number)
        prefix = f"{self._prefix}-{number}"
        if hasattr(self._checkpoint, "_compile"):  # ours: pass fsync along
            self._checkpoint.write(prefix, options, fsync=self._fsync)
        elif options is not None:
            self._checkpoint.write(prefix, options=options)
        else:
            self._checkpoint.write(prefix)
        self._record_and_sweep(prefix)
        return prefix

    def restore_or_initialize(self) -> str | None:
        """Restore the latest checkpoint into `checkpoint` and return its prefix; with none
        in the directory, call `init_fn` (if given) and return None."""
        if self._latest is not None:
            self._checkpoint.restore(self._latest)
            if self._checkpoint_interval is not None:
                self._last_checkpoint_step = _value(self._step_counter)
            return self._latest
        if self._init_fn is not None:
            self._init_fn()
        return None

    def sync(self) -> None:
        """Wait for outstanding saves: saves here are synchronous, so this only forwards to
        the checkpoint's own `sync()` when it has one (TF's)."""
        sync = getattr(self._checkpoint, "sync", None)
        if callable(sync):
            sync()

    def _record_and_sweep(self, prefix: str) -> None:
        stamp = time.time()
        self._maybe_delete.pop(prefix, None)
        self._maybe_delete[prefix] = stamp
        self._latest = prefix
        self._record_state()
        self._sweep()
        self._record_state()

    def _sweep(self) -> None:
        if not self._max_to_keep:
            return
        while len(self._maybe_delete) > self._max_to_keep:
            prefix, stamp = self._maybe_delete.popitem(last=False)
            if self._keep_every and stamp - self._keep_every * 3600.0 >= self._last_preserved:
                self._last_preserved = stamp
                continue
            if not self._inside(prefix):
                continue
            _remove_bundle(prefix)

    def _record_state(self) -> None:
        assert self._latest is not None
        update_checkpoint_state(
            self._directory,
            self._latest,
            list(self._maybe_delete),
            all_model_checkpoint_timestamps=list(self._maybe_delete.values()),
            last_preserved_timestamp=self._last_preserved,
            save_relative_paths=True,
            fsync=self._fsync,
        )


def _remove_bundle(prefix: str) -> None:
    """Delete `P.index` first (without it no checkpoint exists), then `P.data-*` shards, on
    the local disk or in the bucket the prefix names (a URL is never a local path)."""
    dest, where = destination(prefix)
    dest.remove(index_filename(where))
    directory, name = os.path.split(where)
    shard = data_shard_re(name)
    try:
        names = dest.listdir(directory or ".")
    except OSError:
        return
    for n in sorted(names):
        if shard.match(n):
            dest.remove(dest.join(directory, n))


# -- module-level tf.train functions ----------------------------------------------------------


def checkpoint_exists(checkpoint_prefix: str | os.PathLike[str]) -> bool:
    """Whether a V2 (`P.index`) or V1 (`P`, or a sharded pattern `P-?????-of-00002`)
    checkpoint exists at the prefix, locally or in the store a URL names
    (`tf.compat.v1.train.checkpoint_exists`)."""
    fs, where = filesystem_for(os.fspath(checkpoint_prefix))
    return bool(checkpoint_files(where, fs))


def get_checkpoint_mtimes(checkpoint_prefixes: Sequence[str | os.PathLike[str]]) -> list[float]:
    """The modification time of each existing checkpoint, in order, missing ones skipped
    (`tf.compat.v1.train.get_checkpoint_mtimes`): that of the first file matching `P.index`,
    else `P` (V1; a sharded pattern matches several: the first in name order). Local files
    give whole seconds, as TF's file system reports them."""
    out: list[float] = []
    for p in checkpoint_prefixes:
        fs, where = filesystem_for(os.fspath(p))
        for pattern in (index_filename(where), where):
            found = matching_files(pattern, fs)
            if found:
                out.append(fs.mtime(found[0]))
                break
    return out


def remove_checkpoint(
    checkpoint_prefix: str | os.PathLike[str],
    checkpoint_format_version: int = 2,
    meta_graph_suffix: str = "meta",
) -> None:
    """Delete a checkpoint's files: `P.index` first (so nothing half-deleted looks like a
    checkpoint), its data shards, and `P.meta`; V1 (`checkpoint_format_version=1`): `P` and
    `P.meta`. Missing files are ignored."""
    prefix = os.fspath(checkpoint_prefix)
    if checkpoint_format_version == 2:
        _remove_bundle(prefix)
    dest, where = destination(prefix)
    if checkpoint_format_version != 2:
        dest.remove(where)
    dest.remove(f"{where}.{meta_graph_suffix}")


def generate_checkpoint_state_proto(
    save_dir: str | os.PathLike[str],
    model_checkpoint_path: str,
    all_model_checkpoint_paths: Sequence[str] | None = None,
    all_model_checkpoint_timestamps: Sequence[float] | None = None,
    last_preserved_timestamp: float | None = None,
) -> CheckpointState:
    """The `CheckpointState` TF would write for these arguments (paths kept as given;
    `model_checkpoint_path` appended to the list when it is not its last element)."""
    return generate_state(
        os.fspath(save_dir),
        os.fspath(model_checkpoint_path),
        list(all_model_checkpoint_paths or []),
        all_model_checkpoint_timestamps,
        last_preserved_timestamp,
    )


def wait_for_new_checkpoint(
    checkpoint_dir: str | os.PathLike[str],
    last_checkpoint: str | None = None,
    seconds_to_sleep: float = 1,
    timeout: float | None = None,
) -> str | None:
    """Poll `checkpoint_dir` until its latest checkpoint differs from `last_checkpoint`;
    returns it, or None after `timeout` seconds (None: wait forever), as TF's."""
    stop = None if timeout is None else time.time() + timeout
    while True:
        path = latest_checkpoint(checkpoint_dir)
        if path is not None and path != last_checkpoint:
            return path
        if stop is not None and time.time() + seconds_to_sleep > stop:
            return None
        time.sleep(seconds_to_sleep)


def checkpoints_iterator(
    checkpoint_dir: str | os.PathLike[str],
    min_interval_secs: float = 0,
    timeout: float | None = None,
    timeout_fn: Callable[[], bool] | None = None,
) -> Iterator[str]:
    """Yield each new checkpoint of `checkpoint_dir` as it appears, as
    `tf.train.checkpoints_iterator`.

    At most one every `min_interval_secs`; after `timeout` seconds without a new one,
    `timeout_fn()` (if given) decides: True stops, False keeps waiting; without it, stop.
    """
    last: str | None = None
    while True:
        path = wait_for_new_checkpoint(checkpoint_dir, last, timeout=timeout)
        if path is None:
            if timeout_fn is None or timeout_fn():
                return
            continue
        start = time.time()
        last = path
        yield path
        left = start + min_interval_secs - time.time()
        if left > 0:
            time.sleep(left)
