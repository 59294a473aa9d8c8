"""The import arrows run one way: exporter -> synthetic -> django_integration, and inside synthetic
config -> steps -> model. A cycle or an upward arrow is a design bug (DESIGN §5, §6), so each row names a
package or module and what it must never import, and the test reads every import statement in the tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports, at any depth of the file (function-level too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def _modules(pattern: str) -> list[Path]:
    return sorted(ROOT.glob(pattern))


FORBIDDEN = [
    # (files, forbidden import prefixes, why)
    ("django_integration/**/*.py", ("synthetic", "exporter"), "the app a team installs imports nothing of ours"),
    ("synthetic/**/*.py", ("exporter",), "the engine does not import the service that runs it"),
    ("synthetic/steps/**/*.py", ("synthetic.config",), "step kinds take their types from synthetic.model"),
    ("synthetic/model.py", ("synthetic.config", "synthetic.steps", "synthetic.runner"), "model is the bottom"),
    ("grafana/**/*.py", ("exporter", "synthetic", "django_integration"), "dashboards are generated standalone"),
]


@pytest.mark.parametrize(("pattern", "forbidden", "why"), FORBIDDEN, ids=[row[0] for row in FORBIDDEN])
def test_no_upward_or_cyclic_import(pattern: str, forbidden: tuple[str, ...], why: str) -> None:
    files = _modules(pattern)
    assert files, f"no files match {pattern}"
    offenders = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in _imports(path)
        if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)
    }
    assert not offenders, f"{why}: {sorted(offenders)}"


def test_the_synthetic_marker_lives_once() -> None:
    """Signing (exporter side) and verifying (Django side) share one module, in the lower package."""
    assert (ROOT / "django_integration" / "marker.py").exists()
    assert not (ROOT / "synthetic" / "marker.py").exists()
