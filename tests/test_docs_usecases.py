"""Every use-case page in docs/ runs as written: its ```python blocks in order (one
namespace per page) and its ```sh lines through `tfckpt`'s `main`, in a fresh directory."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shlex
from pathlib import Path

import pytest

from tfckpt_lite._cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = ["inspect.md", "convert_to_safetensors.md", "write_for_tf.md", "remote.md",
         "port_to_pytorch.md", "transformers_architectures.md",
         "inference_prep.md", "saved_model.md", "arrays.md",
         "distributed_save.md", "port_training_loop.md"]  # fmt: skip
NEEDS = {
    "remote.md": ["fsspec"],
    "port_to_pytorch.md": ["torch", "transformers"],
    "transformers_architectures.md": ["torch", "transformers"],
    "distributed_save.md": ["distributed"],
}
BLOCK = re.compile(r"^```(python|sh)\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_as_written(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in NEEDS.get(page, []):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{page} needs {mod}")
    text = (DOCS / page).read_text()
    blocks = BLOCK.findall(text)
    assert blocks, f"{page} has no runnable block"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page[:-3]}"}
    for lang, code in blocks:
        if lang == "python":
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, f"{page}", "exec"), namespace)
            continue
        for line in code.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            argv = shlex.split(line)
            assert argv[0] == "tfckpt", line
            with contextlib.redirect_stdout(io.StringIO()):
                code_ = main(argv[1:])
            assert code_ == 0, f"{page}: {line!r} exited with {code_}"
