"""The migrations check on SQLite and MariaDB: unapplied migrations per app, a database ahead of the code,
conflicting leaves, and a model changed without a migration — found the way ``makemigrations --check`` finds it,
with no file written."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from django_integration.integrity import OK
from django_integration.integrity.migrations import MISSING, UNAPPLIED
from tests.django_integration.integrity.conftest import Database, findings, manage, samples

HERE = Path(__file__).resolve().parent
DRIFTED = "tests.django_integration.integrity.drifted_settings"
CONFLICTED = "tests.django_integration.integrity.conflicted_settings"


def test_a_migrated_database_has_no_finding(database: Database) -> None:
    result = database.run("migrations")
    assert result.status == OK and findings(result) == []
    assert samples(result, UNAPPLIED) == {
        (("app_label", label),): 0 for label in ("auth", "contenttypes", "sessions", "shop", "fault_migrations")
    }
    missing = samples(result, MISSING)
    assert (("app_label", "shop"), ("model", "OrderItem")) in missing and set(missing.values()) == {0}


def test_an_unapplied_migration_is_named_with_its_app(database: Database) -> None:
    database.sql("DELETE FROM django_migrations WHERE app = %s AND name = %s", ["shop", "0001_initial"])
    try:
        result = database.run("migrations")
    finally:
        database.sql(
            "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)",
            ["shop", "0001_initial", datetime.now(UTC).replace(tzinfo=None)],
        )
    assert findings(result) == [("unapplied_migration", "error", {"app_label": "shop", "migration": "0001_initial"})]
    assert samples(result, UNAPPLIED)[(("app_label", "shop"),)] == 1
    assert samples(result, UNAPPLIED)[(("app_label", "auth"),)] == 0
    assert findings(database.run("migrations")) == []


def test_a_database_ahead_of_the_code(database: Database) -> None:
    database.sql(
        "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)",
        ["shop", "0099_from_newer_code", datetime.now(UTC).replace(tzinfo=None)],
    )
    try:
        result = database.run("migrations")
    finally:
        database.sql("DELETE FROM django_migrations WHERE name = %s", ["0099_from_newer_code"])
    assert findings(result) == [
        ("unknown_applied_migration", "warning", {"app_label": "shop", "migration": "0099_from_newer_code"})
    ]


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(path.relative_to(directory)): path.read_bytes() for path in sorted(directory.rglob("*.py"))}


def test_a_model_changed_without_a_migration_is_found_and_no_file_is_written(database: Database) -> None:
    env = {"DJANGO_SETTINGS_MODULE": DRIFTED}
    migrated = manage(database.url, "migrate", "--no-input", "-v0", env=env)
    assert migrated.returncode == 0, migrated.stderr
    before = snapshot(HERE / "drifted_app")

    result = manage(database.url, "integrity_check", "--check", "migrations", "--format", "json", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    (check,) = json.loads(result.stdout)["results"]
    assert [(f["kind"], f["level"], f["labels"]) for f in check["findings"]] == [
        ("missing_migration", "error", {"app_label": "drifted", "model": "Parcel"})
    ]
    assert "Add field weight to parcel" in check["findings"][0]["message"]
    missing = {(s["labels"]["app_label"], s["labels"]["model"]): s["value"] for s in check["samples"]
               if s["family"] == MISSING}  # fmt: skip
    assert missing[("drifted", "Parcel")] == 1 and missing[("drifted", "Depot")] == 0
    assert snapshot(HERE / "drifted_app") == before, "the check wrote a migration"

    # Django's own answer agrees, and the table is missing the column the model has.
    assert manage(database.url, "makemigrations", "--check", "--dry-run", env=env).returncode == 1
    schema = manage(database.url, "integrity_check", "--check", "schema", "--format", "json", env=env)
    kinds = [(f["kind"], f["labels"]) for f in json.loads(schema.stdout)["results"][0]["findings"]]
    assert kinds == [("missing_column", {"app_label": "drifted", "model": "Parcel", "column": "weight"})]
    assert snapshot(HERE / "drifted_app") == before


def test_conflicting_leaves_are_found(database: Database) -> None:
    result = manage(
        database.url, "integrity_check", "--check", "migrations", "--format", "json",
        env={"DJANGO_SETTINGS_MODULE": CONFLICTED},
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    (check,) = json.loads(result.stdout)["results"]
    found = [(f["kind"], f["labels"]) for f in check["findings"]]
    assert ("conflicting_migrations", {"app_label": "conflicted"}) in found
    unapplied = sorted(f["labels"]["migration"] for f in check["findings"] if f["kind"] == "unapplied_migration")
    assert unapplied == ["0001_initial", "0002_branch_a", "0002_branch_b"]
