"""The distribution as a user gets it.

``make dist``'s commands build an sdist and a wheel (the wheel from the sdist, so the sdist is complete) from a copy
of the tree as a clone has it, and twine accepts both. Then the wheel goes into a fresh virtualenv once per way of
installing it: the base install is the Django integration with only what it imports, and serves requests; the
``exporter`` extra brings the exporter, whose command checks and serves the shipped workflows. Without the extra
the command says which extra to install instead of ending in a traceback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.distribution import (
    BIN,
    PACKAGES,
    PYPROJECT,
    REPO,
    Dist,
    Install,
    Venv,
    clean_env,
    clone_files,
    requirement_names,
    run,
)
from tests.harness.processes import free_port, wait_until

pytestmark = pytest.mark.e2e  # minutes long: `make e2e` (Makefile), not `make test`

BASE_REQUIREMENTS = requirement_names(PYPROJECT["project"]["dependencies"])
EXPORTER_REQUIREMENTS = requirement_names(PYPROJECT["project"]["optional-dependencies"]["exporter"])
# The exporter's libraries and what they pull in themselves (openapi-core: pydantic, werkzeug): never in the base
# install. urllib3 is not among them: requests, which the integration uses, brings it too.
EXPORTER_ONLY = (EXPORTER_REQUIREMENTS - {"urllib3"}) | {"pydantic", "pydantic-settings", "werkzeug", "markupsafe"}
# The demo shop's, the tests' and the optional integrations' distributions: in neither install.
NEVER = {
    "djangorestframework", "django-prometheus", "django-cors-headers", "drf-spectacular", "gunicorn", "honcho",
    "pytest", "mysqlclient", "build", "twine",
}  # fmt: skip


# --- make dist (the ``dist`` fixture, tests/conftest.py, runs its commands) ----------------------------------------


def test_make_dist_builds_and_checks() -> None:
    """The Makefile's recipe is the one the fixture runs: build (sdist, then the wheel from it) and twine --strict."""
    dry = run(["make", "-n", "dist"], REPO)
    assert dry.returncode == 0, dry.stderr
    assert f"{BIN.relative_to(REPO)}/python -m build --outdir dist ." in dry.stdout
    assert f"{BIN.relative_to(REPO)}/twine check --strict dist/*" in dry.stdout


def test_twine_accepts_the_sdist_and_the_wheel(dist: Dist) -> None:
    assert dist.twine.returncode == 0, dist.twine.stdout + dist.twine.stderr
    assert dist.twine.stdout.count("PASSED") == 2, dist.twine.stdout


def test_the_wheel_holds_the_packages_and_their_files(dist: Dist) -> None:
    names = set(zipfile.ZipFile(dist.wheel).namelist())
    version = PYPROJECT["project"]["version"]
    assert {name.split("/")[0] for name in names} == {*PACKAGES, f"workflow_exporter-{version}.dist-info"}
    needed = {
        "exporter/_entry.py",
        "exporter/templates/base.html",
        "exporter/templates/index.html",
        "exporter/templates/run.html",
        "synthetic/workflows/demo_shop.yml",
        *(f"{package}/py.typed" for package in PACKAGES),
    }
    assert needed <= names, needed - names
    # Every module of each package is in it, a folder without __init__.py too.
    modules = {name for name in clone_files() if name.split("/")[0] in PACKAGES and name.endswith(".py")}
    assert modules <= names, modules - names


def test_the_wheels_metadata_splits_the_integration_from_the_exporter(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as wheel:
        info = next(name for name in wheel.namelist() if name.endswith(".dist-info/METADATA"))
        metadata = wheel.read(info).decode()
        entry_points = wheel.read(info.replace("METADATA", "entry_points.txt")).decode()
    requires = re.findall(r"^Requires-Dist: (.+)$", metadata, flags=re.MULTILINE)
    base = [requirement for requirement in requires if "extra ==" not in requirement]
    exporter = [requirement.split(";")[0] for requirement in requires if re.search(r"extra == .exporter.", requirement)]
    assert requirement_names(base) == BASE_REQUIREMENTS == {
        "django", "asgiref", "prometheus-client", "python-json-logger", "requests", "jsonschema",
    }  # fmt: skip
    assert requirement_names(exporter) == EXPORTER_REQUIREMENTS
    assert "workflow-exporter = exporter._entry:main" in entry_points


# --- each way of installing it, in a fresh virtualenv ---------------------------------------------------------------


INSTALLS = [Install("base", "", has_exporter=False), Install("exporter-extra", "[exporter]", has_exporter=True)]


@pytest.fixture(scope="module", params=INSTALLS, ids=[install.id for install in INSTALLS])
def venv(request: pytest.FixtureRequest, make_venv: Callable[[Install], Venv]) -> Venv:
    return make_venv(request.param)


def test_it_installs_only_what_it_needs(venv: Venv) -> None:
    installed = venv.distributions
    assert {"workflow-exporter", *BASE_REQUIREMENTS} <= installed
    # schemathesis (the contract checks' negative data) needs pytest at run time: only the exporter extra has it.
    brought = {"pytest"} if venv.install.has_exporter else set()
    assert installed & NEVER == brought
    if venv.install.has_exporter:
        assert installed >= EXPORTER_REQUIREMENTS | EXPORTER_ONLY
    else:
        assert installed & EXPORTER_ONLY == set()


# A project of one settings call: every module of the integration imports, and a request goes through it.
DJANGO_PROJECT = """
import importlib, json, pkgutil, sys
import django
from django.conf import settings
from django_integration.log import logging_config

settings.configure(
    SECRET_KEY="packaging-test-" * 4, ALLOWED_HOSTS=["testserver"], ROOT_URLCONF="django_integration.urls",
    INSTALLED_APPS=["django_integration"],
    MIDDLEWARE=["django_integration.middleware.RequestMonitoringMiddleware"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    LOGGING=logging_config(), WORKFLOW_EXPORTER={"METRICS_BEARER_TOKEN": "t0ken"},
)
django.setup()
import django_integration
modules = [m.name for m in pkgutil.walk_packages(django_integration.__path__, "django_integration.")]
for name in modules:
    importlib.import_module(name)
from django.core.management import call_command
from django.test import Client
call_command("check", fail_level="WARNING")
client = Client()
beacon = client.post("/client-logs", data='{"events": [{"level": "info", "message": "hi"}]}',
                     content_type="text/plain", HTTP_X_REQUEST_ID="packaging-0001")
result = {
    "file": django_integration.__file__,
    "modules": modules,
    "beacon": [beacon.status_code, beacon["X-Request-ID"]],
    "healthz": client.get("/healthz").status_code,
    "readyz": client.get("/readyz").status_code,
    "metrics_anonymous": client.get("/metrics").status_code,
    "metrics": client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken").content.decode(),
}
with open(sys.argv[1], "w") as out:
    json.dump(result, out)
"""


def test_the_django_integration_serves_requests(venv: Venv, tmp_path: Path) -> None:
    script, result_file = tmp_path / "project.py", tmp_path / "result.json"
    script.write_text(DJANGO_PROJECT)
    done = run([venv.python, str(script), str(result_file)], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(result_file.read_text())
    assert Path(result["file"]).is_relative_to(venv.path), "imported from the checkout, not the install"
    assert {"django_integration.middleware", "django_integration.views", "django_integration.gunicorn"} <= set(
        result["modules"]
    )
    assert result["beacon"] == [202, "packaging-0001"]
    assert (result["healthz"], result["readyz"], result["metrics_anonymous"]) == (200, 200, 401)
    beacon_count = 'django_request_duration_seconds_count{method="POST",route="client-logs",status_class="2xx"} 1.0'
    assert beacon_count in result["metrics"]
    assert '"correlation_id": "packaging-0001"' in done.stdout  # the JSON log line of the beacon


def test_the_command_line(venv: Venv, tmp_path: Path) -> None:
    """With the extra it checks the shipped workflows; without it, it says what to install, and no traceback."""
    workflows = next(venv.path.glob("lib/python*/site-packages/synthetic/workflows/demo_shop.yml"))
    env = {"DEMO_PROBE_PASSWORD": "packaging", "SHOP_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}"}
    for command in ([venv.script("workflow-exporter")], [venv.python, "-m", "exporter"]):
        checked = run([*command, f"--config.file={workflows}", "--config.check"], tmp_path, env=env)
        if venv.install.has_exporter:
            assert checked.returncode == 0, checked.stderr
            assert checked.stdout.strip() == f"{workflows}: valid, 4 workflows on 1 targets"
        else:
            assert checked.returncode == 2
            assert "install workflow-exporter[exporter]" in checked.stderr
            assert "PyYAML" in checked.stderr and "Traceback" not in checked.stderr


def test_the_exporter_serves_its_pages(make_venv: Callable[[Install], Venv], tmp_path: Path) -> None:
    """The templates and the workflows come with the wheel: the service answers its landing page and /metrics."""
    venv = make_venv(INSTALLS[1])
    workflows = next(venv.path.glob("lib/python*/site-packages/synthetic/workflows/demo_shop.yml"))
    port = free_port()
    env = clean_env(
        DEMO_PROBE_PASSWORD="packaging",
        SHOP_DATABASE_URL=f"sqlite:///{tmp_path / 'shop.sqlite3'}",
        SHOP_URL="http://127.0.0.1:9",  # nothing listens there: runs fail fast, which is fine here
    )
    with (tmp_path / "exporter.log").open("wb") as log:
        process = subprocess.Popen(
            [venv.script("workflow-exporter"), f"--config.file={workflows}", f"--web.listen-address=127.0.0.1:{port}"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: requests.get(f"{url}/-/healthy", timeout=2).ok, 30, "the installed exporter")
        page = requests.get(f"{url}/", timeout=10)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert "checkout" in page.text
        assert "workflow_step_latency_budget_seconds" in requests.get(f"{url}/metrics", timeout=10).text
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
