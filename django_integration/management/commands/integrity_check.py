"""``manage.py integrity_check``: the integrity checks once, for deploy pipelines and cron.

    python manage.py integrity_check                          # every check on every database, a table
    python manage.py integrity_check --check migrations --check schema --fail-on warning
    python manage.py integrity_check --format json --state-file /var/lib/app/integrity-state.json

Exit codes: 0 nothing at or above ``--fail-on`` (default ``error``) and every check ran; 1 a finding at or above
``--fail-on``; 2 bad usage (an unknown check, database or level); 3 a check could not run (the database is
unreachable, a statement failed) and nothing reached ``--fail-on``. A foreign_keys check that runs out of its budget
reports an ``info`` finding (``incomplete``) and continues next time from ``--state-file`` when one is given.
Nothing is written but the state file: the missing-migrations check writes no migration.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from django_integration.integrity import CHECKS, FAILED, LEVELS, CheckResult, Options, level_rank, run_checks
from django_integration.integrity._base import count_by_level

EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_CHECK_FAILED = 3


def exit_code(results: list[CheckResult], fail_on: str) -> int:
    """1 when a finding reaches ``fail_on``, else 3 when a check failed, else 0."""
    threshold = level_rank(fail_on)
    if any(level_rank(f.level) >= threshold for r in results for f in r.findings):
        return EXIT_FINDINGS
    if any(r.status == FAILED for r in results):
        return EXIT_CHECK_FAILED
    return 0


class Command(BaseCommand):
    help = (
        "Run the integrity checks (unapplied and missing migrations, schema drift, orphaned foreign keys, "
        "connections) and exit non-zero on findings at or above --fail-on."
    )
    requires_system_checks: list[str] = []  # a diagnosis must run even where a system check would stop it

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="append", dest="checks", choices=list(CHECKS), metavar="NAME",
            help=f"run only this check (repeatable): {', '.join(CHECKS)}; default: all",
        )  # fmt: skip
        parser.add_argument(
            "--database", action="append", dest="databases", metavar="ALIAS",
            help="check only this database alias (repeatable); default: INTEGRITY_DATABASES, else every database",
        )  # fmt: skip
        parser.add_argument("--format", choices=["table", "json"], default="table", help="default: %(default)s")
        parser.add_argument(
            "--fail-on", choices=list(LEVELS), default="error", dest="fail_on",
            help="exit 1 when a finding is at this level or above (default: %(default)s)",
        )  # fmt: skip
        parser.add_argument(
            "--budget", type=float, metavar="SECONDS",
            help="time budget per check and database (INTEGRITY_BUDGET_SECONDS)",
        )  # fmt: skip
        parser.add_argument(
            "--statement-timeout", type=float, metavar="SECONDS", dest="statement_timeout",
            help="server-side timeout per statement (INTEGRITY_STATEMENT_TIMEOUT_SECONDS)",
        )  # fmt: skip
        parser.add_argument(
            "--batch-rows", type=int, metavar="N", dest="batch_rows",
            help="child rows per foreign-key anti-join (INTEGRITY_FOREIGN_KEY_BATCH_ROWS)",
        )  # fmt: skip
        parser.add_argument(
            "--state-file", type=Path, dest="state_file",
            help="read and write where the foreign_keys scan continues (large tables across runs)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        databases = options["databases"]
        unknown = sorted(set(databases or ()) - set(connections))
        if unknown:
            raise CommandError(
                f"unknown database {', '.join(unknown)}; DATABASES has {', '.join(connections)}", returncode=EXIT_USAGE
            )
        settings = Options.from_settings(checks=options["checks"], aliases=databases)
        for flag, key, value in (
            ("--budget", "budget_seconds", options["budget"]),
            ("--statement-timeout", "statement_timeout_seconds", options["statement_timeout"]),
            ("--batch-rows", "batch_rows", options["batch_rows"]),
        ):
            if value is not None:
                if value <= 0:
                    raise CommandError(f"{flag} must be positive, got {value}", returncode=EXIT_USAGE)
                setattr(settings, key, value)
        state_file: Path | None = options["state_file"]
        state = _read_state(state_file)
        results = run_checks(settings, state, log=False)
        if state_file is not None:
            state.update({f"{r.check}:{r.alias}": r.state for r in results})
            state_file.write_text(json.dumps(state), encoding="utf-8")
        code = exit_code(results, options["fail_on"])
        if options["format"] == "json":
            self.stdout.write(json.dumps(_json(results, options["fail_on"], code), indent=2))
        else:
            self.stdout.write(_table(results, options["fail_on"], code))
        if code:
            sys.exit(code)


def _read_state(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise CommandError(f"--state-file {path} is not JSON: {error}", returncode=EXIT_USAGE) from None
    return data if isinstance(data, dict) else {}


def _json(results: list[CheckResult], fail_on: str, code: int) -> dict[str, Any]:
    return {
        "results": [{k: v for k, v in r.to_dict().items() if k != "state"} for r in results],
        "summary": {
            "findings": count_by_level(f for r in results for f in r.findings),
            "failed": [f"{r.check}:{r.alias}" for r in results if r.status == FAILED],
            "fail_on": fail_on,
            "exit_code": code,
        },
    }


def _table(results: list[CheckResult], fail_on: str, code: int) -> str:
    header = ("check", "database", "status", "seconds", "error", "warning", "info")
    rows = [header]
    for r in results:
        counts = count_by_level(r.findings)
        rows.append(
            (r.check, r.alias, r.status, f"{r.duration_seconds:.3f}",
             str(counts["error"]), str(counts["warning"]), str(counts["info"]))
        )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    findings = [(f, r) for r in results for f in r.findings]
    findings.sort(key=lambda item: -level_rank(item[0].level))
    if findings or any(r.error for r in results):
        lines.append("")
    for r in results:
        if r.error:
            lines.append(f"failed   {r.check:<13} {r.alias}: {r.error}")
    for finding, r in findings:
        lines.append(f"{finding.level:<8} {finding.check:<13} {r.alias}: {finding.message}")
    total = count_by_level(f for f, _ in findings)
    lines.append("")
    lines.append(
        f"{total['error']} errors, {total['warning']} warnings, {total['info']} info in {len(results)} checks; "
        f"exit {code} (--fail-on {fail_on})"
    )
    return "\n".join(lines)
