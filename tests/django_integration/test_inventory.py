"""The API inventory on a second Django REST framework project written for it (tests/django_integration/
inventory_project.py): the exact inventory and findings, the findings as system checks of check --deploy
(silenced the Django way), the management command, the gauges, and nothing written while permissions are
evaluated. Then the demo shop: POST api/products/ is writable without authentication while open_write is on."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.test import override_settings
from django.urls import path
from prometheus_client import CollectorRegistry
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from demo_shop.faults import faults
from demo_shop.shop.models import Category
from django_integration.inventory import inventory_of
from django_integration.inventory._metrics import InventoryCollector

PROJECT = "tests.django_integration.inventory_project"
P = f"{PROJECT}."
JWT_SESSION = ("rest_framework_simplejwt.authentication.JWTAuthentication",
               "rest_framework.authentication.SessionAuthentication")  # fmt: skip
BASIC_SESSION = ("rest_framework.authentication.BasicAuthentication",
                 "rest_framework.authentication.SessionAuthentication")  # fmt: skip
IS_AUTHENTICATED = ("rest_framework.permissions.IsAuthenticated",)

# (method, route, style, view, URL name, authentication, effective permissions, anonymous passes, open by
#  declaration, in the OpenAPI document, CSRF exempt, login required)
EXPECTED = [
    ("GET", "v1/shop/categories/", "drf-viewset", P + "CategoryViewSet.list", "shop:category-list", BASIC_SESSION,
     IS_AUTHENTICATED, False, False, "yes", False, None),
    ("POST", "v1/shop/categories/", "drf-viewset", P + "CategoryViewSet.create", "shop:category-list",
     BASIC_SESSION, IS_AUTHENTICATED, False, False, "yes", False, None),
    ("GET", "v1/shop/categories/<int:pk>/", "drf-viewset", P + "CategoryViewSet.retrieve", "shop:category-detail",
     BASIC_SESSION, ("rest_framework.permissions.AllowAny",), True, True, "yes", False, None),
    ("PUT", "v1/shop/categories/<int:pk>/", "drf-viewset", P + "CategoryViewSet.update", "shop:category-detail",
     BASIC_SESSION, IS_AUTHENTICATED, False, False, "yes", False, None),
    ("PATCH", "v1/shop/categories/<int:pk>/", "drf-viewset", P + "CategoryViewSet.partial_update",
     "shop:category-detail", BASIC_SESSION, IS_AUTHENTICATED, False, False, "yes", False, None),
    ("DELETE", "v1/shop/categories/<int:pk>/", "drf-viewset", P + "CategoryViewSet.destroy", "shop:category-detail",
     BASIC_SESSION, IS_AUTHENTICATED, False, False, "yes", False, None),
    ("GET", "v1/ping/", "drf-function", P + "ping", "ping", JWT_SESSION, IS_AUTHENTICATED, False, False, "yes",
     False, None),
    ("POST", "v1/ping/", "drf-function", P + "ping", "ping", JWT_SESSION, IS_AUTHENTICATED, False, False, "yes",
     False, None),
    ("GET", "v1/profile/", "drf-view", P + "ProfileView", "profile", (P + "CsrfExemptSessionAuthentication",),
     IS_AUTHENTICATED, False, False, "yes", True, None),
    ("POST", "v1/profile/", "drf-view", P + "ProfileView", "profile", (P + "CsrfExemptSessionAuthentication",),
     IS_AUTHENTICATED, False, False, "yes", True, None),
    ("GET", "v1/internal/", "drf-view", P + "InternalView", "internal", JWT_SESSION, IS_AUTHENTICATED, False, False,
     "excluded", False, None),
    ("*", "v1/legacy-export/", "django-function", P + "legacy_export", "legacy-export", (), (), None, False, "no",
     False, False),
    ("GET", "v0/notes/$", "drf-viewset", P + "NoteViewSet.list", "note-list",
     ("rest_framework.authentication.BasicAuthentication",), IS_AUTHENTICATED, False, False, "yes", False, None),
    ("POST", "v0/notes/$", "drf-viewset", P + "NoteViewSet.create", "note-list",
     ("rest_framework.authentication.BasicAuthentication",), IS_AUTHENTICATED, False, False, "yes", False, None),
    ("DELETE", "v0/notes/(?P<pk>[^/.]+)/$", "drf-viewset", P + "NoteViewSet.destroy", "note-detail",
     ("rest_framework.authentication.BasicAuthentication",), (P + "OpenForDelete",), True, False, "yes", False,
     None),
    ("GET", "status/", "django-function", P + "health", "health", (), (), None, False, "n/a", False, False),
    ("GET", "about/", "django-view", P + "AboutView", "about", (), (), None, False, "n/a", False, False),
    ("GET", "account/", "django-view", P + "AccountView", "account", (), (), None, False, "n/a", False, True),
    ("POST", "upload/", "django-function", P + "upload", "upload", (), (), None, False, "n/a", True, True),
    ("*", "^media/(?P<path>.*)$", "django-function", "django.views.static.serve", None, (), (), None, False, "n/a",
     False, False),
]  # fmt: skip

FINDINGS = [
    ("django_integration.W101", "anonymous_write", "DELETE", "v0/notes/(?P<pk>[^/.]+)/$"),
    ("django_integration.W102", "list_detail_exposure", "GET", "v1/shop/categories/<int:pk>/"),
    ("django_integration.W103", "not_in_schema", "*", "v1/legacy-export/"),
    ("django_integration.W104", "debug_view", "*", "^media/(?P<path>.*)$"),
    ("django_integration.W105", "csrf_exempt_session_write", "POST", "v1/profile/"),
    ("django_integration.W105", "csrf_exempt_session_write", "POST", "upload/"),
]


def test_the_exact_inventory_of_every_view_style() -> None:
    rows = inventory_of(PROJECT).endpoints()
    assert [(e.method, e.route, e.style, e.view, e.name, e.authentication, e.permissions, e.anonymous, e.public,
             e.in_schema, e.csrf_exempt, e.login_required) for e in rows] == EXPECTED  # fmt: skip
    assert all(e.note == "" for e in rows)
    by_key = {(e.method, e.route): e for e in rows}
    create = by_key[("POST", "v1/shop/categories/")]
    assert create.serializer == P + "CategorySerializer" and create.throttles == ("rest_framework.throttling."
                                                                                   "AnonRateThrottle",)  # fmt: skip
    assert (create.request_fields, create.response_fields) == (("name", "slug"), ("id", "name", "slug"))
    assert create.action == "create" and create.detail is False
    assert by_key[("GET", "v1/shop/categories/<int:pk>/")].detail is True
    assert by_key[("GET", "v1/shop/categories/")].response_fields == ("count", "next", "previous", "results")


def test_the_exact_findings() -> None:
    found = inventory_of(PROJECT).findings()
    assert [(f.check_id, f.finding, f.method, f.route) for f in found] == FINDINGS
    write = found[0]
    assert write.message == (
        f"DELETE v0/notes/(?P<pk>[^/.]+)/$ ({P}NoteViewSet.destroy) can be called without "
        f"authentication: its permissions ({P}OpenForDelete) let an anonymous request through."
    )


def test_findings_are_deploy_checks_silenced_the_django_way() -> None:
    with override_settings(ROOT_URLCONF=PROJECT):
        assert not [m for m in run_checks() if (m.id or "").startswith("django_integration.W10")]  # only --deploy
        messages = [m for m in run_checks(include_deployment_checks=True)
                    if (m.id or "").startswith("django_integration.W10")]  # fmt: skip
        assert [(m.id, m.obj) for m in messages] == [(f[0], f"{f[2]} {f[3]}") for f in FINDINGS]
        assert all(m.hint for m in messages)
        out = io.StringIO()
        with override_settings(SILENCED_SYSTEM_CHECKS=["django_integration.W104", "django_integration.W105"]):
            call_command("check", "--deploy", stdout=out, stderr=out)
        text = out.getvalue()
        assert "django_integration.W101" in text and "django_integration.W103" in text
        assert "django_integration.W104" not in text and "django_integration.W105" not in text


def test_the_command_as_json_and_as_a_table() -> None:
    out = io.StringIO()
    call_command("api_inventory", "--format", "json", "--urlconf", PROJECT, stdout=out)
    document = json.loads(out.getvalue())
    assert document["schema"] == {"available": True, "error": None}
    assert [(e["method"], e["route"]) for e in document["endpoints"]] == [(r[0], r[1]) for r in EXPECTED]
    assert document["endpoints"][0]["permissions"] == list(IS_AUTHENTICATED)
    assert [f["check_id"] for f in document["findings"]] == [f[0] for f in FINDINGS]
    table = io.StringIO()
    call_command("api_inventory", "--urlconf", PROJECT, stdout=table)
    lines = table.getvalue().splitlines()
    assert lines[0].split() == ["METHOD", "ROUTE", "VIEW", "AUTHENTICATION", "PERMISSIONS", "ANONYMOUS", "IN",
                                "SCHEMA", "CSRF", "EXEMPT", "SERIALIZER"]  # fmt: skip
    assert lines[3].split()[:8] == [
        "GET",
        "v1/shop/categories/<int:pk>/",
        P + "CategoryViewSet.retrieve",
        "BasicAuthentication,SessionAuthentication",
        "AllowAny",
        "yes",
        "yes",
        "no",
    ]
    assert "6 finding(s):" in lines
    with pytest.raises(SystemExit) as exited:
        call_command("api_inventory", "--urlconf", PROJECT, "--fail-on-findings", stdout=io.StringIO())
    assert exited.value.code == 1


def test_the_gauges() -> None:
    registry = CollectorRegistry()
    registry.register(InventoryCollector(PROJECT))
    value = registry.get_sample_value
    assert value("django_api_endpoint_anonymous", {"route": "v0/notes/(?P<pk>[^/.]+)/$", "method": "DELETE",
                                                   "public": "false"}) == 1  # fmt: skip
    assert value("django_api_endpoint_anonymous", {"route": "v1/shop/categories/", "method": "GET",
                                                   "public": "false"}) == 0  # fmt: skip
    assert value("django_api_endpoint_anonymous", {"route": "status/", "method": "GET", "public": "false"}) is None
    counts = {s.labels["finding"]: s.value for f in registry.collect() if f.name == "django_api_endpoint_findings"
              for s in f.samples}  # fmt: skip
    assert counts == {"anonymous_write": 1, "list_detail_exposure": 1, "not_in_schema": 1, "debug_view": 1,
                      "csrf_exempt_session_write": 2}  # fmt: skip
    series = [s for f in registry.collect() if f.name == "django_api_endpoint_anonymous" for s in f.samples]
    assert len(series) == len([r for r in EXPECTED if r[7] is not None])  # one per evaluable route and method


# --- nothing is written while permissions are evaluated ------------------------------------------------------


class WritesWhenAsked(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        Category.objects.create(name="written by a permission", slug="written")
        return True


class WritingView(APIView):
    permission_classes = [WritesWhenAsked]

    def post(self, request: Request) -> Response:
        return Response({})


urlpatterns = [path("api/writing/", WritingView.as_view())]


@pytest.mark.django_db
def test_a_permission_that_writes_is_stopped_and_said_so() -> None:
    (endpoint,) = inventory_of(__name__).endpoints()
    assert endpoint.anonymous is None and endpoint.permissions == ()
    assert endpoint.note == ("permissions could not be evaluated: PermissionError: the API inventory refused a "
                             "statement that is not a read while evaluating permissions")  # fmt: skip
    assert not Category.objects.filter(slug="written").exists()


# --- the demo shop --------------------------------------------------------------------------------------------


@pytest.fixture
def open_write() -> Iterator[None]:
    with override_settings(DEMO_FAULTS_ENABLED=True, DEMO_FAULTS=[]):
        faults.reset()
        yield
    faults.reset()


@pytest.mark.django_db  # switching a fault reads the database faults' state too
def test_the_demo_shop_reports_post_products_writable_only_while_open_write(open_write: None) -> None:
    def writable() -> list[tuple[str, str]]:
        return [(f.method, f.route) for f in inventory_of().findings() if f.finding == "anonymous_write"]

    registry = CollectorRegistry()
    registry.register(InventoryCollector())
    labels = {"route": "api/products/", "method": "POST", "public": "false"}
    assert writable() == [] and registry.get_sample_value("django_api_endpoint_anonymous", labels) == 0
    faults.update({"open_write": True})
    assert writable() == [("POST", "api/products/")]
    assert registry.get_sample_value("django_api_endpoint_anonymous", labels) == 1  # at the next scrape
    faults.update({"open_write": False})
    assert writable() == [] and registry.get_sample_value("django_api_endpoint_anonymous", labels) == 0
    # open by design, never findings: the login and token endpoints, the demo's fault switch
    public = {(e.method, e.route) for e in inventory_of().endpoints() if e.anonymous and e.public}
    assert {("POST", "api/auth/login/"), ("POST", "api/auth/token/"), ("PUT", "_demo/faults")} <= public
