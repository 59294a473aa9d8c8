"""The demo shop with a test app whose model changed without a migration (integrity_check tests)."""

from demo_shop.settings import *  # noqa: F403
from demo_shop.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.django_integration.integrity.drifted_app.apps.DriftedConfig"]
