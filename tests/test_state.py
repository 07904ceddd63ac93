"""The `checkpoint` state file: TF's exact text, TF's path rules, atomic writes, hostile input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tfckpt_lite as tfc
from tfckpt_lite._state import CheckpointState, format_state, parse_state

# Written by TF 2.21's CheckpointManager (FORMAT.md 1.2), byte for byte.
MANAGER_TEXT = (
    'model_checkpoint_path: "ckpt-3"\n'
    'all_model_checkpoint_paths: "ckpt-2"\n'
    'all_model_checkpoint_paths: "ckpt-3"\n'
    "all_model_checkpoint_timestamps: 1795635003.0610116\n"
    "all_model_checkpoint_timestamps: 1795635003.07044\n"
    "last_preserved_timestamp: 1795635002.0468583\n"
)


def test_format_matches_tf_manager_text() -> None:
    st_ = CheckpointState(
        "ckpt-3", ["ckpt-2", "ckpt-3"], [1795635003.0610116, 1795635003.07044], 1795635002.0468583
    )
    assert format_state(st_) == MANAGER_TEXT
    assert parse_state(MANAGER_TEXT.encode()) == st_


def test_update_relative_paths_like_tf_manager(tmp_path: Path) -> None:
    d = str(tmp_path)
    paths = [os.path.join(d, "ckpt-2"), os.path.join(d, "ckpt-3")]
    tfc.update_checkpoint_state(
        d, paths[-1], paths, None, [1795635003.0610116, 1795635003.07044], 1795635002.0468583
    )
    assert (tmp_path / "checkpoint").read_text() == MANAGER_TEXT
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"]  # no temp file left


def test_update_checkpoint_save_style(tmp_path: Path) -> None:
    # tf.train.Checkpoint.save: one path, no timestamps; the model path is appended.
    tfc.update_checkpoint_state(tmp_path, str(tmp_path / "ck-1"))
    assert (tmp_path / "checkpoint").read_text() == (
        'model_checkpoint_path: "ck-1"\nall_model_checkpoint_paths: "ck-1"\n'
    )


def test_update_absolute_paths_like_saver(tmp_path: Path) -> None:
    p = str(tmp_path / "model.ckpt-7")
    tfc.update_checkpoint_state(tmp_path, p, [p], save_relative_paths=False)
    assert (tmp_path / "checkpoint").read_text() == (
        f'model_checkpoint_path: "{p}"\nall_model_checkpoint_paths: "{p}"\n'
    )


def test_update_relative_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A relative save_dir: paths given relative to the cwd are stored relative to save_dir.
    monkeypatch.chdir(tmp_path)
    tfc.update_checkpoint_state("runs", "runs/ckpt-1", ["runs/ckpt-1"])
    assert (tmp_path / "runs" / "checkpoint").read_text() == (
        'model_checkpoint_path: "ckpt-1"\nall_model_checkpoint_paths: "ckpt-1"\n'
    )


def test_update_rejects_mismatched_timestamps(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timestamps"):
        tfc.update_checkpoint_state(
            tmp_path, "a", ["a", "b"], all_model_checkpoint_timestamps=[1.0]
        )
    with pytest.raises(ValueError, match="conflicts"):
        tfc.update_checkpoint_state(
            tmp_path, str(tmp_path / "checkpoint"), save_relative_paths=False
        )


def test_get_state_joins_relative_keeps_absolute(tmp_path: Path) -> None:
    (tmp_path / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-2"\n'
        'all_model_checkpoint_paths: "/elsewhere/ckpt-1"\n'
        'all_model_checkpoint_paths: "ckpt-2"\n'
    )
    s = tfc.get_checkpoint_state(tmp_path)
    assert s is not None
    assert s.model_checkpoint_path == os.path.join(str(tmp_path), "ckpt-2")
    assert s.all_model_checkpoint_paths == [
        "/elsewhere/ckpt-1",
        os.path.join(str(tmp_path), "ckpt-2"),
    ]
    assert s.all_model_checkpoint_timestamps == []
    assert s.last_preserved_timestamp == 0.0


def test_get_state_windows_paths(tmp_path: Path) -> None:
    (tmp_path / "checkpoint").write_text(
        'model_checkpoint_path: "C:\\\\runs\\\\model.ckpt-1000"\n'
        'all_model_checkpoint_paths: "C:\\\\runs\\\\model.ckpt-1000"\n'
    )
    s = tfc.get_checkpoint_state(tmp_path)
    assert s is not None
    assert s.model_checkpoint_path == os.path.join(str(tmp_path), "model.ckpt-1000")


def test_get_state_missing_is_none(tmp_path: Path) -> None:
    assert tfc.get_checkpoint_state(tmp_path) is None


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfebinary",
        b"model_checkpoint_path: ",
        b'model_checkpoint_path: "a"\nunknown_field: 3\n',
        b'model_checkpoint_path: "unterminated\n',
        b"all_model_checkpoint_timestamps: abc\n",
        b'model_checkpoint_path: "\\377"\n',  # not UTF-8 once unescaped
        b'all_model_checkpoint_paths: "a"\n',  # empty model_checkpoint_path
        b"model_checkpoint_path { }\n",
    ],
)
def test_hostile_state_files(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "checkpoint").write_bytes(content)
    with pytest.raises(tfc.CorruptCheckpointError) as e:
        tfc.get_checkpoint_state(tmp_path)
    assert e.value.path == str(tmp_path / "checkpoint")


def test_huge_state_file(tmp_path: Path) -> None:
    with open(tmp_path / "checkpoint", "wb") as f:
        f.write(b'model_checkpoint_path: "a"\n')
        f.write(b"#" * (17 << 20))
    with pytest.raises(tfc.CorruptCheckpointError, match="larger"):
        tfc.get_checkpoint_state(tmp_path)


def test_atomic_write_failure_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tfc.update_checkpoint_state(tmp_path, "ck-1")
    before = (tmp_path / "checkpoint").read_bytes()

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        tfc.update_checkpoint_state(tmp_path, "ck-2")
    assert (tmp_path / "checkpoint").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_latest_checkpoint_ignores_debris(tmp_path: Path) -> None:
    tfc.update_checkpoint_state(tmp_path, "ckpt-1")
    (tmp_path / "ckpt-1.index.tempstate1234567").write_bytes(b"x")
    (tmp_path / "ckpt-1_temp").mkdir()
    assert tfc.latest_checkpoint(tmp_path) is None
    tfc.save(tmp_path / "ckpt-1", {"a": 1})
    assert tfc.latest_checkpoint(tmp_path) == os.path.join(str(tmp_path), "ckpt-1")


_paths = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20)


@given(
    model=_paths,
    others=st.lists(_paths, max_size=4),
    stamps=st.floats(min_value=0, max_value=4e9, allow_nan=False),
)
def test_text_round_trip(model: str, others: list[str], stamps: float) -> None:
    paths = [*others, model]
    s = CheckpointState(model, paths, [stamps] * len(paths), stamps)
    assert parse_state(format_state(s).encode("utf-8")) == s


def test_debris_is_not_a_checkpoint(tmp_path: Path) -> None:
    # What an interrupted TF save leaves behind (FORMAT.md 1.3).
    (tmp_path / "ckpt-2.data-00000-of-00001.tempstate3334579828729822356").write_bytes(b"x")
    (tmp_path / "ckpt-2.index.tempstate10724928146175773728").write_bytes(b"x")
    (tmp_path / "ckpt-2_temp").mkdir()
    tfc.save(tmp_path / "ckpt-2_temp" / "part-00000-of-00001", {"a": 1})
    with pytest.raises(tfc.CheckpointNotFoundError):
        tfc.load_checkpoint(tmp_path)
    tfc.save(tmp_path / "ckpt-1", {"a": 2})
    with tfc.load_checkpoint(tmp_path) as r:
        assert r.prefix == str(tmp_path / "ckpt-1")
    mgr = tfc.CheckpointManager(tfc.Checkpoint(), tmp_path, max_to_keep=5)
    assert mgr.checkpoints == [] and mgr.latest_checkpoint is None


def _state_files() -> list[Path]:
    here = Path(__file__).resolve().parent.parent
    roots = [here / "testdata"]
    for cand in (
        os.environ.get("TFCKPT_REALWORLD"),
        here.parent / "shared" / "real-world-checkpoints",
        "/work/shared/real-world-checkpoints",
    ):
        if cand and Path(cand).is_dir():
            roots.append(Path(cand))
            break
    return sorted(p for r in roots if r.is_dir() for p in r.rglob("checkpoint") if p.is_file())


def test_real_state_files_reserialize_identically() -> None:
    """Every TF-written state file we have (fixtures: TF 2.21; corpus: many TF versions)
    parses and formats back to the very same bytes."""
    files = _state_files()
    if not files:
        pytest.skip("no fixtures or corpus present")
    for f in files:
        raw = f.read_bytes()
        assert format_state(parse_state(raw)).encode("utf-8") == raw, f


def test_binary_checkpoint_file_is_no_state(tmp_path: Path) -> None:
    # A V1 checkpoint saved under the prefix "checkpoint" (a table: NUL bytes) is not a state
    # file; TF's get_checkpoint_state cannot parse it either.
    (tmp_path / "checkpoint").write_bytes(b"\x00\x00\x01table")
    assert tfc.get_checkpoint_state(tmp_path) is None
