"""The door's params: parsing a method's params never fails with anything but an `RpcError` that
names the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexum_openai_provider.door import params as p
from plexum_openai_provider.errors import RpcError
from plexum_openai_provider.jsonrpc.messages import INVALID_PARAMS


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=8), children, max_size=4
    )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    _containers,
    max_leaves=10,
)
PARAM_KEYS = st.sampled_from(
    [
        "turn_id",
        "agent",
        "session_id",
        "model",
        "input",
        "tools",
        "workspace",
        "block_ids",
        "protocol_version",
        "host",
        "id",
        "name",
        "description",
        "input_schema",
        "version",
    ]
)
PARAMS = st.dictionaries(
    PARAM_KEYS, JSON | st.dictionaries(PARAM_KEYS, JSON, max_size=3), max_size=6
)


@pytest.mark.parametrize(
    "parse", [p.parse_turn, p.parse_consume, p.parse_initialize, p.parse_cancel]
)
@given(params=PARAMS)
def test_params_either_parse_or_name_the_field_that_is_wrong(parse: Any, params: Any) -> None:
    try:
        parse(params)
    except RpcError as exc:
        assert exc.code == INVALID_PARAMS
        assert exc.data is not None and exc.data["field"].startswith("params.")
        assert exc.message.startswith(exc.data["field"] + ":")


def test_a_turn_parses_with_its_defaults() -> None:
    params = p.parse_turn(
        {
            "turn_id": "t1",
            "agent": {"id": "ada", "workspace": "/srv/ada"},
            "session_id": "s1",
            "input": "hi",
            "tools": [{"name": "echo", "description": "e"}],
            "a_future_field": True,  # ignored: optional additions do not break old plugins
        }
    )
    assert params.model == "codex" and params.workspace == Path("/srv/ada")
    assert params.tools[0].input_schema == {"type": "object", "properties": {}}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"turn_id": ""}, "params.turn_id"),
        ({"turn_id": "x" * 257}, "params.turn_id"),
        ({"turn_id": "a\nb"}, "params.turn_id"),
        (
            {
                "turn_id": "t",
                "agent": {"id": "a", "workspace": "/w"},
                "session_id": "s",
                "input": "i",
                "tools": [{"name": "e", "description": ""}] * 2,
            },
            "params.tools[1].name",
        ),
    ],
)
def test_bad_ids_and_duplicate_tools_are_named(params: dict[str, Any], field: str) -> None:
    with pytest.raises(RpcError) as caught:
        p.parse_turn(params)
    assert caught.value.data == {"field": field}


def test_a_turns_optional_inputs_parse_to_request_fields() -> None:
    base = {"turn_id": "t", "agent": {"id": "a", "workspace": "/w"}, "session_id": "s"}
    plain = p.parse_turn({**base, "input": "i"})
    assert (plain.images, plain.output_schema, plain.reasoning_effort, plain.codex_options) == (
        (),
        None,
        None,
        None,
    )
    full = p.parse_turn(
        {
            **base,
            "input": "i",
            "images": [{"path": "/w/a.png"}, {"data": "iVBORw=="}],
            "output_schema": {"type": "object"},
            "reasoning_effort": "high",
            "codex_options": {"web_search": "live"},
        }
    )
    assert full.images == (Path("/w/a.png"), b"\x89PNG")
    assert full.output_schema == {"type": "object"}
    assert (full.reasoning_effort, full.codex_options) == ("high", {"web_search": "live"})


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"images": [{"path": "rel.png"}]}, "params.images[0].path"),
        ({"images": [{"path": "/a", "data": ""}]}, "params.images[0]"),
        ({"images": [{"data": "***"}]}, "params.images[0].data"),
        ({"output_schema": []}, "params.output_schema"),
        ({"reasoning_effort": 3}, "params.reasoning_effort"),
        ({"codex_options": {"web_search": None}}, "params.codex_options.web_search"),
    ],
)
def test_a_wrongly_typed_turn_input_names_its_field(extra: dict[str, Any], field: str) -> None:
    base = {"turn_id": "t", "agent": {"id": "a", "workspace": "/w"}, "session_id": "s"}
    with pytest.raises(RpcError) as caught:
        p.parse_turn({**base, "input": "i", **extra})
    assert caught.value.data == {"field": field}
