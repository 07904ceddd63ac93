"""docs/architecture.md stays true: every module is in its layer table, and no module imports
from a layer listed after its own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "tfckpt_lite"
DOC = ROOT / "docs" / "architecture.md"
HELPERS = {"_lazy", "_gcpause", "_proto"}  # "used anywhere", named in the page's text


def _layers() -> dict[str, int]:
    text = DOC.read_text()
    table = text[text.index("## Layers, bottom up") :].split("\n\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    layer: dict[str, int] = {}
    for i, row in enumerate(rows[1:]):  # rows[0] is the header
        modules_cell = row.split("|")[2]
        for name in re.findall(r"`([\w/]+)`", modules_cell):
            assert name.rstrip("/") not in layer, f"{name} is listed twice in {DOC.name}"
            layer[name.rstrip("/")] = i
    return layer


def _modules() -> dict[str, Path]:
    out = {p.stem: p for p in PACKAGE.glob("*.py")}
    out["_port"] = PACKAGE / "_port" / "__init__.py"  # a package: one row for all its files
    return out


def _imports(path: Path) -> set[str]:
    """The package modules `path` imports (relative imports, at any depth of the file)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = (node.module or "").split(".")
            if path.parent.name == "_port" and node.level == 1:
                found.add("_port")
            elif node.module:
                found.add(parts[0])
            else:  # `from . import _inspect` (a module) or `from . import __version__`
                found.update(a.name for a in node.names if a.name in _modules())
    return found


def test_every_module_has_a_layer() -> None:
    layer = _layers()
    text = DOC.read_text()
    for name in sorted(set(_modules()) - HELPERS):
        assert name in layer, f"{name}.py is missing from the layer table of {DOC.name}"
    for helper in HELPERS:
        assert f"`{helper}" in text, f"{DOC.name} does not mention {helper}"


def test_no_module_imports_from_a_later_layer() -> None:
    layer = _layers()
    paths = _modules()
    for name in sorted(set(paths) - HELPERS):
        files = sorted(paths[name].parent.glob("*.py")) if name == "_port" else [paths[name]]
        for path in files:
            for dep in sorted(_imports(path) - HELPERS - {name}):
                assert layer[dep] <= layer[name], (
                    f"{path.relative_to(PACKAGE)} imports {dep}, a later layer than its own "
                    f"in {DOC.name}: move one of them, or change the table"
                )
