"""`python -m plexum_openai_provider …`: the `plexum-openai-provider` command, by interpreter path.

The install manifest starts `serve` this way, so the daemon needs no console script on its PATH.
"""

if __name__ == "__main__":
    import sys

    from plexum_openai_provider.cli import main

    sys.exit(main())
