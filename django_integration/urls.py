"""``path("", include("django_integration.urls"))`` serves /metrics, /healthz, /readyz and /client-logs."""

from django.urls import path

from . import views

urlpatterns = [
    path("metrics", views.MetricsView.as_view(), name="metrics"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("client-logs", views.client_logs, name="client-logs"),
]
