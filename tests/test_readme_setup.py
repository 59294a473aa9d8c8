"""The README's "Add it to your Django project", followed to the letter on a fresh ``django-admin startproject``.

The snippets are read from the README itself (each fenced block after a ``<!-- setup:NAME -->`` comment), appended
to the generated ``settings.py`` and ``urls.py`` of a project with a DRF viewset behind a router, and the project is
checked, migrated and served by gunicorn. Then everything the README promises is asked of it: the correlation ID,
JSON log lines (and nothing else) on stdout, ``/metrics`` refused without the token and complete with it (exemplars,
django-prometheus' families exactly when its step was followed), the log beacon, the health endpoints, bounded
route labels for the router's URLs and the CORS headers. Also: every setting in ``django_integration/conf.py`` is
documented in docs/metrics.md with its default.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from django_integration.conf import DEFAULTS
from tests.distribution import PYPROJECT, Install, Venv, clean_env, pinned, requirement_name
from tests.harness.processes import free_port, wait_until

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
METRICS_DOC = REPO / "docs" / "metrics.md"
BIN = Path(sys.executable).parent
SNIPPET = re.compile(r"<!-- setup:(?P<name>[a-z-]+) -->\n```(?P<lang>\w+)\n(?P<code>.*?)\n```", re.DOTALL)
SETTINGS_SNIPPETS = ("settings", "cors", "django-prometheus")
URLS_SNIPPETS = ("urls", "router")
TOKEN = "readme-setup-metrics-token-7f3a9c"
ORIGIN = "https://shop.example"

# The user's project before the README: an app with a model and a DRF viewset, DRF installed.
SHOP_MODELS = """\
from django.db import models


class Product(models.Model):
    name = models.CharField(max_length=100)
"""
SHOP_VIEWS = """\
from rest_framework import serializers, viewsets

from .models import Product


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "name"]


class ProductViewSet(viewsets.ModelViewSet):
    queryset = Product.objects.order_by("id")
    serializer_class = ProductSerializer
    lookup_value_converter = "int"  # as the README advises for router URLs
"""
USER_SETTINGS = '\nINSTALLED_APPS += ["rest_framework", "shop"]\n'
USER_VIEWSET_IMPORT = "from shop.views import ProductViewSet\n"


def readme_snippets() -> list[tuple[str, str, str]]:
    """``(name, language, code)`` of every marked snippet, in the order the README shows them."""
    return [(m["name"], m["lang"], m["code"]) for m in SNIPPET.finditer(README.read_text())]


def snippet(name: str) -> str:
    found = [code for snippet_name, _, code in readme_snippets() if snippet_name == name]
    assert len(found) == 1, f"README has {len(found)} snippets marked setup:{name}"
    return found[0]


def project_env() -> dict[str, str]:
    """Nothing that points Python at this checkout or a virtualenv other than the one whose commands run."""
    return clean_env(METRICS_BEARER_TOKEN=TOKEN)


def manage(project: Path, *args: str, bin_dir: Path = BIN) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "python"), "manage.py", *args], cwd=project, env=project_env(), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def make_project(directory: Path, snippets: Sequence[str], after_settings: str = "", bin_dir: Path = BIN) -> Path:
    """``startproject mysite`` plus a DRF app, then the chosen README snippets appended in the README's order.

    The commands are those of ``bin_dir``: this checkout's virtualenv, or a fresh one with the wheel installed.
    """
    directory.mkdir()
    startproject = [str(bin_dir / "django-admin"), "startproject", "mysite", str(directory)]
    subprocess.run(startproject, check=True, timeout=60, env=project_env())
    app = directory / "shop"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "models.py").write_text(SHOP_MODELS)
    (app / "views.py").write_text(SHOP_VIEWS)
    settings_code, urls_code = [USER_SETTINGS], []
    for name, _, code in readme_snippets():
        if name not in snippets:
            continue
        if name in SETTINGS_SNIPPETS:
            settings_code.append(code)
        elif name in URLS_SNIPPETS:
            urls_code.append((USER_VIEWSET_IMPORT if name == "router" else "") + code)
    settings_code.append(after_settings)
    with (directory / "mysite" / "settings.py").open("a") as settings_file:
        settings_file.write("\n\n".join(settings_code) + "\n")
    with (directory / "mysite" / "urls.py").open("a") as urls_file:
        urls_file.write("\n\n" + "\n\n".join(urls_code) + "\n")
    made = manage(directory, "makemigrations", "shop", bin_dir=bin_dir)
    assert made.returncode == 0, made.stdout + made.stderr
    return directory


@dataclass(frozen=True)
class Setup:
    """Which optional steps of the README a row follows."""

    id: str
    snippets: tuple[str, ...]

    @property
    def cors(self) -> bool:
        return "cors" in self.snippets

    @property
    def django_prometheus(self) -> bool:
        return "django-prometheus" in self.snippets


SETUPS = [
    Setup("required-steps", ("settings", "urls", "router")),
    Setup("with-cors-and-django-prometheus", ("settings", "cors", "django-prometheus", "urls", "router")),
]


@dataclass
class Site:
    setup: Setup
    url: str
    check: subprocess.CompletedProcess[str]
    stdout: Path
    stderr: Path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(f"{self.url}{path}", timeout=10, **kwargs)

    def metrics(self, accept: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {TOKEN}", **({"Accept": accept} if accept else {})}
        response = self.get("/metrics", headers=headers)
        assert response.status_code == 200, response.text
        return response

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.read_text().splitlines() if line.strip()]

    def wait_for_line(self, **fields: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            lines = [line for line in self.log_lines() if all(line.get(k) == v for k, v in fields.items())]
            return lines[0] if lines else None

        try:
            return wait_until(found, 10, f"a log line with {fields}")
        except TimeoutError:
            pytest.fail(f"no log line with {fields}; stdout:\n{self.stdout.read_text()[-3000:]}")


@contextmanager
def served(setup: Setup, directory: Path, bin_dir: Path = BIN) -> Iterator[Site]:
    """The project made, checked, migrated and served by gunicorn, all with the commands of ``bin_dir``."""
    project = make_project(directory, setup.snippets, bin_dir=bin_dir)
    check = manage(project, "check", "--fail-level", "WARNING", bin_dir=bin_dir)
    migrated = manage(project, "migrate", "--no-input", bin_dir=bin_dir)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    port = free_port()
    stdout, stderr = project / "stdout.log", project / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [str(bin_dir / "gunicorn"), "mysite.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads",
             "4"],
            cwd=project, env=project_env(), stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise ProcessLookupError(f"gunicorn exited with {process.returncode}: {stderr.read_text()[-3000:]}")
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200

    try:
        wait_until(ready, 30, "the README's project under gunicorn")
        yield Site(setup, url, check, stdout, stderr)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module", params=SETUPS, ids=[setup.id for setup in SETUPS])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The README followed in this checkout's virtualenv, once per setup."""
    setup: Setup = request.param
    with served(setup, tmp_path_factory.mktemp(setup.id) / "site") as site:
        yield site


# --- the README itself -------------------------------------------------------------------------------------------


def test_the_readme_marks_every_setup_snippet() -> None:
    names = [name for name, _, _ in readme_snippets()]
    assert names == ["install", "settings", "prometheus", "cors", "django-prometheus", "urls", "router"]
    assert {name for setup in SETUPS for name in setup.snippets} == {*SETTINGS_SNIPPETS, *URLS_SNIPPETS}


def test_the_install_commands_name_a_clone_and_this_versions_wheel() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    commands = [line.split("#")[0].split() for line in snippet("install").splitlines()]
    assert ["pip", "install", "/path/to/workflow-exporter"] in commands
    assert ["pip", "install", f"./workflow_exporter-{version}-py3-none-any.whl"] in commands
    assert f"workflow_exporter-{version}-py3-none-any.whl[exporter]" in README.read_text()


# Extras for working on this repository, not for users: the README's extras table leaves them out.
DEVELOPMENT_EXTRAS = {"demo", "test", "dev", "dist", "docs", "bench"}  # the project's own tooling


def test_the_extras_table_lists_every_extra_with_everything_it_installs() -> None:
    text = README.read_text()
    table = text[text.index("| extra | adds | for |") :].split("\n\n", 1)[0]
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| ([^|]+) \|", table, flags=re.MULTILINE))
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(rows) == set(extras) - DEVELOPMENT_EXTRAS

    def installs(extra: str) -> set[str]:
        """The distributions an extra names, the extras it pulls in (``workflow-exporter[...]``) expanded."""
        names: set[str] = set()
        for requirement in extras[extra]:
            if requirement.startswith("workflow-exporter["):
                for included in requirement.split("[", 1)[1].rstrip("]").split(","):
                    names |= installs(included)
            else:
                names.add(requirement_name(requirement))
        return names

    for extra, adds in rows.items():
        named = adds.lower().replace(" ", "")  # "Django REST framework" names djangorestframework
        missing = {name for name in installs(extra) if name not in named}
        assert not missing, f"the README's `{extra}` row does not name {sorted(missing)}"


def test_the_prometheus_snippet_sends_the_token() -> None:
    (job,) = yaml.safe_load(snippet("prometheus"))["scrape_configs"]
    assert set(job["authorization"]) == {"credentials_file"}
    assert job["static_configs"][0]["targets"]


# --- the project, checked, migrated and served ---------------------------------------------------------------------


def test_manage_py_check_reports_no_issue(site: Site) -> None:
    assert site.check.returncode == 0, site.check.stdout + site.check.stderr
    assert "System check identified no issues" in site.check.stdout


def test_a_request_gets_its_id_back_and_a_json_log_line(site: Site) -> None:
    cid = f"readme-{site.setup.id}-request-1"
    response = site.get("/api/products/", headers={"X-Request-ID": cid})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == cid
    assert "db;dur=" in response.headers["Server-Timing"]
    line = site.wait_for_line(correlation_id=cid, logger="django_integration.request")
    assert line | {"route": "api/products/", "method": "GET", "status": 200, "layer": "api"} == line
    generated = site.get("/api/products/").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)


def test_metrics_are_refused_without_the_token(site: Site) -> None:
    anonymous = site.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "django_request" not in anonymous.text
    assert site.get("/metrics", headers={"Authorization": "Bearer not-the-token"}).status_code == 401


def test_metrics_with_the_token_have_every_promised_family(site: Site) -> None:
    cid = f"readme-{site.setup.id}-exemplar"
    site.get("/api/products/", headers={"X-Request-ID": cid})
    families = {family.name for family in text_string_to_metric_families(site.metrics().text)}
    ours = {
        "django_request_duration_seconds",
        "django_request_db_queries",
        "django_request_db_duration_seconds",
        "django_request_errors",
        "process_cpu_seconds",
        "python_info",
    }
    assert ours <= families
    django_prometheus = {name for name in families if name.startswith("django_http_")}
    if site.setup.django_prometheus:
        assert {"django_http_requests_total_by_method", "django_http_responses_total_by_status"} <= django_prometheus
    else:
        assert django_prometheus == set()
    openmetrics = site.metrics(accept="application/openmetrics-text; version=1.0.0").text
    assert f'# {{correlation_id="{cid}"}}' in openmetrics


def beacon(site: Site, cid: str, origin: str | None = None) -> requests.Response:
    """A batch as ``navigator.sendBeacon`` sends it: a string, so ``text/plain``, no CSRF token, ``Origin``."""
    batch = {"events": [{"level": "error", "message": "checkout failed", "route": "/checkout", "correlation_id": cid}]}
    headers = {"Content-Type": "text/plain;charset=UTF-8", **({"Origin": origin} if origin else {})}
    return requests.post(f"{site.url}/client-logs", data=json.dumps(batch), headers=headers, timeout=10)


def test_the_browser_beacon_is_accepted(site: Site) -> None:
    cid = f"readme-{site.setup.id}-beacon"
    response = beacon(site, cid)
    assert (response.status_code, response.json()) == (202, {"accepted": 1})
    line = site.wait_for_line(correlation_id=cid, logger="django_integration.frontend")
    assert (line["layer"], line["level"], line["message"]) == ("frontend", "ERROR", "checkout failed")
    bad = requests.post(f"{site.url}/client-logs", data=b"{}", timeout=10)
    assert bad.status_code == 400 and "events" in bad.json()["error"]


def test_beacons_from_other_origins_only_when_allowed(site: Site) -> None:
    """The frontend's origin may post once django-cors-headers allows it (step 2); any other origin never."""
    assert beacon(site, f"readme-{site.setup.id}-evil", origin="https://evil.example").status_code == 403
    own = beacon(site, f"readme-{site.setup.id}-own", origin=site.url)
    assert own.status_code == 202
    frontend = beacon(site, f"readme-{site.setup.id}-frontend", origin=ORIGIN)
    if site.setup.cors:
        assert frontend.status_code == 202
        assert frontend.headers["Access-Control-Allow-Origin"] == ORIGIN
    else:
        assert frontend.status_code == 403


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_answer(site: Site, path: str, method: str) -> None:
    response = requests.request(method, f"{site.url}{path}", timeout=10)
    assert response.status_code == 200
    assert response.headers["X-Request-ID"]


def test_route_labels_of_the_router_urls_are_bounded(site: Site) -> None:
    for name in ("tea", "cake", "jam"):
        assert requests.post(f"{site.url}/api/products/", json={"name": name}, timeout=10).status_code == 201
    ids = [product["id"] for product in site.get("/api/products/").json()]
    for path, status in [
        *((f"/api/products/{pk}/", 200) for pk in ids),
        ("/api/products/987654/", 404),
        ("/api/products/abc/", 404),
        ("/api/", 200),
        ("/no/such/page/", 404),
    ]:
        assert site.get(path).status_code == status, path
    routes = {
        sample.labels["route"]
        for family in text_string_to_metric_families(site.metrics().text)
        if family.name == "django_request_duration_seconds"
        for sample in family.samples
    }
    # One label per URL pattern, whatever IDs were asked for; the router's root and what nothing matched included.
    assert routes <= {"api/", "api/products/", "api/products/<int:pk>/", "client-logs", "<unmatched>"}
    assert {"api/", "api/products/", "api/products/<int:pk>/", "<unmatched>"} <= routes


def test_cors_headers_when_the_cors_step_is_followed(site: Site) -> None:
    preflight = requests.options(
        f"{site.url}/api/products/",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST", "X-Request-ID": "readme-preflight-1"},
        timeout=10,
    )
    simple = site.get("/api/products/", headers={"Origin": ORIGIN})
    if not site.setup.cors:
        assert "Access-Control-Allow-Origin" not in simple.headers
        return
    # CorsMiddleware below ours: its own preflight answer carries the ID, and ours adds to its expose list.
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert preflight.headers["X-Request-ID"] == "readme-preflight-1"
    assert simple.headers["Access-Control-Allow-Origin"] == ORIGIN
    exposed = {value.strip() for value in simple.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"X-Request-ID", "Server-Timing"} <= exposed
    other = site.get("/api/products/", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_stdout_carries_only_json_lines(site: Site) -> None:
    site.get("/api/products/")
    lines = [line for line in site.stdout.read_text().splitlines() if line.strip()]
    assert lines
    for line in lines:
        assert isinstance(json.loads(line), dict), line


# --- CorsMiddleware above ours: a warning, never a blocked migrate -------------------------------------------------


def test_cors_above_ours_warns_and_migrate_still_runs(tmp_path: Path) -> None:
    """django-cors-headers' docs say "as high as possible"; a user who puts it first is told, not stopped."""
    project = make_project(
        tmp_path / "site",
        ("settings", "cors", "urls", "router"),
        after_settings='MIDDLEWARE.remove("corsheaders.middleware.CorsMiddleware")\n'
        'MIDDLEWARE.insert(0, "corsheaders.middleware.CorsMiddleware")\n',
    )
    check = manage(project, "check")
    assert check.returncode == 0, check.stderr
    assert "(django_integration.W002)" in check.stderr
    assert "must come before corsheaders.middleware.CorsMiddleware in MIDDLEWARE" in check.stderr
    migrated = manage(project, "migrate", "--no-input")
    assert migrated.returncode == 0, migrated.stderr
    assert "Applying shop.0001_initial... OK" in migrated.stdout


# --- every setting documented --------------------------------------------------------------------------------------


def documented_settings() -> dict[str, str]:
    """Key → default (as written) of the settings table in docs/metrics.md."""
    text = METRICS_DOC.read_text()
    start = text.index("### Settings (`WORKFLOW_EXPORTER`)")
    section = text[start : text.index("\n#", start + 1)]
    return dict(re.findall(r"^\| `([A-Z_]+)` \| `([^`]*)` \|", section, flags=re.MULTILINE))


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_every_setting_is_documented_with_its_default(key: str) -> None:
    documented = documented_settings()
    assert key in documented, f"{key} (django_integration/conf.py) is not in docs/metrics.md's settings table"
    value = ast.literal_eval(documented[key])
    expected = DEFAULTS[key]
    if isinstance(expected, (list, tuple)):
        assert list(value) == list(expected)
    else:
        assert value == expected and type(value) is type(expected)


def test_no_documented_setting_is_unknown() -> None:
    assert set(documented_settings()) - set(DEFAULTS) == set()


# --- the same, in a fresh virtualenv with the wheel and what the README has the user install ----------------------

# The README's install from the wheel, with the extra of its step 3, beside the user's own DRF, django-cors-headers
# (step 2) and gunicorn (step 5), in the ranges the demo shop uses.
README_INSTALL = Install(
    "readme-setup",
    "[django-prometheus]",
    has_exporter=False,
    also=tuple(pinned(name, "shop") for name in ("djangorestframework", "django-cors-headers", "gunicorn")),
)


@pytest.mark.e2e  # builds the wheel and a virtualenv: `make e2e`, not `make test`
def test_the_readme_setup_works_in_a_fresh_virtualenv_from_the_wheel(
    make_venv: Callable[[Install], Venv], tmp_path: Path
) -> None:
    """Every snippet (CORS and django-prometheus included) in a virtualenv that has only what the README installs."""
    venv = make_venv(README_INSTALL)
    found = subprocess.run(
        [venv.python, "-c", "import django_integration; print(django_integration.__file__)"],
        cwd=tmp_path, env=project_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert Path(found.stdout.strip()).is_relative_to(venv.path), "imported from the checkout, not the install"
    assert {
        "workflow-exporter",
        "django-prometheus",
        "djangorestframework",
        "django-cors-headers",
    } <= venv.distributions
    assert venv.distributions & {"waitress", "openapi-core", "jinja2", "pyyaml", "pydantic"} == set()

    with served(SETUPS[-1], tmp_path / "site", bin_dir=venv.bin) as site:
        assert site.check.returncode == 0, site.check.stdout + site.check.stderr
        assert "System check identified no issues" in site.check.stdout
        cid = "readme-fresh-venv-request-1"
        response = site.get("/api/products/", headers={"X-Request-ID": cid})
        assert (response.status_code, response.headers["X-Request-ID"]) == (200, cid)
        line = site.wait_for_line(correlation_id=cid, logger="django_integration.request")
        assert line | {"route": "api/products/", "method": "GET", "status": 200} == line
        assert [entry for entry in site.log_lines() if entry.get("correlation_id") == cid] == [line]
        assert site.metrics().status_code == 200
