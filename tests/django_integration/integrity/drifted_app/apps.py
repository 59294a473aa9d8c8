from django.apps import AppConfig


class DriftedConfig(AppConfig):
    name = "tests.django_integration.integrity.drifted_app"
    label = "drifted"
    default_auto_field = "django.db.models.BigAutoField"
