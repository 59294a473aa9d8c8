from django.db import models


class Parcel(models.Model):
    label = models.CharField(max_length=40)
    weight = models.PositiveIntegerField(default=0)  # added to the model; no migration says so


class Depot(models.Model):
    name = models.CharField(max_length=40)
