"""The fake Responses server, driven by a stdlib HTTP client: framing, errors, recording."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from fake_codex.responses.requests import last_user_text
from fake_codex.responses.server import ResponsesServer
from fake_codex.testing.fakes import FakeResponsesServer

REPO = Path(__file__).resolve().parents[3]
USAGE = {
    "input_tokens": 1000,
    "cached_tokens": 400,
    "cache_write_tokens": 250,
    "output_tokens": 50,
    "reasoning_tokens": 30,
}


def _body(prompt: str = "hi") -> dict[str, Any]:
    return {
        "model": "m",
        "stream": True,
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]}
        ],
    }


def post(
    base_url: str,
    body: object,
    path: str = "/responses",
    headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    host = base_url.split("//")[1].split("/")[0]
    conn = http.client.HTTPConnection(host, timeout=10)
    try:
        data = json.dumps(body).encode()
        conn.request(
            "POST",
            "/v1" + path,
            body=data,
            headers={"content-type": "application/json", **(headers or {})},
        )
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def get(base_url: str, path: str) -> tuple[int, bytes]:
    host = base_url.split("//")[1].split("/")[0]
    conn = http.client.HTTPConnection(host, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def parse_sse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data object) per SSE frame; asserts the name matches data.type."""
    frames = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        data = json.loads(fields["data"])
        assert fields["event"] == data["type"]
        frames.append((fields["event"], data))
    return frames


@pytest.fixture
def serve(
    codex_responses_server: FakeResponsesServer, tmp_path: Path
) -> Callable[..., ResponsesServer]:
    """The plugin's Responses server playing `replies` (one turn) or a whole `scenario`."""

    def start(
        replies: Sequence[Mapping[str, Any]] = (), *, scenario: Mapping[str, Any] | None = None
    ) -> ResponsesServer:
        document = scenario or {"schema_version": 1, "turns": [{"requests": list(replies)}]}
        codex_responses_server.write_scenario(tmp_path / "scenario.json", document)
        return codex_responses_server.server

    return start


def test_a_message_reply_streams_created_item_added_done_and_completed_with_mapped_usage(
    serve: Callable[..., ResponsesServer],
) -> None:
    srv = serve([{"output": [{"type": "message", "text": "Hello"}], "usage": USAGE}])
    status, headers, raw = post(srv.base_url, _body())
    assert status == 200
    assert headers["content-type"] == "text/event-stream"
    frames = parse_sse(raw)
    assert [name for name, _ in frames] == [
        "response.created",
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]
    item = frames[2][1]["item"]
    assert item["type"] == "message" and item["role"] == "assistant"
    assert item["content"] == [{"type": "output_text", "text": "Hello", "annotations": []}]
    response = frames[-1][1]["response"]
    assert response["id"] == frames[0][1]["response"]["id"]
    assert response["usage"] == {
        "input_tokens": 1000,
        "input_tokens_details": {"cached_tokens": 400, "cache_write_tokens": 250},
        "output_tokens": 50,
        "output_tokens_details": {"reasoning_tokens": 30},
        "total_tokens": 1050,
    }


def test_a_reply_without_usage_completes_with_zero_usage(
    serve: Callable[..., ResponsesServer],
) -> None:
    srv = serve([{"output": []}])
    _, _, raw = post(srv.base_url, _body())
    usage = parse_sse(raw)[-1][1]["response"]["usage"]
    assert usage["input_tokens"] == 0
    assert usage["input_tokens_details"] == {"cached_tokens": 0, "cache_write_tokens": 0}


def test_tool_call_items_go_on_the_wire_in_responses_format(
    serve: Callable[..., ResponsesServer],
) -> None:
    output = [
        {"type": "reasoning", "summary": ["**Plan** run it"]},
        {
            "type": "function_call",
            "name": "exec_command",
            "arguments": {"cmd": "echo hi"},
            "call_id": "c1",
        },
        {
            "type": "function_call",
            "namespace": "mcp__s",
            "name": "echo",
            "arguments": {"t": 1},
            "call_id": "c2",
        },
        {
            "type": "custom_tool_call",
            "name": "apply_patch",
            "input": "*** Begin Patch",
            "call_id": "c3",
        },
        {"type": "web_search_call", "query": "weather", "id": "ws_1"},
    ]
    srv = serve([{"output": output}])
    _, _, raw = post(srv.base_url, _body())
    done = [d["item"] for name, d in parse_sse(raw) if name == "response.output_item.done"]
    assert done[0]["summary"] == [{"type": "summary_text", "text": "**Plan** run it"}]
    assert done[1]["arguments"] == '{"cmd": "echo hi"}' and "namespace" not in done[1]
    assert (done[2]["namespace"], done[2]["name"], done[2]["call_id"]) == ("mcp__s", "echo", "c2")
    assert done[3]["input"] == "*** Begin Patch"
    assert done[4]["id"] == "ws_1" and done[4]["action"] == {"type": "search", "query": "weather"}


def test_http_status_reply_with_an_object_body_answers_json(
    serve: Callable[..., ResponsesServer],
) -> None:
    body = {"error": {"message": "bad", "type": "invalid_request_error"}}
    srv = serve([{"http_status": 400, "body": body}])
    status, headers, raw = post(srv.base_url, _body())
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert json.loads(raw) == body


def test_http_status_reply_with_a_text_body_answers_text_plain(
    serve: Callable[..., ResponsesServer],
) -> None:
    srv = serve([{"http_status": 503, "body": "upstream unavailable"}])
    status, headers, raw = post(srv.base_url, _body())
    assert status == 503
    assert headers["content-type"].startswith("text/plain")
    assert raw == b"upstream unavailable"


def test_end_cut_closes_the_stream_after_the_output_items_without_completion(
    serve: Callable[..., ResponsesServer],
) -> None:
    srv = serve([{"output": [{"type": "message", "text": "partial"}], "end": "cut"}])
    _, _, raw = post(srv.base_url, _body())
    names = [name for name, _ in parse_sse(raw)]
    assert names == ["response.created", "response.output_item.added", "response.output_item.done"]


def test_end_failed_sends_response_failed_with_the_scripted_error(
    serve: Callable[..., ResponsesServer],
) -> None:
    error = {"code": "context_length_exceeded", "message": "too long"}
    srv = serve([{"end": "failed", "error": error}])
    _, _, raw = post(srv.base_url, _body())
    name, data = parse_sse(raw)[-1]
    assert name == "response.failed"
    assert data["response"]["error"] == error


def test_end_incomplete_sends_response_incomplete_with_the_reason(
    serve: Callable[..., ResponsesServer],
) -> None:
    srv = serve([{"end": "incomplete", "reason": "max_output_tokens"}])
    _, _, raw = post(srv.base_url, _body())
    name, data = parse_sse(raw)[-1]
    assert name == "response.incomplete"
    assert data["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_delayed_reply_still_streams_every_event(serve: Callable[..., ResponsesServer]) -> None:
    srv = serve([{"output": [{"type": "message", "text": "slow"}], "delay_ms": 5}])
    _, _, raw = post(srv.base_url, _body())
    assert parse_sse(raw)[-1][0] == "response.completed"


def test_scenario_replies_are_served_in_order_across_turns(
    serve: Callable[..., ResponsesServer],
) -> None:
    scenario = {
        "schema_version": 1,
        "turns": [
            {"requests": [{"output": [{"type": "message", "text": "t0r0"}]},
                          {"output": [{"type": "message", "text": "t0r1"}]}]},
            {"requests": [{"output": [{"type": "message", "text": "t1r0"}]}]},
        ],
    }  # fmt: skip
    srv = serve(scenario=scenario)
    texts = []
    for _ in range(3):
        _, _, raw = post(srv.base_url, _body())
        done = [d for n, d in parse_sse(raw) if n == "response.output_item.done"]
        texts.append(done[0]["item"]["content"][0]["text"])
    assert texts == ["t0r0", "t0r1", "t1r0"]
    assert srv.unserved == []


def test_every_request_is_recorded_in_order_with_parsed_body_and_redacted_authorization(
    serve: Callable[..., ResponsesServer],
) -> None:
    srv = serve([{"output": []}, {"output": []}])
    post(srv.base_url, _body("one"), headers={"authorization": "Bearer sk-test"})
    post(srv.base_url, _body("two"))
    assert [r.index for r in srv.requests] == [0, 1]
    first = srv.requests[0]
    assert (first.method, first.path) == ("POST", "/v1/responses")
    assert first.headers["authorization"] == "<redacted>"
    assert "sk-test" not in json.dumps(dict(first.headers))
    assert [last_user_text(r.body) for r in srv.model_requests] == ["one", "two"]


def test_a_request_past_the_script_gets_500_and_is_recorded_as_unserved(
    serve: Callable[..., ResponsesServer],
) -> None:
    srv = serve([{"output": []}])
    post(srv.base_url, _body())
    status, _, raw = post(srv.base_url, _body())
    assert status == 500
    assert "fake Responses server: no reply scripted for request 2" in raw.decode()
    assert len(srv.unserved) == 1
    assert srv.unserved[0].model_request_number == 2
    assert srv.unserved[0].request_index == 1


def test_models_listing_answers_an_empty_list_and_unknown_paths_404_both_recorded(
    serve: Callable[..., ResponsesServer],
) -> None:
    srv = serve()
    models_status, models_raw = get(srv.base_url, "/v1/models")
    other_status, _ = get(srv.base_url, "/v1/nothing")
    assert models_status == 200 and json.loads(models_raw)["data"] == []
    assert other_status == 404
    assert [(r.method, r.path) for r in srv.requests] == [
        ("GET", "/v1/models"),
        ("GET", "/v1/nothing"),
    ]
    assert srv.model_requests == [] and srv.unserved == []


def test_a_chunked_request_body_is_decoded_and_recorded(
    serve: Callable[..., ResponsesServer],
) -> None:
    srv = serve([{"output": []}])
    host = srv.base_url.split("//")[1].split("/")[0]
    conn = http.client.HTTPConnection(host, timeout=10)
    conn.request("POST", "/v1/responses", body=iter([b'{"model":', b' "chunky"}']),
                 headers={"content-type": "application/json"}, encode_chunked=True)  # fmt: skip
    assert conn.getresponse().status == 200
    conn.close()
    assert srv.requests[0].body == {"model": "chunky"}


def test_expect_prompt_mismatch_is_recorded_for_the_first_request_of_a_turn(
    serve: Callable[..., ResponsesServer],
) -> None:
    scenario = {
        "schema_version": 1,
        "turns": [{"expect_prompt": "right", "requests": [{"output": []}]},
                  {"expect_prompt_contains": "ok", "requests": [{"output": []}]}],
    }  # fmt: skip
    srv = serve(scenario=scenario)
    post(srv.base_url, _body("wrong"))
    post(srv.base_url, _body("this is ok"))
    assert [(m.expected, m.actual) for m in srv.prompt_mismatches] == [("right", "wrong")]


@pytest.mark.parametrize(
    "reply",
    [
        {"output": [], "bogus": 1},
        {"http_status": 500, "output": []},
        {"end": "exploded"},
        {"output": [{"type": "telepathy"}]},
    ],
)
def test_replies_the_server_cannot_serve_are_rejected_at_construction(
    reply: dict[str, Any],
) -> None:
    with pytest.raises(ValueError):
        ResponsesServer([reply])


async def test_async_server_records_requests_and_wakes_waiters() -> None:
    import asyncio

    async with ResponsesServer([{"output": [{"type": "message", "text": "x"}]}]) as srv:
        assert srv.base_url.startswith("http://127.0.0.1:") and srv.base_url.endswith("/v1")
        status_task = asyncio.create_task(asyncio.to_thread(post, srv.base_url, _body()))
        await srv.wait_for_requests(1, timeout=10)
        status, _, _ = await status_task
    assert status == 200
    assert srv.remaining == 0


def test_module_cli_prints_the_base_url_and_serves_the_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "s.json"
    scenario.write_text(
        json.dumps({"schema_version": 1, "turns": [{"requests": [{"output": []}]}]})
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "fake_codex.responses.server", "--scenario", str(scenario)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()  # bounded by the pytest timeout
        status, _, raw = post(base_url, _body())
        assert status == 200
        assert parse_sse(raw)[-1][0] == "response.completed"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.codex_request_violations
def test_a_request_that_breaks_tool_call_pairing_gets_the_apis_400_and_keeps_the_script(
    serve: Callable[..., ResponsesServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = tmp_path / "violations.jsonl"
    monkeypatch.setenv("FAKE_CODEX_VIOLATIONS", str(report))
    server = serve([{"output": [{"type": "message", "text": "served"}]}])
    body = _body()
    body["input"].append({"type": "function_call_output", "call_id": "call_gone", "output": "x"})
    status, headers, raw = post(server.base_url, body)
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(raw) == {
        "error": {
            "message": "No tool call found for function call output with call_id call_gone.",
            "type": "invalid_request_error",
            "param": "input",
            "code": None,
        }
    }
    (violation,) = server.violations
    assert violation.problems == (
        "No tool call found for function call output with call_id call_gone.",
    )
    assert json.loads(report.read_text())["who"] == "fake Responses server"
    # The broken request used no reply: the next, well-formed one gets the scripted answer.
    status, _, raw = post(server.base_url, _body())
    assert status == 200 and b"served" in raw
    assert server.remaining == 0


def test_a_gated_reply_holds_after_its_first_event_until_released(
    serve: Callable[..., ResponsesServer],
) -> None:
    import concurrent.futures

    server = serve([{"output": [{"type": "message", "text": "released"}], "gate": "model"}])
    gate = server.gate("model")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        reply = pool.submit(post, server.base_url, _body())
        gate.wait_reached(timeout=10)
        assert not reply.done()  # the model holds: the stream is open, its reply not sent
        gate.release()
        status, _, raw = reply.result(timeout=10)
    assert status == 200
    kinds = [name for name, _ in parse_sse(raw)]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert b"released" in raw
