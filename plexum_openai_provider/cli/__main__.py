"""`python -m plexum_openai_provider.cli`: the same command as the console script."""

import sys

from . import main

sys.exit(main())
