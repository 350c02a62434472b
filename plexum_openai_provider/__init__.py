"""plexum-openai-provider: the OpenAI codex CLI as a Plexum model backend."""

__version__ = "0.1.0"
