"""What a codex wrapper's tests use: the objects behind the fixtures (`fakes`), the opt-in pytest
plugin (`plugin`, the one module that imports pytest), pinned real codex installs (`real_codex`)
and the argv/config/environment that point a real codex at the Responses server (`real_env`).
"""
