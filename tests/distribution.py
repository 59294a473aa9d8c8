"""The distribution as a user gets it: ``make dist``'s build on a copy of the tree, and fresh virtualenvs with the
wheel installed (the fixtures ``dist`` and ``make_venv`` in tests/conftest.py, once per session).

Used by tests/test_packaging.py (each extra, installed and used) and tests/test_readme_setup.py (the README's
setup followed in a virtualenv that has only what the README installs).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PACKAGES = sorted(pattern.rstrip("*") for pattern in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"])
INSTALL_TIMEOUT = 600


def canonical(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return canonical(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)[0])  # type: ignore[index]


def requirement_names(requirements: list[str]) -> set[str]:
    return {requirement_name(requirement) for requirement in requirements}


def pinned(name: str, extra: str) -> str:
    """The requirement (with its range) that pyproject.toml's ``extra`` gives ``name``."""
    (found,) = [r for r in PYPROJECT["project"]["optional-dependencies"][extra] if requirement_name(r) == name]
    return str(found)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would point Python at this checkout or its virtualenv."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE", "PYTHONHOME")
    return {**{key: value for key, value in os.environ.items() if key not in drop}, **extra}


def run(
    args: list[str], cwd: Path, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=clean_env(**(env or {})), capture_output=True, text=True, timeout=timeout)


# --- make dist -----------------------------------------------------------------------------------------------------


@dataclass
class Dist:
    sdist: Path
    wheel: Path
    twine: subprocess.CompletedProcess[str]


def clone_files() -> list[str]:
    """The files a clone of this tree has (tracked, or new and not ignored): what a user builds from."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", "pyproject.toml", "README.md",
         *PACKAGES],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    return [name for name in listed if (REPO / name).is_file()]


def build_dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """What ``make dist`` runs, on a copy of the tree (so nothing is written into the checkout)."""
    source = tmp_path_factory.mktemp("source")
    for name in clone_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    built = run([str(BIN / "python"), "-m", "build", "--outdir", str(out), str(source)], source, INSTALL_TIMEOUT)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    twine = run([str(BIN / "twine"), "check", "--strict", str(sdist), str(wheel)], out)
    return Dist(sdist, wheel, twine)


# --- fresh virtualenvs -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Install:
    """One way of installing the wheel and what a user then has."""

    id: str
    extras: str  # "" or "[exporter]", "[django-prometheus]"...
    has_exporter: bool
    also: tuple[str, ...] = ()  # what the user installs beside it (their own project's packages)


@dataclass
class Venv:
    install: Install
    path: Path
    distributions: set[str]

    @property
    def python(self) -> str:
        return str(self.path / "bin" / "python")

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    def script(self, name: str) -> str:
        return str(self.path / "bin" / name)


LIST_DISTRIBUTIONS = "import json, importlib.metadata as m; print(json.dumps([d.name for d in m.distributions()]))"


def venv_maker(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Callable[[Install], Venv]:
    """One fresh virtualenv per install, made on first use and reused after."""
    made: dict[str, Venv] = {}

    def make(install: Install) -> Venv:
        if install.id not in made:
            path = tmp_path_factory.mktemp(f"venv-{install.id}")
            created = run([sys.executable, "-m", "venv", str(path)], path)
            assert created.returncode == 0, created.stderr
            python = str(path / "bin" / "python")
            requirements = [f"{dist.wheel}{install.extras}", *install.also]
            pip = run([python, "-m", "pip", "install", "--quiet", *requirements], path, INSTALL_TIMEOUT)
            assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
            listed = run([python, "-c", LIST_DISTRIBUTIONS], path)
            made[install.id] = Venv(install, path, {canonical(name) for name in json.loads(listed.stdout)})
        return made[install.id]

    return make
