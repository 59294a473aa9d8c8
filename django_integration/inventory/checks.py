"""The inventory's findings as Django system checks, run by ``manage.py check --deploy`` (they read the whole
URL conf and generate the OpenAPI document: too much for every command's start). Each finding kind has its own
id (``django_integration.W101`` to ``W105``), so ``SILENCED_SYSTEM_CHECKS`` silences a kind the Django way."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Tags, Warning, register

INVENTORY_FAILED = "django_integration.W100"


@register(Tags.security, deploy=True)
def check_api_inventory(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from . import inventory_of

    try:
        findings = inventory_of().findings()
    except Exception as error:  # the inventory is a diagnosis: it never stops a deploy check by crashing
        return [Warning(f"The API inventory could not be made: {type(error).__name__}: {error}",
                        id=INVENTORY_FAILED)]  # fmt: skip
    return [Warning(f.message, hint=f.hint, obj=f.where, id=f.check_id) for f in findings]
