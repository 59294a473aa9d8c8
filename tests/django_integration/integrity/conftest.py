"""A migrated, seeded demo-shop database on SQLite and on MariaDB, and a connection to it of its own.

The checks take their connection as a parameter, so each test runs them against a real database made for the
module (``python -m demo_shop migrate`` and ``seed_shop`` in a subprocess, as a deployment would), through an alias
of its own (``integrity_sqlite``, ``integrity_mariadb``) added to ``django.db.connections`` for the module: the test
run's own database is never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dj_database_url
import pytest
from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

from django_integration.integrity import CHECKS, CheckContext, CheckResult, Options, run_check
from tests.conftest import REPO_ROOT, database_url
from tests.harness.shop import PROBE_PASSWORD


def settings_dict(url: str) -> dict[str, Any]:
    """The demo shop's DATABASES entry for ``url``."""
    parsed: dict[str, Any] = dict(dj_database_url.parse(url))
    if parsed["ENGINE"] == "django.db.backends.mysql":
        parsed.setdefault("OPTIONS", {})["charset"] = "utf8mb4"
    return parsed


def connect(alias: str, url: str, **overrides: Any) -> BaseDatabaseWrapper:
    """A connection to ``url`` under a database alias of its own, added to ``django.db.connections``: the ORM
    code the checks use (the migration recorder) finds the database by its alias."""
    configured = connections.configure_settings(
        {"default": connections.settings["default"], alias: {**settings_dict(url), **overrides}}
    )
    connections.settings[alias] = configured[alias]
    return connections[alias]


def disconnect(alias: str) -> None:
    """Close and forget an alias that :func:`connect` added."""
    local = connections._connections  # type: ignore[attr-defined]
    if hasattr(local, alias):
        connections[alias].close()
        delattr(local, alias)
    connections.settings.pop(alias, None)


def manage(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m demo_shop <args>`` against ``url`` from the repository root (so ``tests.*`` apps import)."""
    return subprocess.run(
        [sys.executable, "-m", "demo_shop", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": url, "DEMO_PROBE_PASSWORD": PROBE_PASSWORD, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


@dataclass
class Database:
    backend: str
    url: str
    connection: BaseDatabaseWrapper

    def sql(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(statement, list(params) or None)
            return list(cursor.fetchall()) if cursor.description else []

    def foreign_keys(self, on: bool) -> None:
        """Switch the database's own foreign key enforcement for this connection (as an import script would)."""
        if self.backend == "sqlite":
            self.sql(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")
        else:
            self.sql(f"SET FOREIGN_KEY_CHECKS = {1 if on else 0}")

    @property
    def alias(self) -> str:
        return str(self.connection.alias)

    def run(self, name: str, state: dict[str, Any] | None = None, **options: Any) -> CheckResult:
        """Run check ``name`` on this database, the way the command and the refresher do."""
        settings = Options(checks=[name], aliases=[self.alias], **options)
        return run_check(name, CHECKS[name], self.connection, settings, state)

    def context(self, **kwargs: Any) -> CheckContext:
        return CheckContext(connection=self.connection, **kwargs)


def variant(model: type[models.Model], name: str, **changes: Any) -> tuple[Any, Any]:
    """``(field, the same field with changes)``, for altering a column behind Django's back with its schema editor."""
    old: Any = model._meta.get_field(name)
    _, _, args, kwargs = old.deconstruct()
    new = type(old)(*args, **{**kwargs, **changes})
    new.set_attributes_from_name(name)
    new.model = model
    return old, new


def new_field(model: type[models.Model], name: str, field: Any) -> Any:
    field.set_attributes_from_name(name)
    field.model = model
    return field


def _database(
    request: pytest.FixtureRequest, backend: str, alias: str, workdir: Path, django_db_blocker: Any
) -> Iterator[Database]:
    url = database_url(request, backend, workdir)
    for args in (("migrate", "--no-input", "-v0"), ("seed_shop",)):
        result = manage(url, *args)
        assert result.returncode == 0, result.stderr
    with django_db_blocker.unblock():
        yield Database(backend=backend, url=url, connection=connect(alias, url))
        disconnect(alias)


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, django_db_blocker: Any
) -> Iterator[Database]:
    """The module's database, once on SQLite and once on MariaDB."""
    backend = request.param
    workdir = tmp_path_factory.mktemp(f"integrity-{backend}")
    yield from _database(request, backend, f"integrity_{backend}", workdir, django_db_blocker)


@pytest.fixture(scope="module")
def mariadb_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, django_db_blocker: Any
) -> Iterator[Database]:
    """A database on MariaDB only, for what SQLite cannot show (a server that closes or kills connections)."""
    workdir = tmp_path_factory.mktemp("integrity-mariadb-only")
    yield from _database(request, "mariadb", "integrity_mariadb_only", workdir, django_db_blocker)


@pytest.fixture
def alias() -> Iterator[Any]:
    """``alias(db, name, **overrides)``: a connection to ``db`` under a new alias (suffixed with the backend: the
    counters are per process and alias) with settings overridden; forgotten after the test."""
    made: list[str] = []

    def make(db: Database, name: str, **overrides: Any) -> BaseDatabaseWrapper:
        made.append(f"{name}_{db.backend}")
        return connect(made[-1], db.url, **overrides)

    yield make
    for name in made:
        disconnect(name)


@pytest.fixture(autouse=True)
def _database_access(django_db_blocker: Any) -> Iterator[None]:
    """These tests talk to databases of their own, never to the test run's database."""
    with django_db_blocker.unblock():
        yield


def findings(result: CheckResult, *kinds: str) -> list[tuple[str, str, dict[str, str]]]:
    """``(kind, level, labels)`` of the result's findings, of ``kinds`` only when given."""
    return [(f.kind, f.level, dict(f.labels)) for f in result.findings if not kinds or f.kind in kinds]


def samples(result: CheckResult, family: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for s in result.samples if s.family == family}
