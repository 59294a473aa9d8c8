from django.db import models


class Crate(models.Model):
    label = models.CharField(max_length=40)
