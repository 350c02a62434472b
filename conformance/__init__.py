"""Conformance harness: the fake codex held to the REAL codex, scenario by scenario.

The pieces a codex wrapper can reuse ship in `fake_codex`: `responses.server` serves a scenario's
replies to a real codex, `testing.real_env` points codex at it with no credentials,
`testing.real_codex` installs and finds the pinned binaries. Here: playing (`backends`),
comparing (`compare`, `views`, `divergences`), the drift check (`drift`) and the recorder
(`record`).
"""
