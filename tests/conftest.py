"""Shared test setup: hypothesis profiles (`ci` when CI=true, else `dev`)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", max_examples=50, deadline=None)
# CI machines are slow and shared: a fixed, modest budget and no per-example deadline.
settings.register_profile("ci", max_examples=100, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)
