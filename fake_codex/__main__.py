"""`python -m fake_codex`: the same entry point as the `fake-codex` console script.

Kept import-light on purpose: only the CLI dispatcher is imported here.
"""

import sys

# The fake starts thousands of times in a test run: cache its bytecode even under
# PYTHONDONTWRITEBYTECODE, or every start compiles each of its modules from source.
sys.dont_write_bytecode = False

from fake_codex.cli import main  # noqa: E402  (after the bytecode switch on purpose)

raise SystemExit(main())
