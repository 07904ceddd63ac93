"""`CheckpointManager`: numbered checkpoints in one directory, old ones deleted as TF does.

The bookkeeping is TF's `tf.train.CheckpointManager`, rule for rule, so either manager can
take over a directory the other wrote:
  * on start, the state file's paths newer than `last_preserved_timestamp` (timestamps capped
    at "now"; missing timestamps count as that preserved time) are the managed list;
  * `save()` writes `<directory>/<checkpoint_name>-<N>`, moves it to the end of the list,
    records the state, sweeps, and records the state again (so a crash mid-sweep still
    leaves a state file naming the new checkpoint);
  * the sweep pops the oldest while more than `max_to_keep` remain; one at least
    `keep_checkpoint_every_n_hours` newer than the last preserved one is kept on disk (and
    leaves the list), every other one loses `P.index` and its `P.data-NNNNN-of-MMMMM` shards.
Differences, on purpose: paths the state file names outside `directory` are dropped from the
list but never deleted (a hostile or stale state file cannot make us delete foreign files); an
unreadable state file raises CorruptCheckpointError instead of being silently replaced; and
numbering without a `Checkpoint` object continues from the latest checkpoint's
`save_counter` (see `save`). Debris of interrupted saves (`*.tempstate<n>`, `*_temp/`) is never
listed, as only the state file names checkpoints, and never matches the deletion patterns.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._api import load_checkpoint
from ._checkpoint import Checkpoint
from ._errors import CheckpointError
from ._naming import OBJECT_GRAPH_KEY, SAVE_COUNTER, attribute_key, data_shard_re, index_filename
from ._state import get_checkpoint_state, update_checkpoint_state
from ._storage import destination
from ._writer import save as save_tensors

__all__ = ["CheckpointManager"]

_COUNTER_KEY = attribute_key(SAVE_COUNTER)


class CheckpointManager:
    """Keeps the last `max_to_keep` checkpoints of a directory, as `tf.train.CheckpointManager`.

    Example:
        mgr = tfckpt_lite.CheckpointManager("runs", max_to_keep=3)
        for step in range(10):
            mgr.save({"model": weights, "step": np.int64(step)})
        mgr.checkpoints        # ['runs/ckpt-8', 'runs/ckpt-9', 'runs/ckpt-10']
        mgr.latest_checkpoint  # 'runs/ckpt-10'
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        max_to_keep: int | None = 5,
        keep_checkpoint_every_n_hours: float | None = None,
        checkpoint_name: str = "ckpt",
        *,
        fsync: bool = True,
    ) -> None:
        if max_to_keep is not None and max_to_keep <= 0:
            raise ValueError(
                f"expected a positive integer or None for max_to_keep, got {max_to_keep}"
            )
        self._directory = os.fspath(directory)
        destination(self._directory)  # a URL whose store takes no writes is refused here
        self._max_to_keep = max_to_keep
        self._keep_every = keep_checkpoint_every_n_hours
        self._prefix = os.path.join(self._directory, checkpoint_name)
        self._fsync = fsync
        self._counter: int | None = None
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
    def checkpoints(self) -> list[str]:
        """Managed prefixes, oldest first (kept-forever ones are not listed, as in TF)."""
        return list(self._maybe_delete)

    @property
    def latest_checkpoint(self) -> str | None:
        """The newest prefix, as `latest_checkpoint(directory)` would return it."""
        return self._latest

    def _inside(self, prefix: str) -> bool:
        d = os.path.realpath(self._directory)
        return os.path.dirname(os.path.realpath(prefix)) == d

    def _next_number(self) -> int:
        if self._counter is None:
            self._counter = 0
            if self._latest is not None:
                try:
                    with load_checkpoint(self._latest) as r:
                        if _COUNTER_KEY in r:
                            self._counter = int(np.asarray(r[_COUNTER_KEY]).reshape(-1)[0])
                except (CheckpointError, OSError):
                    pass  # a missing or damaged latest checkpoint: start from 1 like TF
        self._counter += 1
        return self._counter

    def save(
        self,
        tree_or_tensors: Checkpoint | Mapping[str, Any],
        checkpoint_number: int | None = None,
        *,
        name_based: bool = False,
    ) -> str:
        """Write the next checkpoint and delete old ones; returns its prefix.

        `tree_or_tensors`:
          * a `Checkpoint`: its `save_counter` is incremented (as TF's manager does) and
            numbers the checkpoint unless `checkpoint_number` is given;
          * a mapping with `_CHECKPOINTABLE_OBJECT_GRAPH` (e.g. `load(src)` edited): written
            key by key, graph kept, its `save_counter` (if any) set to the new count;
          * with `name_based=True`, a flat mapping of names to tensors (no object graph);
          * any other mapping: a tree, written as `Checkpoint(**tree)` with a `save_counter`.
        Without a `Checkpoint` object the number continues from this manager's counter, which
        starts at the latest checkpoint's `save_counter` (TF starts a fresh `Checkpoint` at 0
        unless it is restored first; restoring is what TF users do before saving).
        """
        if isinstance(tree_or_tensors, Checkpoint):
            ckpt = tree_or_tensors
            ckpt.save_counter = (ckpt.save_counter or 0) + 1
            number = ckpt.save_counter if checkpoint_number is None else checkpoint_number
            prefix = f"{self._prefix}-{int(number)}"
            ckpt.write(prefix, fsync=self._fsync)
        else:
            counter = self._next_number()
            number = counter if checkpoint_number is None else checkpoint_number
            prefix = f"{self._prefix}-{int(number)}"
            if name_based or OBJECT_GRAPH_KEY in tree_or_tensors:
                tensors = dict(tree_or_tensors)
                if _COUNTER_KEY in tensors and not name_based:
                    tensors[_COUNTER_KEY] = np.array(counter, dtype=np.int64)  # as TF's would
                save_tensors(prefix, tensors, fsync=self._fsync)
            else:
                ckpt = Checkpoint(**dict(tree_or_tensors))
                ckpt.save_counter = counter
                ckpt.write(prefix, fsync=self._fsync)
        self._record_and_sweep(prefix)
        return prefix

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
            # The local disk or the bucket the prefix names (a URL is never a local path).
            dest, where = destination(prefix)
            dest.remove(index_filename(where))  # first: without it no checkpoint exists
            directory, name = os.path.split(where)
            shard = data_shard_re(name)
            try:
                names = dest.listdir(directory or ".")
            except OSError:
                continue
            for n in sorted(names):
                if shard.match(n):
                    dest.remove(dest.join(directory, n))

    def _record_state(self) -> None:
        assert self._latest is not None
        update_checkpoint_state(
            self._directory,
            self._latest,
            list(self._maybe_delete),
            list(self._maybe_delete.values()),
            self._last_preserved,
            save_relative_paths=True,
            fsync=self._fsync,
        )
