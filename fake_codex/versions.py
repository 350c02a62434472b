"""What differs between the emulated codex versions (codex-facts §8), in one frozen value.

`behaviour_for("0.140.2")` maps any 0.135.x … 0.169.x to the nearest known behaviour at or below
it: 0.135.0, 0.150.1 or 0.169.0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Behaviour:
    version: str
    """The version string printed by `--version` (the scenario's, verbatim)."""
    family: int
    """135, 150 or 169: which known behaviour applies."""

    @property
    def has_cache_write(self) -> bool:
        """`cache_write_input_tokens` in usage objects (0.150+)."""
        return self.family >= 150

    @property
    def has_ordinal(self) -> bool:
        """Rollout envelope `{timestamp, ordinal, type, payload[, metadata]}` (0.150+)."""
        return self.family >= 150

    @property
    def item_completed_events(self) -> bool:
        """event_msg `item_completed{item:{type:...}}` instead of user_message/agent_message…"""
        return self.family >= 150

    @property
    def token_usage_records(self) -> bool:
        """`token_usage_record` lines (0.169 only; 0.150.1 has none)."""
        return self.family >= 169

    @property
    def thread_settings_applied(self) -> bool:
        return self.family >= 169

    @property
    def error_in_task_complete(self) -> bool:
        """A failed turn records `task_complete.error{message,codex_error_info}`."""
        return self.family >= 150

    @property
    def apostrophe(self) -> str:
        """HTTP 500 text: U+2019 in 0.169, ASCII before (real 0.135.0 and 0.150.1)."""
        return "’" if self.family >= 169 else "'"

    @property
    def mcp_name_extra_chars(self) -> str:
        """Characters besides `[A-Za-z0-9_-]` allowed in `mcp add` names (0.169: `:@/.`).

        0.150 is not verified; it is given 0.135's charset."""
        return ":@/." if self.family >= 169 else ""

    @property
    def code_mode(self) -> bool:
        """The default model runs in code mode (the JavaScript `exec` custom tool)."""
        return self.family >= 150

    @property
    def model_metadata_warning(self) -> bool:
        """An unknown model adds the `Model metadata ... not found` error item (0.169 only)."""
        return self.family >= 169

    @property
    def api_key_configured_text(self) -> bool:
        """`login status` with an API key says `API key configured - …` plus a line about when it
        is checked (0.169); 0.135.0 and 0.150.1 say `Logged in using an API key - …` (real)."""
        return self.family >= 169

    def knows_model(self, model: str) -> bool:
        return model in _KNOWN_MODELS[self.family]

    def compacts_on_switch(self, old: str, new: str) -> bool:
        """A resume with another model compacts first (0.150+) when both models are known;
        to or from a model without metadata it only warns (real 0.150.1 / 0.169.0)."""
        return self.family >= 150 and self.knows_model(old) and self.knows_model(new)

    @property
    def default_model(self) -> str:
        """The model codex picks with no `-m` and no config (mock provider, codex-facts §8)."""
        return {135: "gpt-5.5", 150: "gpt-5.6-sol"}.get(self.family, "gpt-6.1-sol")


# Models with metadata (no `Model metadata ... not found` warning in 0.169; a switch between two
# of them compacts in 0.150+). Probed on the real binaries: gpt-5.4 is unknown to 0.150.1/0.169.0.
_KNOWN_MODELS = {
    135: frozenset({"gpt-5.5"}),
    150: frozenset({"gpt-5.5", "gpt-5.6-sol"}),
    169: frozenset({"gpt-5.5", "gpt-5.6-sol", "gpt-6.1-sol"}),
}


_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:[-+.].*)?$")


def behaviour_for(version: str) -> Behaviour:
    """The behaviour for a `codex_version`; raises ValueError outside 0.135 … 0.169.x."""
    m = _VERSION_RE.match(version)
    if not m or int(m.group(1)) != 0 or not 135 <= int(m.group(2)) <= 169:
        raise ValueError(f"unsupported codex_version {version!r} (0.135.0 … 0.169.x)")
    minor = int(m.group(2))
    family = 169 if minor >= 169 else 150 if minor >= 150 else 135
    return Behaviour(version=version, family=family)
