"""Fixtures that start the real components (see tests/harness) and stop them when their scope ends."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.distribution import Dist, Install, Venv, build_dist, venv_maker
from tests.harness import MariaDB, ShopServer, start_mariadb, start_shop
from tests.harness.http_target import Target, serve_target

REPO_ROOT = Path(__file__).resolve().parent.parent

# A run stopped by SIGTERM or SIGHUP tears its fixtures down, so the components they started stop too.
pytest_plugins = ["tests.harness.interrupt"]


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """A test that configures logging in-process (a command's main()) leaves nothing to the next one: every
    logger's handlers, filters, level, propagation and disabled flag come back as they were (pytest's own
    capture handlers are left to pytest)."""
    manager = logging.Logger.manager
    loggers = [logging.getLogger(), *(lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    saved = {id(lg): (lg, list(lg.handlers), list(lg.filters), lg.level, lg.propagate, lg.disabled) for lg in loggers}
    yield
    for logger in [logging.getLogger(), *manager.loggerDict.values()]:
        if not isinstance(logger, logging.Logger):
            continue
        ours = [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]
        if id(logger) not in saved:
            for handler in ours:
                logger.removeHandler(handler)
            continue
        _, handlers, filters, level, propagate, disabled = saved[id(logger)]
        for handler in ours:
            if handler not in handlers:
                logger.removeHandler(handler)
        for handler in handlers:
            if handler not in logger.handlers:
                logger.addHandler(handler)
        logger.filters[:] = filters
        logger.level, logger.propagate, logger.disabled = level, propagate, disabled


@pytest.fixture(scope="session")
def mariadb(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """One MariaDB server for the session; tests make their own databases in it. When a test of the session
    failed, its state and the end of its log are printed in the report (a server that stopped answering leaves
    its reason there, and its temp dir is gone by the next run)."""
    server = start_mariadb(tmp_path_factory.mktemp("mariadb"))
    yield server
    if request.session.testsfailed:
        try:
            server.query("SELECT 1")
            state = "answering"
        except Exception as error:
            state = f"not answering: {error}"
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            alive = "running" if server.process.running() else f"exited ({server.process.popen.returncode})"
            reporter.write_line(f"\nthe session's MariaDB on port {server.port}: {alive}, {state}; its log ends:")
            reporter.write_line(server.process.log_tail(40))
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


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """``make dist``'s sdist and wheel, built once per session from a copy of the tree (tests/distribution.py)."""
    return build_dist(tmp_path_factory)


@pytest.fixture(scope="session")
def make_venv(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Callable[[Install], Venv]:
    """A fresh virtualenv with the wheel installed one way (an ``Install``), made on first use, shared after."""
    return venv_maker(dist, tmp_path_factory)
