"""The journey engine: YAML workflows run step by step against a target."""
