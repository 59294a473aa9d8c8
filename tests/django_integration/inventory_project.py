"""A second Django REST framework project, written for the API inventory's tests: every view style, nested and
namespaced includes, routers with path and regex routes, and one view for each finding. ``urlpatterns`` is
the URL conf (``inventory_of("tests.django_integration.inventory_project")``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path, re_path
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django.views.static import serve
from rest_framework import serializers, viewsets
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from demo_shop.shop.models import Category


class CategorySerializer(serializers.ModelSerializer[Category]):
    class Meta:
        model = Category
        fields = ["id", "name", "slug"]


class CategoryViewSet(viewsets.ModelViewSet[Category]):
    """The list needs a login; get_permissions opens retrieve to anyone: list_detail_exposure."""

    queryset = Category.objects.all()
    serializer_class = CategorySerializer
    authentication_classes = [BasicAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [AnonRateThrottle]
    lookup_value_converter = "int"

    def get_permissions(self) -> Any:
        if self.action == "retrieve":
            return [AllowAny()]
        return super().get_permissions()


class OpenForDelete(BasePermission):
    """Logged-in users may do anything; anyone may DELETE (the bug)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return request.method == "DELETE" or bool(request.user and request.user.is_authenticated)


class NoteViewSet(viewsets.ViewSet):
    """Declares IsAuthenticated; its get_permissions opens DELETE: anonymous_write."""

    authentication_classes = [BasicAuthentication]
    permission_classes = [IsAuthenticated]

    def get_permissions(self) -> Any:
        if self.request.method == "DELETE":
            return [OpenForDelete()]
        return super().get_permissions()

    def list(self, request: Request) -> Response:
        return Response([])

    def create(self, request: Request) -> Response:
        return Response({}, status=201)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        return Response(status=204)


@api_view(["GET", "POST"])
@permission_classes([IsAuthenticated])
def ping(request: Request) -> Response:
    return Response({"pong": True})


class CsrfExemptSessionAuthentication(SessionAuthentication):
    def enforce_csrf(self, request: Any) -> None:
        return None  # the recipe that makes session writes forgeable


class ProfileView(APIView):
    """Session-authenticated writes without the CSRF check: csrf_exempt_session_write."""

    authentication_classes = [CsrfExemptSessionAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({})

    def post(self, request: Request) -> Response:
        return Response({})


class InternalView(APIView):
    """Kept out of the document on purpose: not a finding."""

    schema = None
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({})


def legacy_export(request: HttpRequest) -> JsonResponse:
    """A plain Django JSON view among the API's paths: not_in_schema."""
    return JsonResponse({"rows": []})


@require_http_methods(["GET", "HEAD"])
def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


class AboutView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("about")


class AccountView(LoginRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("account")


@csrf_exempt
@login_required
@require_http_methods(["POST"])
def upload(request: HttpRequest) -> HttpResponse:
    """A login-protected form post exempt from CSRF: csrf_exempt_session_write."""
    return HttpResponse("stored")


router = SimpleRouter(use_regex_path=False)
router.register("categories", CategoryViewSet, basename="category")
regex_router = SimpleRouter()  # regular-expression routes, as DRF makes them by default
regex_router.register("notes", NoteViewSet, basename="note")

urlpatterns = [
    path("v1/", include([
        path("shop/", include((router.urls, "shop"), namespace="shop")),
        path("ping/", ping, name="ping"),
        path("profile/", ProfileView.as_view(), name="profile"),
        path("internal/", InternalView.as_view(), name="internal"),
        path("legacy-export/", legacy_export, name="legacy-export"),
    ])),
    path("v0/", include(regex_router.urls)),
    path("status/", health, name="health"),
    path("about/", AboutView.as_view(), name="about"),
    path("account/", AccountView.as_view(), name="account"),
    path("upload/", upload, name="upload"),
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": "/nonexistent"}),
]  # fmt: skip
