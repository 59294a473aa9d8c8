"""``manage.py integrity_check`` as a deploy pipeline runs it: exit codes, both formats, and a state file that
carries the foreign-key scan of a large table from one run to the next."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.django_integration.integrity.conftest import Database, manage

Undo = Callable[[], object]
Setup = Callable[[Database], Undo]


def nothing(db: Database) -> Undo:
    return lambda: None


def ahead_of_the_code(db: Database) -> Undo:
    """A warning: the database has a migration no file has."""
    now = datetime.now(UTC).replace(tzinfo=None)
    db.sql("INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0099_newer', %s)", [now])
    return lambda: db.sql("DELETE FROM django_migrations WHERE name = '0099_newer'")


def unapplied(db: Database) -> Undo:
    """An error: a migration the database has not applied."""
    db.sql("DELETE FROM django_migrations WHERE app = 'sessions'")
    now = datetime.now(UTC).replace(tzinfo=None)
    return lambda: db.sql("INSERT INTO django_migrations (app, name, applied) VALUES ('sessions', '0001_initial', %s)",
                          [now])  # fmt: skip


@pytest.fixture
def refused_url(database: Database) -> Iterator[str]:
    """A database URL nothing answers at (a port bound, never listening; a SQLite file in a missing directory)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        if database.backend == "sqlite":
            yield "sqlite:////nonexistent-directory/shop.sqlite3"
        else:
            yield database.url.replace(database.url.rsplit(":", 1)[1].split("/")[0], str(port))


EXIT_CODES = [
    pytest.param(nothing, [], 0, id="healthy"),
    pytest.param(nothing, ["--fail-on", "info"], 0, id="healthy-fail-on-info"),
    pytest.param(ahead_of_the_code, [], 0, id="warning-below-fail-on"),
    pytest.param(ahead_of_the_code, ["--fail-on", "warning"], 1, id="warning-at-fail-on"),
    pytest.param(ahead_of_the_code, ["--fail-on", "info"], 1, id="warning-above-fail-on"),
    pytest.param(unapplied, [], 1, id="error"),
    pytest.param(nothing, ["--check", "no_such_check"], 2, id="unknown-check"),
    pytest.param(nothing, ["--database", "replica"], 2, id="unknown-database"),
    pytest.param(nothing, ["--fail-on", "fatal"], 2, id="unknown-level"),
    pytest.param(nothing, ["--budget", "0"], 2, id="budget-not-positive"),
]


@pytest.mark.parametrize(("setup", "args", "code"), EXIT_CODES)
def test_exit_codes(database: Database, setup: Setup, args: list[str], code: int) -> None:
    undo = setup(database)
    try:
        result = manage(database.url, "integrity_check", *args)
    finally:
        undo()
    assert result.returncode == code, result.stdout + result.stderr
    if code in (0, 1):
        summary = result.stdout.strip().splitlines()[-1]
        assert summary.endswith(f"in 4 checks; exit {code} (--fail-on {args[1] if args else 'error'})"), summary


def test_a_database_that_cannot_be_reached(database: Database, refused_url: str) -> None:
    """A check that cannot run is exit 3; with the connections check on, not connecting is its error: exit 1."""
    only_migrations = manage(refused_url, "integrity_check", "--check", "migrations", "--format", "json")
    assert only_migrations.returncode == 3, only_migrations.stdout + only_migrations.stderr
    report = json.loads(only_migrations.stdout)
    assert report["summary"] == {
        "findings": {"info": 0, "warning": 0, "error": 0}, "failed": ["migrations:default"], "fail_on": "error",
        "exit_code": 3,
    }  # fmt: skip
    assert report["results"][0]["status"] == "failed" and "OperationalError" in report["results"][0]["error"]
    everything = manage(refused_url, "integrity_check")
    assert everything.returncode == 1
    assert "connections   default: 3 of 3 new connections to database default failed (refused: 3)" in everything.stdout


def test_json_names_every_finding(database: Database) -> None:
    undo = unapplied(database)
    try:
        result = manage(database.url, "integrity_check", "--format", "json")
    finally:
        undo()
    report = json.loads(result.stdout)
    assert [r["check"] for r in report["results"]] == ["migrations", "schema", "foreign_keys", "connections"]
    (finding,) = [f for r in report["results"] for f in r["findings"]]
    assert finding == {
        "check": "migrations", "kind": "unapplied_migration", "level": "error", "count": 1,
        "labels": {"app_label": "sessions", "migration": "0001_initial"},
        "message": "migration sessions.0001_initial is not applied on database default: run `manage.py migrate`",
    }  # fmt: skip
    assert report["summary"]["exit_code"] == 1 == result.returncode
    assert all("state" not in r for r in report["results"])


def test_the_state_file_carries_a_large_scan_across_runs(database: Database, tmp_path: Path) -> None:
    (order,) = database.sql("SELECT id FROM auth_user WHERE username = 'probe'")[0]
    database.sql("INSERT INTO shop_order (user_id, total, created_at) VALUES (%s, 0, '2026-01-01 00:00:00')", [order])
    (order_id,) = database.sql("SELECT MAX(id) FROM shop_order")[0]
    (product,) = database.sql("SELECT MIN(id) FROM shop_product")[0]
    for _ in range(60):
        database.sql(
            "INSERT INTO shop_orderitem (order_id, product_id, product_name, quantity, unit_price) "
            "VALUES (%s, %s, 'x', 1, 1)",
            [order_id, product],
        )
    state = tmp_path / "integrity-state.json"
    args = ["integrity_check", "--check", "foreign_keys", "--format", "json", "--batch-rows", "25", "--budget", "1e-6"]
    try:
        statuses = []
        for _ in range(40):
            result = manage(database.url, *args, "--state-file", str(state))
            (check,) = json.loads(result.stdout)["results"]
            statuses.append(check["status"])
            if check["status"] == "ok":
                break
        without_state = json.loads(manage(database.url, *args).stdout)["results"][0]["status"]
    finally:
        database.sql("DELETE FROM shop_orderitem WHERE order_id = %s", [order_id])
        database.sql("DELETE FROM shop_order WHERE id = %s", [order_id])
    assert statuses[-1] == "ok" and set(statuses[:-1]) == {"incomplete"} and len(statuses) > 3
    assert without_state == "incomplete", "without the state file every run starts over"
    assert "foreign_keys:default" in json.loads(state.read_text())
