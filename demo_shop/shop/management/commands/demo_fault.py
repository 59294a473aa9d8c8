"""``demo_fault``: switch a database fault of the demo shop from a shell, without the shop running."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo_shop import db_faults
from demo_shop.faults import DB_FAULTS, FAULTS


class Command(BaseCommand):
    help = (
        "Switch a fault that lives in the database (unapplied_migration, schema_drift_db, fk_orphan) on or off. "
        "The others live in the shop's process: PUT /_demo/faults, or DEMO_FAULTS=name at start."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("fault", choices=sorted(FAULTS))
        parser.add_argument("state", choices=["on", "off"])

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_FAULTS_ENABLED:
            raise CommandError("faults are disabled; set DEMO_FAULTS_ENABLED=1")
        name, on = options["fault"], options["state"] == "on"
        if name not in DB_FAULTS:
            raise CommandError(
                f"{name} lives in the shop's process: switch it with PUT /_demo/faults on the running shop, or start "
                f"a process with DEMO_FAULTS={name}"
            )
        try:
            db_faults.switch({name: on})
        except db_faults.FaultSwitchError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{name}: {'on' if db_faults.state()[name] else 'off'}")
