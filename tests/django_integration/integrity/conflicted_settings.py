"""The demo shop with a test app that has two leaf migrations (integrity_check tests)."""

from demo_shop.settings import *  # noqa: F403
from demo_shop.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.django_integration.integrity.conflicted_app.apps.ConflictedConfig"]
