"""``manage.py api_inventory``: every URL pattern with its route, view, methods, authentication, effective
permissions (for an anonymous request of each method), throttles, serializer and body fields, CSRF exemption,
and whether the OpenAPI document covers it; then the findings.

    python manage.py api_inventory                      # a table, then the findings
    python manage.py api_inventory --format json        # {"endpoints": [...], "findings": [...], "schema": {...}}
    python manage.py api_inventory --fail-on-findings   # exit 1 when there is a finding (CI)

Nothing is written: permissions are evaluated with every database connection refusing statements that are not
reads. Findings are also system checks of ``manage.py check --deploy`` (django_integration.W101 to W105).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_integration.inventory import Endpoint, inventory_of


def _yes(value: bool | None) -> str:
    return "?" if value is None else "yes" if value else "no"


def _short(names: tuple[str, ...] | None) -> str:
    return ",".join(name.rsplit(".", 1)[-1] for name in names or ()) or "-"


class Command(BaseCommand):
    help = (
        "List every URL pattern with its view, methods, authentication, effective permissions, throttles, "
        "serializer, CSRF exemption and OpenAPI coverage, and the findings (anonymous writes, detail routes more "
        "open than their list, endpoints missing from the document, debug views, CSRF-exempt session writes)."
    )
    requires_system_checks: list[str] = []  # a diagnosis runs even where a system check would stop it

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["table", "json"], default="table")
        parser.add_argument("--urlconf", help="the URL conf module (default ROOT_URLCONF)")
        parser.add_argument("--fail-on-findings", action="store_true", help="exit 1 when there is a finding")

    def handle(self, *args: Any, format: str, urlconf: str | None, fail_on_findings: bool, **options: Any) -> None:
        try:
            inventory = inventory_of(urlconf)
        except ImportError as error:
            raise CommandError(f"cannot import the URL conf: {error}") from None
        endpoints = inventory.endpoints()
        findings = inventory.findings(endpoints)
        if format == "json":
            document = {
                "endpoints": [endpoint.as_dict() for endpoint in endpoints],
                "findings": [{**f.__dict__} for f in findings],
                "schema": {"available": inventory.schema.available, "error": inventory.schema.error},
            }
            self.stdout.write(json.dumps(document, indent=2))
        else:
            self.stdout.write(self._table(endpoints))
            if not inventory.schema.available:
                self.stdout.write(f"\nOpenAPI coverage unknown: {inventory.schema.error}")
            self.stdout.write(f"\n{len(findings)} finding(s)" + (":" if findings else ""))
            for finding in findings:
                self.stdout.write(f"  {finding.check_id} {finding.finding}: {finding.message}")
        if fail_on_findings and findings:
            raise SystemExit(1)

    def _table(self, endpoints: list[Endpoint]) -> str:
        header = ("METHOD", "ROUTE", "VIEW", "AUTHENTICATION", "PERMISSIONS", "ANONYMOUS", "IN SCHEMA", "CSRF EXEMPT",
                  "SERIALIZER")  # fmt: skip
        rows = [header] + [
            (e.method, e.route, e.view, _short(e.authentication), _short(e.permissions), _yes(e.anonymous),
             e.in_schema, _yes(e.csrf_exempt or e.session_without_csrf), (e.serializer or "-").rsplit(".", 1)[-1])
            for e in endpoints
        ]  # fmt: skip
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                         for row in rows)  # fmt: skip
