"""A migration that changes nothing: the unapplied_migration fault makes the database forget it was applied."""

from django.db import migrations


class Migration(migrations.Migration):
    operations = [migrations.RunSQL(migrations.RunSQL.noop, migrations.RunSQL.noop)]
