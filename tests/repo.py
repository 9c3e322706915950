"""Where the repository is, for every test module: ``ROOT`` (the checkout) and ``APP`` (its Streamlit entry script).

A module of its own, not ``conftest.py``: every conftest.py outside a package is imported under the one name
``conftest`` (``tests/e2e/conftest.py`` replaces ``tests/conftest.py`` in ``sys.modules``), so ``from conftest
import ...`` is not reliable. ``tests/conftest.py`` serves the same values as fixtures (``repo_root``) and makes
AppTests of ``APP`` (``app_test``).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
