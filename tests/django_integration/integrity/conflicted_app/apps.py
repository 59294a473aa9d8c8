from django.apps import AppConfig


class ConflictedConfig(AppConfig):
    name = "tests.django_integration.integrity.conflicted_app"
    label = "conflicted"
    default_auto_field = "django.db.models.BigAutoField"
