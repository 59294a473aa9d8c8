"""A test app whose model was changed without a migration: ``Parcel.weight`` is in the model, not in 0001."""
