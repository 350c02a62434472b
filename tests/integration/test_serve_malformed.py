"""Bad input never crashes `serve`: each kind gets a JSON-RPC error a daemon author can act on,
and hypothesis-fuzzed lines leave the process up and answering every well-formed request."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from plexum_openai_provider.daemon.client import PluginConnection
from plexum_openai_provider.door import params as door_params
from plexum_openai_provider.errors import RpcError
from plexum_openai_provider.jsonrpc import messages

from .serve_support import ServeWorld, initialized

MAX_LINE = 4096


def ws(world: ServeWorld) -> str:
    return str(world.fake.workspace())


def good_turn(world: ServeWorld, **over: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "turn_id": "t-good",
        "agent": {"id": "a", "workspace": ws(world)},
        "session_id": "s",
        "input": "hi",
    }
    params.update(over)
    return params


def request(method: str, params: Any = None, request_id: Any = 1) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def cases(world: ServeWorld) -> Iterator[tuple[str, bytes, int | None, int, str]]:
    """(what, line, id of the answer, code, words the message must hold)."""
    yield "not JSON", b"{nope", None, -32700, "not valid JSON"
    yield "invalid UTF-8", b'{"a": "\xff\xfe"}', None, -32700, "not valid JSON"
    yield "NaN", b'{"jsonrpc": "2.0", "id": 1, "method": "cancel", "x": NaN}', None, -32700, "NaN"
    yield "a batch", b"[]", None, -32600, "batches are not supported"
    yield "a number", b"42", None, -32600, "JSON object"
    yield "no jsonrpc", b'{"id": 5, "method": "cancel"}', 5, -32600, '"jsonrpc": "2.0"'
    yield "a float id", b'{"jsonrpc": "2.0", "id": 1.5, "method": "x"}', 1.5, -32600, "`id`"
    yield "method not a string", request(7, None, 6), 6, -32600, "`method`"  # type: ignore[arg-type]
    yield "params an array", request("cancel", ["t"], 7), 7, -32600, "by-name"
    yield "neither", b'{"jsonrpc": "2.0", "id": 8}', 8, -32600, "not a request"
    yield "unknown method", request("turns", {}, 9), 9, -32601, "'turns'"
    yield "cancel without turn_id", request("cancel", {}, 10), 10, -32602, "params.turn_id"
    bad_agent = good_turn(world, agent={"id": "a"})
    yield "turn without workspace", request("turn", bad_agent, 11), 11, -32602, "agent.workspace"
    relative = good_turn(world, agent={"id": "a", "workspace": "ws"})
    yield "relative workspace", request("turn", relative, 12), 12, -32602, "absolute path"
    wrong_type = good_turn(world, input=["hi"])
    yield "input not a string", request("turn", wrong_type, 13), 13, -32602, "params.input"
    bad_tool = good_turn(world, tools=[{"name": "x", "description": "d", "input_schema": 3}])
    yield "bad tool schema", request("turn", bad_tool, 14), 14, -32602, "tools[0].input_schema"
    consume = {"workspace": ws(world), "session_id": "s", "block_ids": [1]}
    yield "block id not a string", request("consume", consume, 15), 15, -32602, "block_ids[0]"
    missing = {"workspace": ws(world) + "/missing", "session_id": "s", "block_ids": []}
    yield "consume in no folder", request("consume", missing, 16), 16, -32602, "not a directory"
    init = {"protocol_version": "1", "host": {"name": "d"}}
    yield "host without version", request("initialize", init, 17), 17, -32602, "host.version"
    images = good_turn(world, images="a.png")
    yield "images not an array", request("turn", images, 20), 20, -32602, "params.images"
    image = good_turn(world, images=[{"file": "a.png"}])
    yield "image without path/data", request("turn", image, 21), 21, -32602, "images[0]"
    data = good_turn(world, images=[{"data": "not base64!"}])
    yield "image data not base64", request("turn", data, 22), 22, -32602, "images[0].data"
    schema = good_turn(world, output_schema="{}")
    yield "output_schema a string", request("turn", schema, 23), 23, -32602, "output_schema"
    options = good_turn(world, codex_options={"web_search": True})
    yield "option not a string", request("turn", options, 24), 24, -32602, "web_search"
    model = good_turn(world, turn_id="t-model", model="gpt-9")
    surrogate = (
        b'{"jsonrpc": "2.0", "id": 19, "method": "cancel", "params": {"turn_id": "\\ud800"}}'
    )
    yield "a lone surrogate", surrogate, 19, -32602, "lone surrogate"
    yield "unsupported model", request("turn", model, 18), 18, -32003, "'gpt-9'"
    yield "an overlong line", b'{"x": "' + b"y" * MAX_LINE + b'"}', None, -32004, "4096"


async def test_every_kind_of_bad_input_gets_an_actionable_error_and_the_plugin_goes_on(
    serve_world: ServeWorld,
) -> None:
    serve_world.fake.scenario(
        [{"requests": [{"output": [{"type": "message", "text": "still here"}]}]}]
    )
    conn = await serve_world.connection("--max-line-bytes", str(MAX_LINE))
    try:
        before_init = request("turn", good_turn(serve_world), 99)
        await conn.send_raw(before_init + b"\n")
        answer = await asyncio.wait_for(conn.unsolicited.get(), 30)
        assert answer["error"]["code"] == -32001 and "initialize" in answer["error"]["message"]
        await initialized(conn)
        for what, line, answer_id, code, words in cases(serve_world):
            await conn.send_raw(line + b"\n")
            answer = await asyncio.wait_for(conn.unsolicited.get(), 30)
            assert answer["id"] == answer_id, what
            assert answer["error"]["code"] == code, (what, answer)
            assert words in answer["error"]["message"], (what, answer)
            if code == -32602:
                assert answer["error"]["data"]["field"].startswith("params."), what
        # A good turn still runs; its id cannot be used twice.
        outcome = await conn.turn(good_turn(serve_world))
        assert outcome.events[0] == {"type": "text_delta", "text": "still here"}
        await conn.send_raw(request("turn", good_turn(serve_world), 100) + b"\n")
        answer = await asyncio.wait_for(conn.unsolicited.get(), 30)
        assert answer["error"]["code"] == -32002 and "'t-good'" in answer["error"]["message"]
        # A notification is never answered, even a bad one; the next request is.
        await conn.send_raw(b'{"jsonrpc": "2.0", "method": "whatever"}\n')
        assert (await conn.request("cancel", {"turn_id": "zz"}))["status"] == "unknown"
        assert conn.unsolicited.empty()
    finally:
        assert await conn.close() == 0


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(
        st.text(max_size=10), children, max_size=4
    )


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    _containers,
    max_leaves=12,
)
REQUEST_SHAPED = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", 2]) | JSON_VALUES,
        # Never a positive integer: those are the ids of the test's own requests.
        "id": st.integers(max_value=0)
        | st.text(max_size=8)
        | JSON_VALUES.filter(lambda v: not isinstance(v, int) or v <= 0),
        "method": st.sampled_from(["initialize", "turn", "cancel", "consume", "nope"])
        | JSON_VALUES,
        "params": JSON_VALUES,
        "result": JSON_VALUES,
        "error": JSON_VALUES,
    },
)


def starts_work(message: Any) -> bool:
    """True for the rare generated message that is a valid turn/consume/initialize request:
    the fuzzer must not start real turns in random folders or re-initialize with a new version."""
    try:
        incoming = messages.classify(message)
    except RpcError:
        return False
    if not isinstance(incoming, messages.Request):
        return False
    parse = {
        "turn": door_params.parse_turn,
        "consume": door_params.parse_consume,
        "initialize": door_params.parse_initialize,
    }.get(incoming.method)
    if parse is None:
        return False
    try:
        parse(incoming.params)
    except RpcError:
        return False
    return True


LINES = (
    st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" "))
    | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | REQUEST_SHAPED.filter(lambda m: not starts_work(m)).map(lambda m: json.dumps(m).encode())
)


def test_fuzzed_lines_never_stop_serve_from_answering_well_formed_requests(
    serve_world: ServeWorld,
) -> None:
    # One `serve` process for all examples (one per example would take minutes); the fixture's
    # schema check sees every message it writes.
    target = _FuzzTarget(serve_world)
    try:

        @settings(deadline=None)
        @given(st.lists(LINES, min_size=1, max_size=5))
        def check(lines: list[bytes]) -> None:
            target.run(lines)

        check()
    finally:
        assert target.close() == 0
    assert target.probes_answered > 0


class _FuzzTarget:
    def __init__(self, world: ServeWorld) -> None:
        self.runner = asyncio.Runner()
        self.conn: PluginConnection = self.runner.run(world.connection("--max-line-bytes", "512"))
        self.runner.run(initialized(self.conn))
        self.probes = itertools.count()
        self.probes_answered = 0

    def run(self, lines: list[bytes]) -> None:
        self.runner.run(self._run(lines))

    async def _run(self, lines: list[bytes]) -> None:
        for line in lines:
            await self.conn.send_raw(line + b"\n")
        probe = f"probe-{next(self.probes)}"
        answer = await asyncio.wait_for(self.conn.request("cancel", {"turn_id": probe}), 30)
        assert answer == {"turn_id": probe, "status": "unknown"}
        assert self.conn.proc.returncode is None
        self.probes_answered += 1

    def close(self) -> int:
        code: int = self.runner.run(self.conn.close())
        self.runner.close()
        return code
