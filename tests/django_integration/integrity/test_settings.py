"""The INTEGRITY_* settings: defaults, and every problem reported at once by ``manage.py check`` (E002)."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_django.fixtures import Settings

from django_integration.conf import app_settings, settings_problems
from django_integration.integrity import CHECKS, Options


def test_defaults(settings: Settings) -> None:
    settings.WORKFLOW_EXPORTER = {}  # the integration's defaults, not the demo shop's
    assert app_settings.integrity_refresh is False
    assert app_settings.integrity_refresh_interval_seconds == 600.0
    assert app_settings.integrity_checks == tuple(CHECKS)
    assert app_settings.integrity_databases is None
    options = Options.from_settings()
    assert options.aliases == ["default"] and options.budget_seconds == 30.0
    assert options.statement_timeout_seconds == 10.0 and options.batch_rows == 100_000


def test_settings_are_read_again_after_override(settings: Settings) -> None:
    settings.WORKFLOW_EXPORTER = {"INTEGRITY_CHECKS": ["schema"], "INTEGRITY_EXCLUDE": ["Shop.OrderItem"]}
    options = Options.from_settings()
    assert options.checks == ["schema"] and options.exclude == frozenset({"shop.orderitem"})


@pytest.mark.parametrize(
    ("value", "problems"),
    [
        pytest.param(
            {
                "INTEGRITY_REFRESH": True,
                "INTEGRITY_REFRESH_INTERVAL_SECONDS": 30,
                "INTEGRITY_CHECKS": ["schema"],
                "INTEGRITY_DATABASES": ["default"],
                "INTEGRITY_EXCLUDE": ["sessions"],
                "INTEGRITY_STATE_DIR": "/tmp/x",
            },
            [],
            id="valid",
        ),
        pytest.param(
            {
                "INTEGRITY_REFRESH_INTERVAL_SECONDS": 0,
                "INTEGRITY_BUDGET_SECONDS": "30",
                "INTEGRITY_STATEMENT_TIMEOUT_SECONDS": -1,
                "INTEGRITY_FOREIGN_KEY_BATCH_ROWS": 10.5,
                "INTEGRITY_CONNECT_ATTEMPTS": True,
            },
            [
                "WORKFLOW_EXPORTER['INTEGRITY_REFRESH_INTERVAL_SECONDS'] must be a positive number, got 0",
                "WORKFLOW_EXPORTER['INTEGRITY_BUDGET_SECONDS'] must be a positive number, got '30'",
                "WORKFLOW_EXPORTER['INTEGRITY_STATEMENT_TIMEOUT_SECONDS'] must be a positive number, got -1",
                "WORKFLOW_EXPORTER['INTEGRITY_CONNECT_ATTEMPTS'] must be a positive number, got True",
                "WORKFLOW_EXPORTER['INTEGRITY_FOREIGN_KEY_BATCH_ROWS'] must be a whole number",
            ],
            id="numbers",
        ),
        pytest.param(
            {
                "INTEGRITY_CHECKS": ["schema", "orphans"],
                "INTEGRITY_EXCLUDE": "sessions",
                "INTEGRITY_DATABASES": "default",
            },
            [
                "WORKFLOW_EXPORTER['INTEGRITY_EXCLUDE'] must be a list of strings, got 'sessions'",
                "WORKFLOW_EXPORTER['INTEGRITY_DATABASES'] must be a list of strings, got 'default'",
                "WORKFLOW_EXPORTER['INTEGRITY_CHECKS'] names an unknown check 'orphans'; "
                "known: migrations, schema, foreign_keys, connections",
            ],
            id="names_and_lists",
        ),
    ],
)
def test_problems_are_reported_at_once(settings: Settings, value: dict[str, Any], problems: list[str]) -> None:
    settings.WORKFLOW_EXPORTER = value
    assert settings_problems() == problems
