"""`python -m plexum_openai_provider.cli`: the same command as the console script."""

from . import run

run()
