"""The demo shop's settings with the test views mounted, for tests that need them behind a real server."""

from demo_shop.settings import *  # noqa: F403

ROOT_URLCONF = "tests.django_integration.views"
