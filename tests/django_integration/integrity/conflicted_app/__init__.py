"""A test app with two leaf migrations (two branches merged without ``makemigrations --merge``)."""
