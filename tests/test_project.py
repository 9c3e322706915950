"""The project's set-up promises: the README's two commands, CI running the same one, the dependency ranges."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from repo import ROOT

FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.S | re.M)


def _setup_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Set up\n(.*?)(?=^## )", readme, re.S | re.M)
    assert match, "README has no '## Set up' section"
    return match.group(1)


def _setup_commands() -> list[str]:
    return [block.strip() for block in FENCE.findall(_setup_section())]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _requirements(extra: str | None = None) -> dict[str, Requirement]:
    project = _pyproject()["project"]
    lines = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return {canonicalize_name(r.name): r for r in map(Requirement, lines)}


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = _setup_commands()
    assert len(commands) == 2, commands
    assert all("\n" not in c for c in commands), "each set-up step is one command line"
    app, tests = commands
    assert "streamlit run app.py" in app and "pip install" in app
    assert re.search(r"""pip install -e ["']\.\[test\]["']""", tests)
    assert "pytest" in tests and "streamlit run" not in tests


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = _setup_commands()[1]
    command_lines = [line.strip() for line in ci.splitlines() if line.strip() and not line.startswith("#")]
    assert test_command in command_lines
    # In a fresh virtual environment, so that a dependency missing from pyproject.toml fails CI.
    assert "python3 -m venv .venv" in test_command
    assert command_lines.index("rm -rf .venv") < command_lines.index(test_command)


def test_torch_and_torchvision_ranges() -> None:
    deps = _requirements()
    torch_spec, tv_spec = deps["torch"].specifier, deps["torchvision"].specifier
    # >= 2.6: torch.load defaults to weights_only=True there; 2.14.1 is the release this project runs on.
    assert torch_spec.contains("2.14.1") and torch_spec.contains("2.6.0")
    assert not torch_spec.contains("2.5.1") and not torch_spec.contains("2.4.0")
    assert any(s.operator == ">=" and Version(s.version) >= Version("2.6") for s in torch_spec)
    assert tv_spec.contains("0.29.1")
    # The installed versions are the ones the ranges admit.
    assert torch_spec.contains(Version(metadata.version("torch")).base_version)
    assert tv_spec.contains(Version(metadata.version("torchvision")).base_version)


def test_runtime_dependencies_and_extras() -> None:
    assert {"streamlit", "torch", "torchvision", "plotly", "graphviz", "pillow", "numpy"} <= set(
        _requirements()
    )
    assert {"pytest", "torchinfo", "hypothesis"} <= set(_requirements("test"))
    assert {"torchinfo", "torchview"} <= set(_requirements("bench"))


def test_everything_the_tests_import_is_declared() -> None:
    """CI installs only ``.[test]``: a third-party import in tests/ must come from a declared requirement
    (or one its requirements pull in directly, such as pytest's ``packaging``)."""
    declared = set(_requirements()) | set(_requirements("test"))
    pulled_in = set()
    for name in declared:
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        pulled_in |= {canonicalize_name(Requirement(r).name) for r in requires if "extra ==" not in r}
    dists_of = metadata.packages_distributions()
    local = {"resnet_viz", "tests", "benchmarks", "devtools", "conftest", "app", "app_pages"}
    # helpers beside the tests (apptest_helpers; the e2e page helpers in tests/e2e/test_pages.py)
    local |= {p.stem for p in (ROOT / "tests").rglob("*.py")}
    missing = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in {n.split(".")[0] for n in names}:
                if top in sys.stdlib_module_names or top in local:
                    continue
                dists = {canonicalize_name(d) for d in dists_of.get(top, [top])}
                if not dists & (declared | pulled_in):
                    missing.setdefault(top, []).append(path.name)
    assert not missing, f"imported by tests but not declared in pyproject: {missing}"


def test_no_legacy_pages_directory() -> None:
    """A folder named ``pages/`` beside app.py switches Streamlit to its legacy v1 multipage mode, which wraps
    every run in an automatic navigation and loses the sidebar's widget state between reruns. The pages live
    in ``app_pages/`` and app.py routes them with ``st.navigation``."""
    assert (ROOT / "app.py").is_file()
    assert not (ROOT / "pages").exists()
    assert (ROOT / "app_pages").is_dir()
    assert "st.navigation(" in (ROOT / "app.py").read_text(encoding="utf-8")
