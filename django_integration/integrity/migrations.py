"""``migrations``: what the migration files and the database disagree on, and what the models and the files do.

- **Unapplied** (error): migrations on disk the database has not recorded, per app — the plan ``migrate`` would
  run (``MigrationExecutor.migration_plan``).
- **Missing** (error; reported on the first database checked, the models being the same for every one): model
  changes no migration describes, found the way ``makemigrations --check`` finds them (``MigrationAutodetector``
  over the migration graph's state against the models), without writing a file and without asking anything
  (Django's non-interactive base questioner: a question gets its default answer).
- **Conflicts** (error): an app with two leaf migrations (``makemigrations --merge`` is needed).
- **Unknown applied** (warning): migrations the database recorded that no file of an installed app has — the
  database is ahead of the code (a rollback to older code).

Samples: ``django_integrity_unapplied_migrations{app_label}`` for every app with migrations (0 when all are
applied), and, on the first database checked, ``django_integrity_missing_migrations{app_label, model}`` for every
model of those apps (0 when its migrations describe it).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.apps import apps
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.questioner import MigrationQuestioner
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState

from ._base import CheckContext, Finding, Outcome, Sample

NAME = "migrations"
UNAPPLIED = "django_integrity_unapplied_migrations"
MISSING = "django_integrity_missing_migrations"


def run(context: CheckContext) -> Outcome:
    connection = context.connection
    outcome = Outcome()
    executor = MigrationExecutor(connection)
    loader = executor.loader
    migrated = sorted(label for label in loader.migrated_apps if not context.excluded(label))

    unapplied: Counter[str] = Counter()
    for migration, _backwards in executor.migration_plan(loader.graph.leaf_nodes()):
        if context.excluded(migration.app_label):
            continue
        unapplied[migration.app_label] += 1
        outcome.findings.append(
            Finding(
                NAME,
                "unapplied_migration",
                "error",
                f"migration {migration.app_label}.{migration.name} is not applied on database {context.alias}: "
                "run `manage.py migrate`",
                {"app_label": migration.app_label, "migration": migration.name},
            )
        )
    outcome.samples += [Sample(UNAPPLIED, {"app_label": label}, unapplied[label]) for label in migrated]

    for app_label, leaves in sorted(loader.detect_conflicts().items()):
        if not context.excluded(app_label):
            outcome.findings.append(
                Finding(
                    NAME,
                    "conflicting_migrations",
                    "error",
                    f"app {app_label} has conflicting leaf migrations {', '.join(sorted(leaves))}: "
                    "run `manage.py makemigrations --merge`",
                    {"app_label": app_label},
                    count=len(leaves),
                )
            )

    outcome.findings += _unknown_applied(loader, connection, set(migrated), context)
    if context.primary:
        findings, samples = _missing(loader, set(migrated), context)
        outcome.findings += findings
        outcome.samples += samples
    return outcome


def _unknown_applied(
    loader: MigrationLoader, connection: Any, migrated: set[str], context: CheckContext
) -> list[Finding]:
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return []
    known = set(loader.graph.nodes) | set(loader.disk_migrations)
    for replaced in loader.replacements.values():
        known.update(replaced.replaces)
    findings = []
    for app_label, name in sorted(set(recorder.applied_migrations()) - known):
        if app_label in migrated:
            findings.append(
                Finding(
                    NAME,
                    "unknown_applied_migration",
                    "warning",
                    f"database {context.alias} has applied {app_label}.{name}, which no migration file has: "
                    "the database is ahead of this code",
                    {"app_label": app_label, "migration": name},
                )
            )
    return findings


def _missing(loader: MigrationLoader, migrated: set[str], context: CheckContext) -> tuple[list[Finding], list[Sample]]:
    """What ``makemigrations --check`` would write, per app and model; nothing is written."""
    from_state = loader.project_state()
    to_state = ProjectState.from_apps(apps)
    autodetector = MigrationAutodetector(from_state, to_state, MigrationQuestioner(specified_apps=None, dry_run=True))
    changes = autodetector.changes(graph=loader.graph)
    per_model: Counter[tuple[str, str]] = Counter()
    findings = []
    for app_label, migrations in sorted(changes.items()):
        if app_label not in migrated:
            continue
        for migration in migrations:
            for operation in migration.operations:
                model = _model_of(operation, app_label, from_state, to_state)
                if context.excluded(app_label, model):
                    continue
                per_model[(app_label, model)] += 1
                findings.append(
                    Finding(
                        NAME,
                        "missing_migration",
                        "error",
                        f"{app_label}.{model}: {operation.describe()}, and no migration says so: "
                        "run `manage.py makemigrations`",
                        {"app_label": app_label, "model": model},
                    )
                )
    models = {
        (model._meta.app_label, model._meta.object_name or "")
        for model in apps.get_models()
        if model._meta.app_label in migrated and not context.excluded(model._meta.app_label, model._meta.object_name)
    }
    samples = [
        Sample(MISSING, {"app_label": app_label, "model": model}, per_model[(app_label, model)])
        for app_label, model in sorted(models | set(per_model))
    ]
    return findings, samples


def _model_of(operation: Any, app_label: str, *states: ProjectState) -> str:
    """The object name (``OrderItem``) of the model an autodetector operation changes."""
    if type(operation).__name__ == "RenameModel":
        name = operation.new_name
    else:
        name = getattr(operation, "model_name", None) or getattr(operation, "name", None) or ""
    for state in states:
        model_state = state.models.get((app_label, str(name).lower()))
        if model_state is not None:
            return str(model_state.name)
    return str(name)
