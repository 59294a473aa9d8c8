"""The system checks: the middleware is installed and first, and ``WORKFLOW_EXPORTER`` makes sense."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, Warning, run_checks
from pytest_django.fixtures import Settings

from django_integration.checks import MIDDLEWARE_PATH, check_middleware, check_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
OURS = MIDDLEWARE_PATH
SECURITY = "django.middleware.security.SecurityMiddleware"
SESSION = "django.contrib.sessions.middleware.SessionMiddleware"
COMMON = "django.middleware.common.CommonMiddleware"
PROMETHEUS_BEFORE = "django_prometheus.middleware.PrometheusBeforeMiddleware"
PROMETHEUS_AFTER = "django_prometheus.middleware.PrometheusAfterMiddleware"
CORS = "corsheaders.middleware.CorsMiddleware"

KNOWN = (
    "CLIENT_LOGS_ALLOWED_ORIGINS, CLIENT_LOGS_MAX_BYTES, CLIENT_LOGS_MAX_EVENTS, CLIENT_LOGS_RATE_PER_MINUTE, "
    "EXCLUDED_ROUTES, FRONTEND_MAX_ROUTES, FRONTEND_ROUTES, INTEGRITY_BUDGET_SECONDS, INTEGRITY_CHECKS, "
    "INTEGRITY_CONNECT_ATTEMPTS, INTEGRITY_DATABASES, INTEGRITY_EXCLUDE, INTEGRITY_FOREIGN_KEY_BATCH_ROWS, "
    "INTEGRITY_REFRESH, INTEGRITY_REFRESH_INTERVAL_SECONDS, INTEGRITY_STATEMENT_TIMEOUT_SECONDS, INTEGRITY_STATE_DIR, "
    "LATENCY_BUCKETS, METRICS_ALLOWED_NETWORKS, "
    "METRICS_BEARER_TOKEN, READINESS_DB_TIMEOUT_SECONDS, REPEATED_QUERY_THRESHOLD, "
    "SERVER_TIMING, SLOW_QUERY_SECONDS, SQL_COMMENTS, SYNTHETIC_HEADER, SYNTHETIC_SECRET, TIMING_ALLOW_ORIGIN"
)
MISSING = Warning(
    f"{OURS} is not in MIDDLEWARE: no correlation IDs, request metrics or request logs.",
    hint=f"Add {OURS!r} as the first entry of MIDDLEWARE.",
    id="django_integration.W001",
)


def too_late(*before: str) -> Warning:
    return Warning(
        f"{OURS} must come before {', '.join(before)} in MIDDLEWARE, or the time, queries, "
        "log lines and errors of those middlewares miss the correlation ID.",
        hint=f"Move {OURS!r} to the top of MIDDLEWARE.",
        id="django_integration.W002",
    )


def our_messages() -> list[CheckMessage]:
    return [message for message in run_checks() if (message.id or "").startswith("django_integration.")]


def test_demo_shop_settings_pass() -> None:
    assert OURS in django_settings.MIDDLEWARE
    assert our_messages() == []


@pytest.mark.parametrize(
    "middleware",
    [
        [OURS],
        [OURS, SECURITY, SESSION, COMMON],
        [PROMETHEUS_BEFORE, OURS, SESSION, PROMETHEUS_AFTER],
        [SECURITY, OURS, SESSION],
        [PROMETHEUS_BEFORE, SECURITY, OURS, SESSION, COMMON, PROMETHEUS_AFTER],
    ],
    ids=["alone", "first", "after_prometheus", "after_security", "after_both"],
)
def test_allowed_orders(settings: Settings, middleware: list[str]) -> None:
    settings.MIDDLEWARE = middleware
    assert check_middleware() == []
    assert our_messages() == []


@pytest.mark.parametrize("middleware", [[], [SECURITY, SESSION, COMMON], ["django_integration.RequestMonitoring"]])
def test_missing_middleware_is_a_warning(settings: Settings, middleware: list[str]) -> None:
    settings.MIDDLEWARE = middleware
    assert check_middleware() == [MISSING]
    assert our_messages() == [MISSING]
    assert not MISSING.is_serious()


@pytest.mark.parametrize(
    ("middleware", "expected"),
    [
        ([SECURITY, SESSION, OURS, COMMON], too_late(SESSION)),
        ([SESSION, COMMON, OURS], too_late(SESSION, COMMON)),
        ([PROMETHEUS_BEFORE, SECURITY, SESSION, OURS], too_late(SESSION)),
        ([PROMETHEUS_AFTER, OURS], too_late(PROMETHEUS_AFTER)),
        ([CORS, OURS, SECURITY, SESSION, COMMON], too_late(CORS)),
    ],
    ids=["after_session", "last", "after_allowed_and_session", "after_prometheus_after", "after_cors"],
)
def test_middleware_after_others_is_a_warning(settings: Settings, middleware: list[str], expected: Warning) -> None:
    """The app works in any order; only the middlewares before ours lack the ID, so nothing blocks ``migrate``."""
    settings.MIDDLEWARE = middleware
    assert check_middleware() == [expected]
    assert our_messages() == [expected]
    assert not expected.is_serious()


def setting_errors(*problems: str) -> list[Error]:
    return [Error(problem, id="django_integration.E002") for problem in problems]


@pytest.mark.parametrize(
    ("value", "problems"),
    [
        pytest.param({}, [], id="empty"),
        pytest.param(
            {
                "SLOW_QUERY_SECONDS": 0.25,
                "METRICS_ALLOWED_NETWORKS": ["10.0.0.0/8", "::1", "127.0.0.1"],
                "EXCLUDED_ROUTES": ("metrics",),
                "REPEATED_QUERY_THRESHOLD": 3,
                "READINESS_DB_TIMEOUT_SECONDS": 1,
            },
            [],
            id="valid",
        ),
        pytest.param(
            {"SLOW_QUERY_SECOND": 1.0, "SLOW_QUERY_SECONDS": -1, "METRICS_ALLOWED_NETWORKS": ["10.0.0.300/8"]},
            [
                f"WORKFLOW_EXPORTER['SLOW_QUERY_SECOND'] is not a known setting; known: {KNOWN}",
                "WORKFLOW_EXPORTER['SLOW_QUERY_SECONDS'] must be a positive float, got -1",
                "WORKFLOW_EXPORTER['METRICS_ALLOWED_NETWORKS'] has an invalid network '10.0.0.300/8'",
            ],
            id="several_at_once",
        ),
        pytest.param("nope", ["WORKFLOW_EXPORTER must be a dict, got str"], id="a_string"),
        pytest.param([("SLOW_QUERY_SECONDS", 1)], ["WORKFLOW_EXPORTER must be a dict, got list"], id="a_list"),
        pytest.param(
            {
                "CLIENT_LOGS_MAX_EVENTS": True,
                "CLIENT_LOGS_MAX_BYTES": 0,
                "READINESS_DB_TIMEOUT_SECONDS": "2",
                "REPEATED_QUERY_THRESHOLD": 2.5,
            },
            [
                "WORKFLOW_EXPORTER['READINESS_DB_TIMEOUT_SECONDS'] must be a positive float, got '2'",
                "WORKFLOW_EXPORTER['CLIENT_LOGS_MAX_BYTES'] must be a positive int, got 0",
                "WORKFLOW_EXPORTER['CLIENT_LOGS_MAX_EVENTS'] must be a positive int, got True",
                "WORKFLOW_EXPORTER['REPEATED_QUERY_THRESHOLD'] must be a whole number",
            ],
            id="numbers",
        ),
        pytest.param(
            {"METRICS_ALLOWED_NETWORKS": "10.0.0.0/8", "EXCLUDED_ROUTES": "metrics"},
            [
                "WORKFLOW_EXPORTER['METRICS_ALLOWED_NETWORKS'] must be a list, got '10.0.0.0/8'",
                "WORKFLOW_EXPORTER['EXCLUDED_ROUTES'] must be a list, got 'metrics'",
            ],
            id="strings_for_lists",
        ),
        pytest.param(
            {"METRICS_ALLOWED_NETWORKS": None},
            ["WORKFLOW_EXPORTER['METRICS_ALLOWED_NETWORKS'] must be a list, got None"],
            id="none_for_networks",
        ),
        pytest.param(
            {"METRICS_ALLOWED_NETWORKS": ["10.0.0.0/8", None, "localhost"]},
            [
                "WORKFLOW_EXPORTER['METRICS_ALLOWED_NETWORKS'] has an invalid network None",
                "WORKFLOW_EXPORTER['METRICS_ALLOWED_NETWORKS'] has an invalid network 'localhost'",
            ],
            id="bad_entries",
        ),
    ],
)
def test_settings_problems(settings: Settings, value: Any, problems: list[str]) -> None:
    settings.WORKFLOW_EXPORTER = value
    assert check_settings() == setting_errors(*problems)
    assert our_messages() == setting_errors(*problems)


def test_no_settings_at_all(settings: Settings) -> None:
    del settings.WORKFLOW_EXPORTER
    assert check_settings() == []


def manage_py_check(settings_module: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m demo_shop check`` under the given settings module, as a deployment would run it."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}",
    }
    return subprocess.run(
        [sys.executable, "-m", "demo_shop", "check", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_manage_py_check_warns_on_wrong_order(tmp_path: Path) -> None:
    expected = too_late("demo_shop.faults.CorsWildcardFaultMiddleware", CORS, SESSION)
    result = manage_py_check("tests.django_integration.wrong_order_settings", tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"?: (django_integration.W002) {expected.msg}" in result.stderr, result.stderr
    assert f"HINT: {expected.hint}" in result.stderr
    strict = manage_py_check("tests.django_integration.wrong_order_settings", tmp_path, "--fail-level", "WARNING")
    assert strict.returncode != 0, strict.stdout
    assert "SystemCheckError" in strict.stderr


def test_manage_py_check_passes_with_the_demo_settings(tmp_path: Path) -> None:
    result = manage_py_check("demo_shop.settings", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "django_integration" not in result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout
