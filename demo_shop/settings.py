"""Settings of the demo shop, all taken from the environment so one build runs everywhere.

Environment:
    DATABASE_URL            sqlite:///path (default ./demo_shop.sqlite3) or mysql://user:pass@host:port/name
    DJANGO_SECRET_KEY       required outside DEBUG in a real deployment; a fixed demo key otherwise
    DJANGO_DEBUG            "1" for Django's debug mode
    DJANGO_ALLOWED_HOSTS    comma-separated, default 127.0.0.1,localhost
    CORS_ALLOWED_ORIGINS    comma-separated origins the Next.js storefront runs on (also trusted by /client-logs)
    DEMO_FAULTS_ENABLED     "1" to make the switchable faults available at all
    DEMO_FAULTS             comma-separated faults switched on at start
    DEMO_SLOW_SECONDS       how long the slow_products query sleeps (default 1.2)
    DEMO_LOGIN_RATE         login throttle, DRF rate syntax (default 60/min)
    DEMO_PASSWORD_HASHER    "md5": Django's fast MD5PasswordHasher, as Django advises for test suites (the
                            time-compressed fault matrix logs in many times a second); default Django's PBKDF2
    DEMO_NOTIFICATIONS_FILE where /_demo/notifications/ keeps the Alertmanager notifications it receives (off if unset)
    SLOW_QUERY_SECONDS      statements at least this slow are counted and logged (default 0.5)
    SYNTHETIC_SECRET        shared with the exporter: only HMAC-signed synthetic markers count
    DJANGO_LOG_LEVEL        default INFO; DJANGO_LOG_FILE writes the JSON lines to a file instead of stdout
    INTEGRITY_REFRESH       "1" runs the integrity checks in the background (default: on with DEMO_FAULTS_ENABLED)
    INTEGRITY_REFRESH_SECONDS  how often (default 30; the integration's own default is 10 minutes)
"""

import os
from datetime import timedelta

import dj_database_url
import django
from corsheaders.defaults import default_headers

from django_integration.log import logging_config


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


_HASHERS = {"": None, "pbkdf2": None, "md5": ["django.contrib.auth.hashers.MD5PasswordHasher"]}
if os.environ.get("DEMO_PASSWORD_HASHER", "") not in _HASHERS:
    raise ValueError(f"DEMO_PASSWORD_HASHER must be one of pbkdf2, md5; got {os.environ['DEMO_PASSWORD_HASHER']!r}")
if _HASHERS[os.environ.get("DEMO_PASSWORD_HASHER", "")]:
    PASSWORD_HASHERS = _HASHERS[os.environ["DEMO_PASSWORD_HASHER"]]

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-shop-insecure-key-do-not-use-in-production")
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "drf_spectacular",
    "corsheaders",
    "django_prometheus",
    "django_integration",
    "demo_shop.shop",
    "demo_shop.fault_migrations",  # one migration, no models: the unapplied_migration fault
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # First of the rest: the correlation ID, timing and DB accounting cover every middleware after it.
    "django_integration.middleware.RequestMonitoringMiddleware",
    # Outside CorsMiddleware so the cors_wildcard fault can rewrite what it answered.
    "demo_shop.faults.CorsWildcardFaultMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "demo_shop.urls"
WSGI_APPLICATION = "demo_shop.wsgi.application"
TEMPLATES: list[dict[str, object]] = []

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "sqlite:///demo_shop.sqlite3"),
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"].setdefault("OPTIONS", {})["charset"] = "utf8mb4"
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and django.VERSION >= (5, 1):
    # Concurrent writers: a transaction that reads before it writes (the cart, checkout, cancel) would fail at once
    # with "database is locked" when it upgrades its lock; BEGIN IMMEDIATE takes the write lock first, so it waits
    # up to the busy timeout instead (Django's SQLite notes, "Database is locked errors"; the option is 5.1's).
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = _env_list("CORS_ALLOWED_ORIGINS", "http://127.0.0.1:3000,http://localhost:3000")

CORS_ALLOWED_ORIGINS = _env_list("CORS_ALLOWED_ORIGINS", "http://127.0.0.1:3000,http://localhost:3000")
CORS_ALLOW_CREDENTIALS = True
CORS_URLS_REGEX = r"^/api/.*$"
CORS_EXPOSE_HEADERS = ["X-Request-ID", "Server-Timing"]
# The storefront's fetch sends the correlation headers (js/: X-Request-ID and traceparent on every API call).
CORS_ALLOW_HEADERS = (*default_headers, "x-request-id", "traceparent")

REST_FRAMEWORK = {
    # JWT first: its WWW-Authenticate header makes anonymous requests answer 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "demo_shop.shop.pagination.ProductPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"login": os.environ.get("DEMO_LOGIN_RATE", "60/min")},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Demo shop API",
    "DESCRIPTION": "The shop whose user journeys workflow-exporter watches.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components, so response validation sees read-only fields as required.
    "COMPONENT_SPLIT_REQUEST": True,
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

DEMO_FAULTS_ENABLED = os.environ.get("DEMO_FAULTS_ENABLED", "0") == "1"
DEMO_FAULTS = _env_list("DEMO_FAULTS", "")
DEMO_SLOW_SECONDS = float(os.environ.get("DEMO_SLOW_SECONDS", "1.2"))
DEMO_NOTIFICATIONS_FILE = os.environ.get("DEMO_NOTIFICATIONS_FILE", "")
if DEMO_FAULTS_ENABLED:  # Django's backends plus the db_connection_errors fault (demo_shop/backends)
    DATABASES["default"]["ENGINE"] = {
        "django.db.backends.mysql": "demo_shop.backends.mysql",
        "django.db.backends.sqlite3": "demo_shop.backends.sqlite3",
    }.get(DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"])

WORKFLOW_EXPORTER = {
    "SLOW_QUERY_SECONDS": float(os.environ.get("SLOW_QUERY_SECONDS", "0.5")),
    "SYNTHETIC_SECRET": os.environ.get("SYNTHETIC_SECRET") or None,
    "TIMING_ALLOW_ORIGIN": CORS_ALLOWED_ORIGINS,
    "INTEGRITY_REFRESH": os.environ.get("INTEGRITY_REFRESH", "1" if DEMO_FAULTS_ENABLED else "0") == "1",
    "INTEGRITY_REFRESH_INTERVAL_SECONDS": float(os.environ.get("INTEGRITY_REFRESH_SECONDS", "30")),
}

LOGGING = logging_config(level=os.environ.get("DJANGO_LOG_LEVEL", "INFO"), file=os.environ.get("DJANGO_LOG_FILE"))
