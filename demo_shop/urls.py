from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from demo_shop.faults import FaultsView
from demo_shop.notifications import NotificationsView

urlpatterns = [
    path("api/", include("demo_shop.shop.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("_demo/faults", FaultsView.as_view(), name="demo-faults"),
    path("_demo/notifications/", NotificationsView.as_view(), name="demo-notifications"),
    path("_demo/notifications/<str:receiver>", NotificationsView.as_view(), name="demo-notification-receiver"),
    path("", include("django_integration.urls")),
]
