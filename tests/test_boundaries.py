"""The layers' boundaries, read from the source with ``ast`` (the import statements themselves, not text that
happens to look like one):

* nothing in ``resnet_viz/`` but the ``ui/`` package imports streamlit (the pages and ``app.py`` are outside it);
* ``resnet_viz/architecture/`` is pure arithmetic: no torch, torchvision, torchinfo or torchview, neither in its
  own files nor in any module its imports load, starting with the ``resnet_viz`` package itself;
* the CLI's import path loads no torch at import time (``download-weights`` imports it inside its function).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "resnet_viz"
TORCH = {"torch", "torchvision", "torchinfo", "torchview"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _path_of(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


class _Imports(ast.NodeVisitor):
    """Every imported module name with whether it runs when the module is imported (not inside a function and
    not under ``if TYPE_CHECKING:``)."""

    def __init__(self, path: Path) -> None:
        self.package = (
            _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
        )
        self.found: list[tuple[str, int, bool]] = []
        self._deferred = 0

    def _add(self, module: str, line: int) -> None:
        self.found.append((module, line, self._deferred == 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # relative: resolve against this module's package
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            module = ".".join([*base, *([node.module] if node.module else [])])
        else:
            module = node.module or ""
        self._add(module, node.lineno)
        for alias in node.names:  # `from pkg import submodule` loads pkg.submodule too
            if _path_of(f"{module}.{alias.name}") is not None:
                self._add(f"{module}.{alias.name}", node.lineno)

    def _defer(self, node: ast.AST) -> None:
        self._deferred += 1
        self.generic_visit(node)
        self._deferred -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _defer

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            self._defer(node)
        else:
            self.generic_visit(node)


def imports(path: Path) -> list[tuple[str, int, bool]]:
    visitor = _Imports(path)
    visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return visitor.found


def _with_parents(module: str) -> list[str]:
    """Importing a.b.c runs a, a.b and a.b.c."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def loaded_at_import(start: str) -> dict[str, tuple[str, int]]:
    """Every module that importing ``start`` loads (ours followed through their import-time imports; others as
    leaves), each with the first (file, line) that imports it."""
    seen: dict[str, tuple[str, int]] = {}
    todo = [(m, ("<start>", 0)) for m in _with_parents(start)]
    while todo:
        module, where = todo.pop()
        if module in seen:
            continue
        seen[module] = where
        path = _path_of(module) if module.split(".")[0] == "resnet_viz" else None
        if path is None:
            continue
        for name, line, at_import in imports(path):
            if at_import:
                todo += [(m, (str(path.relative_to(ROOT)), line)) for m in _with_parents(name)]
    return seen


def test_the_import_reader_sees_imports_and_tells_deferred_ones_apart() -> None:
    found = imports(PKG / "ui" / "resolve.py")
    assert any(m == "streamlit" and at_import for m, _, at_import in found)
    cli = {m: at_import for m, _, at_import in imports(PKG / "cli.py")}
    assert cli["resnet_viz.architecture.trace"] is True
    assert cli["resnet_viz.models.weights"] is False  # inside the download-weights function
    assert "torch" in loaded_at_import("resnet_viz.models.build")  # the closure does reach torch


def test_nothing_in_the_package_but_ui_imports_streamlit() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted(PKG.rglob("*.py"))
        if PKG / "ui" not in path.parents
        for module, line, _ in imports(path)
        if module.split(".")[0] == "streamlit"
    ]
    assert offenders == []


def test_architecture_imports_no_torch_anywhere() -> None:
    files = sorted((PKG / "architecture").rglob("*.py"))
    assert len(files) >= 4  # __init__, catalogue, trace, counting
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in files
        for module, line, _ in imports(path)
        if module.split(".")[0] in TORCH
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "start",
    [
        "resnet_viz",
        "resnet_viz.architecture.catalogue",
        "resnet_viz.architecture.trace",
        "resnet_viz.architecture.counting",
        "resnet_viz.formatting",
        "resnet_viz.cli",
        "resnet_viz.__main__",
    ],
)
def test_import_path_loads_no_torch(start: str) -> None:
    loaded = loaded_at_import(start)
    offenders = {m: where for m, where in loaded.items() if m.split(".")[0] in TORCH}
    assert offenders == {}


def _string_constants(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        (n.value, n.lineno)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def test_one_place_each_for_the_font_list_and_the_block_class_label() -> None:
    """The font list is written in render/style.py only; 'BasicBlock'/'Bottleneck' as a label in the catalogue
    only (ArchSpec.block_class, Trace.block_class)."""
    files = sorted([*PKG.rglob("*.py"), *(ROOT / "app_pages").glob("*.py")])
    font = [
        f"{p.relative_to(ROOT)}:{line}"
        for p in files
        for text, line in _string_constants(p)
        if "Noto Sans CJK" in text and "," in text and "\n" not in text  # a font list, not a docstring
    ]
    assert font == []  # style.py builds its lists from a tuple of single names
    labels = [
        f"{p.relative_to(ROOT)}:{line}"
        for p in files
        for text, line in _string_constants(p)
        if text in ("BasicBlock", "Bottleneck")
    ]
    assert labels and all(x.startswith("resnet_viz/architecture/catalogue.py:") for x in labels), labels
