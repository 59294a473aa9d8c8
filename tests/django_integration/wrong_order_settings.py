"""The demo shop with the monitoring middleware after SessionMiddleware: ``manage.py check`` warns."""

from demo_shop.settings import *  # noqa: F403
from demo_shop.settings import MIDDLEWARE as _DEMO_MIDDLEWARE

_OURS = "django_integration.middleware.RequestMonitoringMiddleware"
_rest = [entry for entry in _DEMO_MIDDLEWARE if entry != _OURS]
_session = _rest.index("django.contrib.sessions.middleware.SessionMiddleware")
MIDDLEWARE = [*_rest[: _session + 1], _OURS, *_rest[_session + 1 :]]
