"""The layers' boundaries, read from the source with ``ast`` (the import statements themselves, not text that
happens to look like one):

* nothing in ``resnet_viz/`` but the ``ui/`` package imports streamlit (the pages and ``app.py`` are outside it);
* ``resnet_viz/architecture/`` is pure arithmetic: no torch, torchvision, torchinfo or torchview, neither in its
  own files nor in any module its imports load, starting with the ``resnet_viz`` package itself;
* the CLI's import path loads no torch at import time (``download-weights`` imports it inside its function);
* the floors (:data:`FLOORS`): no module imports from a floor above its own, not even inside a function, and no
  modules import each other in a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from repo import ROOT

PKG = ROOT / "resnet_viz"
TORCH = {"torch", "torchvision", "torchinfo", "torchview"}


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _path_of(module: str, root: Path = ROOT) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


class _Imports(ast.NodeVisitor):
    """Every imported module name with whether it runs when the module is imported (not inside a function and
    not under ``if TYPE_CHECKING:``)."""

    def __init__(self, path: Path, root: Path = ROOT) -> None:
        self.root = root
        name = _module_name(path, root)
        self.package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        self.lazy = _lazy_names(root)
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
            if _path_of(f"{module}.{alias.name}", self.root) is not None:
                self._add(f"{module}.{alias.name}", node.lineno)
            elif module == "resnet_viz" and alias.name in self.lazy:  # a name the package loads on first use
                self._add(self.lazy[alias.name], node.lineno)

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


def _lazy_names(root: Path) -> dict[str, str]:
    """The package's names loaded on first use (PEP 562): ``_LAZY`` in ``resnet_viz/__init__.py``, name -> module."""
    init = root / "resnet_viz" / "__init__.py"
    if not init.is_file():
        return {}
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        target = node.target if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [None])[0]
        if isinstance(target, ast.Name) and target.id == "_LAZY" and node.value is not None:
            return ast.literal_eval(node.value)
    return {}


def imports(path: Path, root: Path = ROOT) -> list[tuple[str, int, bool]]:
    visitor = _Imports(path, root)
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
        "resnet_viz.architecture.ladder",
        "resnet_viz.architecture.ladder_diff",
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


# --------------------------------------------------------------------------------------------- the floors
#: The package's floors, from the ground up (docs: DESIGN.md, "Layers, one way"): a module may import its own
#: floor and the floors below it, never one above. A name is the first part after ``resnet_viz.``; ``app.py`` and
#: ``app_pages/`` are one floor above them all. ``memory`` (the collector and allocator of a long-running server)
#: imports nothing of ours and is process-wide, like ``settings``.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("architecture",),
    ("i18n", "errors", "paths", "formatting", "settings", "memory"),
    ("models",),
    ("imaging",),
    ("experiments",),
    ("render",),
    ("lesson", "links", "classroom"),
    ("ui", "cli", "__main__"),
    ("app", "app_pages"),
)


def _floor(module: str) -> int | None:
    """The floor of one of our modules (``resnet_viz.x…``, ``app``, ``app_pages.x``); None for the package itself
    and for modules that are not ours; -1 for one of ours that no floor names."""
    parts = module.split(".")
    if parts[0] == "resnet_viz":
        if len(parts) == 1:
            return None
        name = parts[1]
    elif parts[0] in ("app", "app_pages"):
        name = parts[0]
    else:
        return None
    return next((i for i, names in enumerate(FLOORS) if name in names), -1)


def _our_files(root: Path) -> list[Path]:
    return sorted(
        [*(root / "resnet_viz").rglob("*.py"), *(root / "app_pages").rglob("*.py"), *root.glob("app.py")]
    )


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing itself), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm; the graphs here are a few hundred edges deep at most
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def floor_violations(root: Path) -> list[str]:
    """What breaks the floors in the tree at ``root`` (a checkout: ``resnet_viz/``, ``app_pages/``, ``app.py``):

    * a module of ours that no floor names;
    * an import from a floor above the importer's own, at import time or deferred: inside a function or under
      ``if TYPE_CHECKING:`` it is still a dependency on that floor, so it counts too;
    * the package itself (``resnet_viz/__init__.py``, the front door every module passes through) importing
      anything but ``architecture`` at import time. Its names loaded on first use (``_LAZY``, PEP 562) are exempt:
      they serve callers outside the package, and a module inside that takes one (``from resnet_viz import
      build_model``) is charged with that name's own module;
    * a cycle of import-time imports between modules of ours, whatever their floors (an import of the package
      itself is no edge: Python initialises a package before any of its modules).
    """
    problems: list[str] = []
    graph: dict[str, set[str]] = {}
    for path in _our_files(root):
        me = _module_name(path, root)
        mine = _floor(me)
        where = path.relative_to(root)
        if mine == -1:
            problems.append(f"{where}: no floor for {me!r} (add it to FLOORS)")
            continue
        for module, line, at_import in imports(path, root):
            theirs = _floor(module)
            if theirs is None:  # not ours, or the package itself (Python initialises it before any submodule)
                continue
            if at_import:
                graph.setdefault(me, set()).add(module)
            if mine is None:  # the package itself
                if at_import and theirs != 0:
                    problems.append(f"{where}:{line}: the package imports {module} at import time")
            elif theirs > mine:
                kind = "import" if at_import else "deferred import"
                problems.append(f"{where}:{line}: {kind} of {module} (floor {theirs}) from floor {mine}")
    problems += [f"import cycle among {', '.join(c)}" for c in _cycles(graph)]
    return problems


def test_no_module_imports_from_a_floor_above_its_own_and_no_cycles() -> None:
    assert floor_violations(ROOT) == []


def _plant(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


_CLEAN = {
    "resnet_viz/__init__.py": (
        "from resnet_viz.architecture.catalogue import ARCHS\n"
        "_LAZY: dict[str, str] = {'build_model': 'resnet_viz.models.build'}\n"
        "def __getattr__(name):\n    from resnet_viz.models.build import build_model\n"
    ),
    "resnet_viz/architecture/__init__.py": "",
    "resnet_viz/architecture/catalogue.py": "ARCHS = ()\n",
    "resnet_viz/models/__init__.py": "from resnet_viz.models.build import build_model\n",
    "resnet_viz/models/build.py": "from resnet_viz import paths\nfrom resnet_viz.architecture import catalogue\n",
    "resnet_viz/paths.py": "",
    "resnet_viz/render/__init__.py": "",
    "resnet_viz/render/dot.py": "from resnet_viz import build_model\n",
    "resnet_viz/links.py": "def f():\n    from resnet_viz import lesson\n",  # deferred: no cycle
    "resnet_viz/lesson.py": "from resnet_viz import links\n",
    "resnet_viz/ui/__init__.py": "from resnet_viz.render import dot\n",
    "app.py": "import resnet_viz.ui\n",
}


def test_the_floor_check_passes_a_clean_tree(tmp_path: Path) -> None:
    assert floor_violations(_plant(tmp_path, _CLEAN)) == []


@pytest.mark.parametrize(
    ("planted", "expected"),
    [
        pytest.param(
            {"resnet_viz/paths.py": "from resnet_viz import links\n"},
            ["resnet_viz/paths.py:1: import of resnet_viz.links (floor 6) from floor 1"],
            id="module-level",
        ),
        pytest.param(
            {"resnet_viz/paths.py": "def f():\n    import resnet_viz.ui\n"},
            ["resnet_viz/paths.py:2: deferred import of resnet_viz.ui (floor 7) from floor 1"],
            id="in-a-function",
        ),
        pytest.param(
            {
                "resnet_viz/architecture/catalogue.py": (
                    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                    "    from resnet_viz.models.build import build_model\n"
                )
            },
            [
                "resnet_viz/architecture/catalogue.py:3: deferred import of resnet_viz.models.build (floor 2) from floor 0"
            ],
            id="type-checking",
        ),
        pytest.param(
            {"resnet_viz/architecture/catalogue.py": "from resnet_viz import build_model\n"},
            [
                "resnet_viz/architecture/catalogue.py:1: import of resnet_viz.models.build (floor 2) from floor 0",
                "import cycle among resnet_viz.architecture.catalogue, resnet_viz.models.build",
            ],
            id="lazy-name",
        ),
        pytest.param(
            {"resnet_viz/__init__.py": "from resnet_viz.models.build import build_model\n"},
            ["resnet_viz/__init__.py:1: the package imports resnet_viz.models.build at import time"],
            id="front-door",
        ),
        pytest.param(
            {"resnet_viz/links.py": "from resnet_viz import lesson\n"},
            ["import cycle among resnet_viz.lesson, resnet_viz.links"],
            id="cycle-in-a-floor",
        ),
        pytest.param(
            {"resnet_viz/gadget.py": ""},
            ["resnet_viz/gadget.py: no floor for 'resnet_viz.gadget' (add it to FLOORS)"],
            id="no-floor",
        ),
    ],
)
def test_the_floor_check_reports_each_planted_fault(
    tmp_path: Path, planted: dict[str, str], expected: list[str]
) -> None:
    assert floor_violations(_plant(tmp_path, {**_CLEAN, **planted})) == expected
