"""`python -m fake_codex`: the same entry point as the `fake-codex` console script.

Kept import-light on purpose: only the CLI dispatcher is imported here.
"""

from fake_codex.cli import main

raise SystemExit(main())
