"""Agents' MCP server names: valid for codex 0.135, bounded, distinct (also as namespaces)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from plexum_openai_provider.bridge.names import MAX_NAME_LENGTH, namespace, server_name

CODEX_0135_NAME = re.compile(r"[A-Za-z0-9_-]+")
ids = st.text(max_size=200)


@given(ids)
def test_names_use_only_the_0135_charset_and_stay_within_the_bound(agent_id: str) -> None:
    name = server_name(agent_id)
    assert CODEX_0135_NAME.fullmatch(name)
    assert name.startswith("plexum-host-")
    assert len(name) <= MAX_NAME_LENGTH


@given(ids, ids)
def test_distinct_ids_give_distinct_names_and_namespaces(a: str, b: str) -> None:
    if a != b:
        assert server_name(a) != server_name(b)
        assert namespace(server_name(a)) != namespace(server_name(b))


@given(st.text(alphabet="ab-_.", max_size=8), st.text(alphabet="ab-_.", max_size=8))
def test_ids_differing_only_in_dash_underscore_or_dot_never_share_a_namespace(
    a: str, b: str
) -> None:
    if a != b:
        assert namespace(server_name(a)) != namespace(server_name(b))


def test_a_short_alphanumeric_id_is_kept_readable_without_a_hash() -> None:
    assert server_name("Alice42") == "plexum-host-Alice42"


def test_an_id_that_had_to_change_gets_a_64_bit_hash_suffix() -> None:
    name = server_name("team/alice.bot")
    assert re.fullmatch(r"plexum-host-teamalicebot-[0-9a-f]{16}", name)


def test_a_long_id_is_cut_and_hashed() -> None:
    a, b = "x" * 100, "x" * 101
    assert len(server_name(a)) <= MAX_NAME_LENGTH
    assert server_name(a) != server_name(b)


def test_empty_and_non_ascii_ids_still_get_a_readable_prefix() -> None:
    assert re.fullmatch(r"plexum-host-agent-[0-9a-f]{16}", server_name(""))
    assert re.fullmatch(r"plexum-host-agent-[0-9a-f]{16}", server_name("日本語"))


def test_namespace_follows_codex_mapping() -> None:
    # codex-facts §5: non-[A-Za-z0-9_] characters become '_', case kept, no truncation.
    assert namespace("My.Server") == "mcp__My_Server"
    assert namespace("dash-name") == "mcp__dash_name"
    assert namespace("plexum-host-a") == "mcp__plexum_host_a"


def test_a_plain_id_as_long_as_the_bound_allows_is_kept_without_a_hash() -> None:
    longest = "a" * (MAX_NAME_LENGTH - len("plexum-host-"))
    assert server_name(longest) == "plexum-host-" + longest
    assert re.fullmatch(r"plexum-host-a+-[0-9a-f]{16}", server_name(longest + "a"))


def test_an_id_with_a_lone_surrogate_still_gets_a_distinct_name() -> None:
    # JSON can carry "\ud800" escapes, so an agent id need not be encodable as strict UTF-8.
    a, b = server_name("bot\ud800"), server_name("bot\udc00")
    assert re.fullmatch(r"plexum-host-bot-[0-9a-f]{16}", a)
    assert a != b
