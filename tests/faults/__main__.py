"""`python -m tests.faults`: the same as `scripts/faults`."""

import sys

import pytest

sys.exit(pytest.main(["--faults", "-q", "-p", "no:cacheprovider", *sys.argv[1:]]))
