# What a wrapper's own root conftest.py holds to use the fake codex and the real one.
pytest_plugins = ["fake_codex.testing.plugin"]
