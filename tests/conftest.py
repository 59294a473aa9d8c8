"""Fixtures that start the real components (see tests/harness) and stop them when their scope ends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import MariaDB, ShopServer, start_mariadb, start_shop
from tests.harness.http_target import Target, serve_target

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """One MariaDB server for the session; tests make their own databases in it."""
    server = start_mariadb(tmp_path_factory.mktemp("mariadb"))
    yield server
    server.stop()


def database_url(request: pytest.FixtureRequest, backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'shop.sqlite3'}"
    server: MariaDB = request.getfixturevalue("mariadb")
    name = f"shop_{uuid.uuid4().hex[:8]}"
    return server.create_database(name, user=name, password=f"pw-{name}")


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def shop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopServer]:
    """The demo shop served by gunicorn, faults available, once on SQLite and once on MariaDB."""
    backend: str = request.param
    workdir = tmp_path_factory.mktemp(f"shop-{backend}")
    server = start_shop(workdir, database_url(request, backend, workdir))
    server.env["BACKEND"] = backend
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mariadb_shop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopServer]:
    """The demo shop on MariaDB only: for what only MariaDB can show (performance_schema, processlist)."""
    workdir = tmp_path_factory.mktemp("shop-mariadb")
    server = start_shop(workdir, database_url(request, "mariadb", workdir))
    server.env["BACKEND"] = "mariadb"
    yield server
    server.stop()


@pytest.fixture
def target() -> Iterator[Target]:
    """A small local HTTP server with /ok, /slow?s=N, /hang and /fail (tests/harness/http_target.py)."""
    with serve_target() as server:
        yield server
