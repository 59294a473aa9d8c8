from django.urls import include, path

from demo_shop.faults import FaultsView
from demo_shop.notifications import NotificationsView
from demo_shop.schema import SchemaView

urlpatterns = [
    path("api/", include("demo_shop.shop.urls")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("_demo/faults", FaultsView.as_view(), name="demo-faults"),
    path("_demo/notifications/", NotificationsView.as_view(), name="demo-notifications"),
    path("_demo/notifications/<str:receiver>", NotificationsView.as_view(), name="demo-notification-receiver"),
    path("", include("django_integration.urls")),
]
