"""Primitive encodings shared by every layer of the format.

    varint32 / varint64   LEB128: 7 bits a byte, least significant group first, the high bit
                          set on every byte but the last. At most 5 / 10 bytes.
    fixed32 / fixed64     little-endian, whatever the host.
    masked CRC32C         Mask(c) = ROTR32(c, 15) + 0xa282ead8 (mod 2^32). TF stores every CRC
                          masked, because computing the CRC of data that embeds CRCs is fragile.

All decoders take `(buf, pos, limit)`, never read at or beyond `limit`, and raise
`CorruptCheckpointError` on truncation or overlong encodings: never IndexError/struct.error.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np

from ._errors import CorruptCheckpointError

__all__ = [
    "MASK_DELTA",
    "crc32c",
    "crc32c_many",
    "decode_fixed32",
    "decode_fixed64",
    "decode_varint",
    "decode_varint_words",
    "decode_varints",
    "encode_fixed32",
    "encode_fixed64",
    "encode_varint",
    "mask_crc",
    "unmask_crc",
    "unmask_crcs",
]

MASK_DELTA: Final = 0xA282EAD8
_U32: Final = 0xFFFFFFFF
_MAX_VARINT64_BYTES: Final = 10

Buffer = bytes | bytearray | memoryview


def _load_crc32c() -> Callable[[Any, int], int]:
    """The `crc32c` package's function, without the package's import-time costs if possible.

    `import crc32c` (2.4 and later) runs an `__init__` that imports importlib.metadata to read
    its own version, and argparse for its command line: about 20 ms, a fifth of what a fresh
    process needs to load one tensor. The function lives in the extension module
    `crc32c._crc32c`, so that module is loaded directly, as a private instance that is not
    put in `sys.modules` (it uses multi-phase initialisation with per-module state, so a later
    `import crc32c` simply loads its own instance). Anything unexpected, such as the older
    releases that are a single extension module, takes the plain import.
    """
    mod = sys.modules.get("crc32c._crc32c") or sys.modules.get("crc32c")
    if mod is None:
        try:
            # importlib.machinery is part of the interpreter's startup; importlib.util is not.
            from importlib.machinery import ExtensionFileLoader, PathFinder

            pkg = PathFinder.find_spec("crc32c")
            locations = pkg.submodule_search_locations if pkg is not None else None
            spec = PathFinder.find_spec("crc32c._crc32c", locations) if locations else None
            if spec is not None and isinstance(spec.loader, ExtensionFileLoader):
                ext = spec.loader.create_module(spec)
                spec.loader.exec_module(ext)
                mod = ext
        except Exception:
            mod = None
    if mod is None or not callable(getattr(mod, "crc32c", None)):
        import crc32c

        mod = crc32c
    function: Callable[[Any, int], int] = mod.crc32c
    return function


_crc32c: Final = _load_crc32c()


def crc32c(data: object, value: int = 0) -> int:
    """CRC32C (Castagnoli) of `data`, continuing from `value` (0 starts afresh).

    `data` may be any contiguous buffer (bytes, memoryview, mmap, numpy array): the `crc32c`
    package reads it in place without copying.
    """
    return _crc32c(data, value)


# `crc32c_many` uses a second thread only for at least this many bytes: below it the thread's
# start costs more than it saves.
_THREADED_MIN: Final = 8 << 20


def crc32c_many(buffers: Sequence[Any]) -> list[int]:
    """`crc32c` of each buffer, on two threads when there is enough data and a second core.

    The `crc32c` package releases the GIL while it reads a large buffer, so two threads
    taking buffers from one queue checksum about twice as fast as one on an idle second core,
    and no slower than one on a busy one (whichever thread is free takes the next buffer).
    """
    if len(buffers) < 2 or sum(memoryview(b).nbytes for b in buffers) < _THREADED_MIN:
        return [_crc32c(b, 0) for b in buffers]
    getaffinity = getattr(os, "sched_getaffinity", None)
    cores = len(getaffinity(0)) if getaffinity is not None else (os.cpu_count() or 1)
    if cores < 2:
        return [_crc32c(b, 0) for b in buffers]
    out = [0] * len(buffers)
    # A list iterator hands out each item once, under the GIL. The helper is joined before
    # returning, so that no thread of ours outlives the call (a caller may fork next; from
    # Python 3.13 the join also waits for the OS thread to end).
    import threading

    jobs = iter(enumerate(buffers))
    failed: list[BaseException] = []

    def work() -> None:
        try:
            for i, b in jobs:
                out[i] = _crc32c(b, 0)
        except BaseException as e:  # re-raised in the calling thread
            failed.append(e)

    helper = threading.Thread(target=work, name="tfckpt-crc32c", daemon=True)
    helper.start()
    work()
    helper.join()
    if failed:
        raise failed[0]
    return out


def mask_crc(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & _U32) + MASK_DELTA) & _U32


def unmask_crc(masked: int) -> int:
    rot = (masked - MASK_DELTA) & _U32
    return ((rot >> 17) | (rot << 15)) & _U32


def unmask_crcs(masked: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """`unmask_crc` of every element (integers below 2**32)."""
    rot = (masked.astype(np.int64) - MASK_DELTA) & _U32
    return ((rot >> 17) | (rot << 15)) & _U32


def encode_varint(value: int) -> bytes:
    """LEB128 of a non-negative integer below 2^64."""
    if value < 0 or value >> 64:
        raise ValueError(f"varint out of range: {value}")
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(buf: Buffer, pos: int, limit: int, what: str = "varint") -> tuple[int, int]:
    """Decode one varint64 from `buf[pos:limit]`; return (value, position after it)."""
    if pos < limit:
        b = buf[pos]
        if b < 0x80:  # the common one-byte case
            return b, pos + 1
    result = 0
    shift = 0
    for _ in range(_MAX_VARINT64_BYTES):
        if pos >= limit:
            raise CorruptCheckpointError(f"truncated {what}")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            if result >> 64:
                raise CorruptCheckpointError(f"{what} does not fit in 64 bits")
            return result, pos
        shift += 7
    raise CorruptCheckpointError(f"{what} is longer than 10 bytes")


_HIGH_BITS: Final = np.uint64(0x8080808080808080)
_LOW_BITS: Final = np.uint64(0x7F7F7F7F7F7F7F7F)
# Steps that move the 7-bit groups of a word together, as x86's PEXT would in one.
_COMPACT: Final = tuple(
    (np.uint64(keep), np.uint64(move), np.uint64(shift))
    for keep, move, shift in (
        (0x007F007F007F007F, 0x7F007F007F007F00, 1),
        (0x00003FFF00003FFF, 0x3FFF00003FFF0000, 2),
        (0x000000000FFFFFFF, 0x0FFFFFFF00000000, 4),
    )
)


def decode_varint_words(
    words: np.ndarray[Any, np.dtype[np.uint64]], *, values: bool = True
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, np.dtype[np.int64]] | None]:
    """(lengths, values) of the varints that start each little-endian 8-byte word.

    A varint's length is where its first byte without the continuation bit is; length 0
    marks a varint that does not end within the word (9 bytes or more: values of 2**56 and
    up), whose value is meaningless. With ``values=False`` only the lengths are computed.
    """
    stops = ~words & _HIGH_BITS
    last = stops & (~stops + np.uint64(1))  # the lowest stop bit: bit 8 * length - 1
    lengths = np.frexp(last.astype(np.float64))[1] // 8
    if not values:
        return lengths, None
    value = words & (last | (last - np.uint64(1))) & _LOW_BITS
    for keep, move, shift in _COMPACT:
        value = (value & keep) | ((value & move) >> shift)
    return lengths, value.astype(np.int64)


def decode_varints(
    buf: Buffer, pos: int, limit: int, count: int | None = None, what: str = "varint"
) -> tuple[np.ndarray[Any, np.dtype[np.uint64]], int]:
    """Decode `count` varint64s from `buf[pos:limit]` (all of them when None: then the range
    must end with a varint's last byte); return (values, position after the last).

    Vectorized: one NumPy pass per varint byte (at most ten), so a million string lengths or
    packed integers are not a million Python-level `decode_varint` calls.
    """
    window = limit - pos if count is None else min(limit - pos, _MAX_VARINT64_BYTES * count)
    a = np.frombuffer(buf, np.uint8, count=window, offset=pos)
    ends = np.flatnonzero(a < 0x80)
    if count is None:
        if len(a) and a[-1] >= 0x80:
            raise CorruptCheckpointError(f"truncated {what}: the field ends inside one")
    elif len(ends) < count:
        raise CorruptCheckpointError(
            f"{what}s longer than expected: {count} of them do not fit in {limit - pos} bytes"
        )
    else:
        ends = ends[:count]
    if len(ends) == 0:
        return np.zeros(0, np.uint64), pos
    starts = np.empty(len(ends), np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    widths = ends - starts + 1
    widest = int(widths.max())
    if widest == 1:
        return a[ends].astype(np.uint64), pos + int(ends[-1]) + 1
    if widest > _MAX_VARINT64_BYTES:
        raise CorruptCheckpointError(f"{what} is longer than 10 bytes")
    values = np.zeros(len(ends), np.uint64)
    for k in range(widest):
        sel = widths > k
        byte = a[starts[sel] + k].astype(np.uint64) & np.uint64(0x7F)
        if k == 9 and bool((byte > 1).any()):
            raise CorruptCheckpointError(f"{what} does not fit in 64 bits")
        values[sel] |= byte << np.uint64(7 * k)
    return values, pos + int(ends[-1]) + 1


_FIXED32: Final = struct.Struct("<I")
_FIXED64: Final = struct.Struct("<Q")


def decode_fixed32(buf: Buffer, pos: int, limit: int, what: str = "fixed32") -> int:
    if pos < 0 or pos + 4 > limit:
        raise CorruptCheckpointError(f"truncated {what}")
    value: int = _FIXED32.unpack_from(buf, pos)[0]
    return value


def decode_fixed64(buf: Buffer, pos: int, limit: int, what: str = "fixed64") -> int:
    if pos < 0 or pos + 8 > limit:
        raise CorruptCheckpointError(f"truncated {what}")
    value: int = _FIXED64.unpack_from(buf, pos)[0]
    return value


def encode_fixed32(value: int) -> bytes:
    return _FIXED32.pack(value)


def encode_fixed64(value: int) -> bytes:
    return _FIXED64.pack(value)
