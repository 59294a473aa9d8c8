"""A small but real Django + DRF shop: the system under observation for the demo, the tests and the docs."""
