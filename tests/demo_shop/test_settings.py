"""The demo shop's password hasher setting: Django's PBKDF2 unless the fast one is asked for (the compressed fault
matrix), and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

SHOW = (
    "import django; django.setup(); from django.contrib.auth.hashers import get_hasher, make_password; "
    "print(get_hasher().algorithm, make_password('x').split('$')[0])"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "pbkdf2_sha256 pbkdf2_sha256"),  # Django's default
        ("pbkdf2", "pbkdf2_sha256 pbkdf2_sha256"),
        ("md5", "md5 md5"),
        ("sha1", "DEMO_PASSWORD_HASHER must be one of pbkdf2, md5; got 'sha1'"),
    ],
)
def test_demo_password_hasher(value: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DEMO_PASSWORD_HASHER"}
    env["DJANGO_SETTINGS_MODULE"] = "demo_shop.settings"
    if value is not None:
        env["DEMO_PASSWORD_HASHER"] = value
    result = subprocess.run([sys.executable, "-c", SHOW], env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    assert expected in (result.stdout + result.stderr), result.stdout + result.stderr[-2000:]
    assert (result.returncode == 0) is (value != "sha1")
