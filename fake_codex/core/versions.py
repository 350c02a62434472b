"""What differs between the emulated codex versions (codex-facts §8), in one frozen value.

`behaviour_for("0.140.2")` maps any version from the oldest to the newest known minor to the
nearest known behaviour at or below it (`KNOWN_VERSIONS`); anything else is refused, naming the
nearest known version (`nearest_known`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Behaviour:
    version: str
    """The version string printed by `--version` (the scenario's, verbatim)."""
    family: int
    """The minor of the nearest known version at or below (135, 150, 169, 171): which known
    behaviour applies. A new profile adds its minor; rules test `family >= N` from the version
    that changed them."""

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
        """An unknown model adds the `Model metadata ... not found` error item (0.150+; real
        0.150.1 warns for the gpt-6 models it does not know, 0.135.0 never warns)."""
        return self.family >= 150

    @property
    def api_key_configured_text(self) -> bool:
        """`login status` with an API key says `API key configured - …` plus a line about when it
        is checked (0.169); 0.135.0 and 0.150.1 say `Logged in using an API key - …` (real)."""
        return self.family >= 169

    def knows_model(self, model: str) -> bool:
        """codex has metadata for `model` (no `Model metadata ... not found` item)."""
        return model in _KNOWN_MODELS[self.family]

    def compacts_on_switch(self, old: str, new: str) -> bool:
        """A resume with another model compacts first (0.150+) when both are in the version's
        compacting set; otherwise it only warns (real 0.150.1 / 0.169.0 / 0.171.0: on 0.150.1
        gpt-5.5 → gpt-5.4 does not compact although both have metadata)."""
        models = _COMPACTING_MODELS[self.family]
        return self.family >= 150 and old in models and new in models

    def context_window(self, model: str) -> int:
        """The model's context window as codex reports it (`model_context_window`): 475000 for
        the large-window models the version has metadata for, else 258400 (measured on the real
        0.169.0 and 0.171.0: gpt-6.1-terra and gpt-6.2-sol; an unknown model gets the default)."""
        if model in _LARGE_WINDOW_MODELS and self.knows_model(model):
            return LARGE_CONTEXT_WINDOW
        return CONTEXT_WINDOW

    @property
    def default_model(self) -> str:
        """The model codex picks with no `-m` and no config (mock provider, codex-facts §8;
        0.171.0's is gpt-6.2-sol, probed on the real binary)."""
        return _DEFAULT_MODELS[self.family]


CONTEXT_WINDOW = 258400
LARGE_CONTEXT_WINDOW = 475000
_LARGE_WINDOW_MODELS = frozenset({"gpt-6.1-terra", "gpt-6.2-sol", "gpt-6.2-astra"})
_DEFAULT_MODELS = {135: "gpt-5.5", 150: "gpt-5.6-sol", 169: "gpt-6.1-sol", 171: "gpt-6.2-sol"}
# Models with metadata (no `Model metadata ... not found` warning in 0.150+; a switch between two
# of them compacts in 0.150+). Probed on the real binaries with `exec -m M` (2026-12-01): gpt-5.4
# is known to 0.150.1 only, the gpt-6 family from 0.169.0, gpt-6.2-* from 0.171.0. 0.135.0 never
# warns, so its set is never consulted.
_MODELS_169 = frozenset(
    {"gpt-5.5", "gpt-5.6-sol", "gpt-6-sol", "gpt-6-astra", "gpt-6-luna", "gpt-6.1-sol"}
) | {"gpt-6.1-terra"}
_KNOWN_MODELS = {
    135: frozenset({"gpt-5.5"}),
    150: frozenset({"gpt-5.4", "gpt-5.5", "gpt-5.6-sol"}),
    169: _MODELS_169,
    171: _MODELS_169 | {"gpt-6.2-sol", "gpt-6.2-astra"},
}
# Switches seen to compact on the real binaries (any two members); others only warn.
_COMPACTING_MODELS = {
    135: frozenset[str](),
    150: frozenset({"gpt-5.5", "gpt-5.6-sol"}),
    169: frozenset({"gpt-5.5", "gpt-5.6-sol", "gpt-6.1-sol"}),
    171: frozenset({"gpt-5.5", "gpt-5.6-sol", "gpt-6.1-sol", "gpt-6.2-sol"}),
}


# The real versions the fake has a profile for, each held to the real binary by conformance/.
KNOWN_VERSIONS: tuple[str, ...] = ("0.135.0", "0.150.1", "0.169.0", "0.171.0")
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:[-+.].*)?$")


def _key(version: str) -> tuple[int, int, int] | None:
    m = _VERSION_RE.match(version)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def _known_keys() -> list[tuple[tuple[int, int, int], str]]:
    return [(k, v) for v in KNOWN_VERSIONS if (k := _key(v)) is not None]


def nearest_known(version: str) -> str:
    """The known version closest to `version`: the newest at or below it, else the oldest
    (an unparsable version gets the newest)."""
    key = _key(version)
    if key is None:
        return KNOWN_VERSIONS[-1]
    below = [v for k, v in _known_keys() if k <= key]
    return below[-1] if below else KNOWN_VERSIONS[0]


def behaviour_for(version: str) -> Behaviour:
    """The behaviour for a `codex_version`; ValueError (naming the nearest known version) for a
    version outside the oldest … newest known minor."""
    key = _key(version)
    known = _known_keys()
    oldest, newest = known[0][0], known[-1][0]
    if key is None or not oldest[:2] <= key[:2] <= newest[:2]:
        nearest = nearest_known(version)
        raise ValueError(
            f"unsupported codex_version {version!r}: the fake knows {', '.join(KNOWN_VERSIONS)} "
            f"(any {oldest[0]}.{oldest[1]}.x … {newest[0]}.{newest[1]}.x); the nearest known "
            f"version is {nearest}: set codex_version to {nearest!r}, or add a profile for "
            f'{version} (conformance/README.md, "Add a codex version")'
        )
    family = int(nearest_known(version).split(".")[1])
    return Behaviour(version=version, family=family)
