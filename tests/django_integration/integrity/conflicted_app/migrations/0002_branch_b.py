from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("conflicted", "0001_initial")]
