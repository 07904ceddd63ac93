"""Minimal, independent reader of TensorFlow's LevelDB-style table files (``.index``, V1).

Used only by the fixture generators to describe files (block compression, raw keys,
num_shards); it is *not* the library. Follows FORMAT.md section 3: 48-byte footer,
index block of BlockHandles, 5-byte block trailers (type byte + masked CRC; the CRC is
not checked here), type 1 = Snappy (raw format, decompressed here in pure Python).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["TABLE_MAGIC", "Table", "read_table", "snappy_decompress"]

TABLE_MAGIC = bytes.fromhex("57fb808b247547db")


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def snappy_decompress(data: bytes) -> bytes:
    """Decode the Snappy raw (block) format."""
    n, pos = _varint(data, 0)
    out = bytearray()
    while pos < len(data):
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            length = tag >> 2
            if length >= 60:
                nbytes = length - 59
                length = int.from_bytes(data[pos : pos + nbytes], "little")
                pos += nbytes
            length += 1
            out += data[pos : pos + length]
            pos += length
            continue
        if kind == 1:
            length = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        elif kind == 2:
            length = (tag >> 2) + 1
            offset = int.from_bytes(data[pos : pos + 2], "little")
            pos += 2
        else:
            length = (tag >> 2) + 1
            offset = int.from_bytes(data[pos : pos + 4], "little")
            pos += 4
        if offset == 0 or offset > len(out):
            raise ValueError("bad snappy copy offset")
        for _ in range(length):  # copies may overlap their own output
            out.append(out[-offset])
    if len(out) != n:
        raise ValueError(f"snappy length mismatch: header {n}, got {len(out)}")
    return bytes(out)


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    n_restarts = int.from_bytes(block[-4:], "little")
    limit = len(block) - 4 - 4 * n_restarts
    pos = 0
    key = b""
    out = []
    while pos < limit:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        vlen, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        out.append((key, block[pos : pos + vlen]))
        pos += vlen
    return out


@dataclass
class Table:
    entries: list[tuple[bytes, bytes]] = field(default_factory=list)
    # Trailer type byte of every block read: data blocks, then the index block.
    data_block_types: list[int] = field(default_factory=list)
    index_block_type: int = 0

    @property
    def any_snappy(self) -> bool:
        return self.index_block_type == 1 or 1 in self.data_block_types

    def get(self, key: bytes) -> bytes | None:
        for k, v in self.entries:
            if k == key:
                return v
        return None


def _read_block(data: bytes, offset: int, size: int) -> tuple[bytes, int]:
    raw = data[offset : offset + size]
    kind = data[offset + size]
    if kind == 1:
        return snappy_decompress(raw), kind
    if kind != 0:
        raise ValueError(f"bad block type {kind}")
    return raw, kind


def read_table(path: str | Path) -> Table:
    data = Path(path).read_bytes()
    if len(data) < 48 or data[-8:] != TABLE_MAGIC:
        raise ValueError(f"{path}: not a table file")
    footer = data[-48:]
    _, p = _varint(footer, 0)
    _, p = _varint(footer, p)
    ioff, p = _varint(footer, p)
    isize, p = _varint(footer, p)
    index, itype = _read_block(data, ioff, isize)
    table = Table(index_block_type=itype)
    for _, handle in _block_entries(index):
        boff, q = _varint(handle, 0)
        bsize, q = _varint(handle, q)
        block, btype = _read_block(data, boff, bsize)
        table.data_block_types.append(btype)
        table.entries += _block_entries(block)
    return table


def _slice_list(slice_proto: object) -> list[list[int]]:
    out = []
    for ext in slice_proto.extent:  # type: ignore[attr-defined]
        has_length = ext.WhichOneof(ext.DESCRIPTOR.oneofs[0].name) is not None
        out.append([int(ext.start), int(ext.length) if has_length else -1])
    return out


def describe_files(prefix: str, fmt: str, files: list[Path]) -> dict[str, object]:
    """Facts read straight from the table(s) of a checkpoint (needs TF's generated protos)."""
    if fmt == "v2":
        from tensorflow.core.protobuf import tensor_bundle_pb2

        table = read_table(prefix + ".index")
        info: dict[str, object] = {"snappy_blocks": table.any_snappy}
        raw_header = table.get(b"")
        header = tensor_bundle_pb2.BundleHeaderProto()
        if raw_header is not None:
            header.ParseFromString(raw_header)
        info["num_shards"] = int(header.num_shards)
        info["endianness"] = "big" if header.endianness == 1 else "little"
        info["version"] = [int(header.version.producer), int(header.version.min_consumer)]
        keys = [k for k, _ in table.entries if k]
        info["index_entries"] = len(keys)
        info["slice_entries"] = sum(1 for k in keys if k.startswith(b"\x00"))
        sliced: dict[str, list[list[list[int]]]] = {}
        shard_ids: set[int] = set()
        for k, v in table.entries:
            if not k:
                continue
            entry = tensor_bundle_pb2.BundleEntryProto()
            entry.ParseFromString(v)
            if entry.slices:
                sliced[k.decode("utf-8", "backslashreplace")] = [
                    _slice_list(s) for s in entry.slices
                ]
            else:
                shard_ids.add(int(entry.shard_id))
        info["shard_ids_used"] = sorted(shard_ids)
        info["sliced_tensors"] = sliced
        info["has_object_graph"] = b"_CHECKPOINTABLE_OBJECT_GRAPH" in keys
        return info
    tables = [read_table(f) for f in files]
    return {
        "snappy_blocks": any(t.any_snappy for t in tables),
        "index_entries": sum(len(t.entries) - 1 for t in tables),
        "has_object_graph": False,
    }
