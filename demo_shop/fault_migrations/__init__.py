"""An app with one migration and no models, for the ``unapplied_migration`` fault.

``migrate`` applies its migration like any other. The fault deletes the database's record of it
(``django_migrations``), so the database has not seen a migration file the code ships — what a deploy that forgot
``migrate`` looks like; switching it off records it again. The migration changes nothing, so running ``migrate``
while the fault is on applies it harmlessly (and switches the fault off).
"""
