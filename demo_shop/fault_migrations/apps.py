from django.apps import AppConfig


class FaultMigrationsConfig(AppConfig):
    name = "demo_shop.fault_migrations"
    label = "fault_migrations"
    verbose_name = "Demo shop: a migration for the unapplied_migration fault"
