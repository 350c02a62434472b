"""What every part of the fake shares: the scenario file, the version profiles, ids, CODEX_HOME,
config.toml, clap-style argv parsing, output framing, the invocation log and the exec events.

Imports nothing else from `fake_codex`; everything else may import it.
"""
