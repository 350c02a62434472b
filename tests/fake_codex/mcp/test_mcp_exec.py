"""The fake as an MCP client: real stdio servers (echo_mcp_server.py), exec items and rollout
lines compared with the captures (mcp_flow_gpt55, codemode_mcp, v135_mcp_flow, iserror, crash)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from fake_codex.agent.codemode import CallStep, TextStep, evaluate_text, parse_script
from fake_codex.mcp.specs import namespaces_for

DATA = Path(__file__).parents[1] / "data"
SERVER = str(Path(__file__).parents[1] / "echo_mcp_server.py")
WALL = re.compile(r"Wall time:? \d+\.\d+ seconds")


def scenario(env: Any, turns: list[Any], version: str = "0.169.0") -> Path:
    path = env.root / "scenario.json"
    path.write_text(json.dumps({"codex_version": version, "turns": turns}))
    return path


def add(env: Any, name: str, *env_pairs: str) -> None:
    pairs = [x for p in env_pairs for x in ("--env", p)]
    assert env.run(["mcp", "add", name, *pairs, "--", sys.executable, SERVER]).returncode == 0


def mcp_call(ns: str, args: Any, call_id: str = "call_mcp1", name: str = "echo") -> Any:
    return {"type": "function_call", "namespace": ns, "name": name, "arguments": args,
            "call_id": call_id}  # fmt: skip


def done(text: str = "ok") -> Any:
    return {"output": [{"type": "message", "text": text}]}


def run(env: Any, path: Path, *extra: str, prompt: str = "hello") -> Any:
    return env.run(["exec", *env.EXEC_FLAGS, *extra, "--", prompt], scenario=path, stdin=None)


def items(env: Any, result: Any) -> list[Any]:
    return [e["item"] for e in env.parse_jsonl(result.stdout) if e["type"].startswith("item.")]


def captured_items(env: Any, name: str) -> list[Any]:
    events = env.parse_jsonl((DATA / f"{name}.stdout.jsonl").read_bytes())
    return [e["item"] for e in events if e["type"].startswith("item.")]


def rollout(env: Any) -> list[dict[str, Any]]:
    (path,) = env.rollouts()
    return env.rollout_lines(path)


def test_classic_call_matches_the_captured_items_wire_and_rollout(env: Any) -> None:
    log = env.root / "wire.jsonl"
    add(env, "echo1", "MY_MARK=hello", f"MCP_LOG={log}")
    path = scenario(env, [{"requests": [
        {"output": [mcp_call("mcp__echo1", {"text": "ping 42"})]},
        done("The tool said echo: ping 42"),
    ]}])  # fmt: skip
    result = run(env, path, "-m", "gpt-5.5")
    assert result.returncode == 0, result.stderr.decode()
    mine = [i for i in items(env, result) if i["type"] == "mcp_tool_call"]
    real = [i for i in captured_items(env, "mcp_flow_gpt55") if i["type"] == "mcp_tool_call"]
    assert [{**i, "id": "x"} for i in mine] == [{**i, "id": "x"} for i in real]
    # as in the capture (ordinals 20, 21, 22): call, token_usage_record, completion, output
    lines = [ln for ln in rollout(env) if ln["type"] != "token_usage_record"]
    kinds = [(ln["type"], ln["payload"].get("type")) for ln in lines]
    call = kinds.index(("response_item", "function_call"))
    assert kinds[call + 1 : call + 3] == [
        ("event_msg", "item_completed"),
        ("response_item", "function_call_output"),
    ]
    fc, done_evt, out = (lines[call + k]["payload"] for k in range(3))
    # real 0.169.0 against the conformance server (mcp_classic_one): `status` before the id
    assert list(fc) == ["type", "status", "id", "name", "namespace", "arguments", "call_id",
                        "internal_chat_message_metadata_passthrough"]  # fmt: skip
    assert (fc["namespace"], fc["name"], fc["arguments"]) == (
        "mcp__echo1",
        "echo",
        '{"text":"ping 42"}',
    )
    item = done_evt["item"]
    assert list(item) == [
        "type",
        "id",
        "server",
        "tool",
        "arguments",
        "status",
        "result",
        "duration",
    ]
    assert item["result"] == {
        "content": [{"type": "text", "text": "echo: ping 42"}],
        "structuredContent": {"result": "echo: ping 42"},
        "isError": False,
    }
    assert (item["id"], item["status"]) == ("call_mcp1", "completed")
    assert WALL.sub("W", out["output"]) == 'W\nOutput:\n{"result":"echo: ping 42"}'
    wire = [json.loads(x) for x in log.read_text().splitlines()]
    assert "FOO" not in wire[0]["env"] and wire[0]["env"]["MY_MARK"] == "hello"
    assert [m.get("method") for m in wire[1:]] == [
        "initialize", "notifications/initialized", "tools/list", "tools/call"
    ]  # fmt: skip
    assert wire[1]["params"]["clientInfo"] == {
        "name": "codex-mcp-client", "title": "Codex", "version": "0.169.0"
    }  # fmt: skip
    meta = wire[4]["params"]["_meta"]
    assert list(meta) == ["callId", "x-codex-turn-metadata", "threadId", "sessionId", "windowId",
                          "itemId", "progressToken"]  # fmt: skip
    assert (meta["callId"], wire[4]["params"]["name"]) == ("call_mcp1", "echo")


def test_the_server_gets_the_filtered_env_and_the_exec_cwd(env: Any) -> None:
    log = env.root / "wire.jsonl"
    add(env, "echo1", f"MCP_LOG={log}")
    path = scenario(env, [{"requests": [done()]}])
    result = env.run(
        ["exec", *env.EXEC_FLAGS, "--", "hi"],
        scenario=path,
        stdin=None,
        extra_env={"FOO_PARENT": "1", "OPENAI_API_KEY": "sk-x"},
    )
    assert result.returncode == 0
    first = json.loads(log.read_text().splitlines()[0])
    assert "FOO_PARENT" not in first["env"] and "OPENAI_API_KEY" not in first["env"]
    assert "PYTHONPATH" not in first["env"] and first["env"]["HOME"] == str(env.root / "user")
    assert set(first["env"]) <= {"HOME", "LANG", "PATH", "SHELL", "TERM", "SSL_CERT_FILE",
                                 "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                                 "NODE_EXTRA_CA_CERTS", "MCP_LOG"}  # fmt: skip
    assert first["cwd"] == str(env.cwd)


def test_code_mode_matches_the_captured_items_and_rollout(env: Any) -> None:
    add(env, "fast", "NO_STRUCTURED=1")
    js = (
        'const r = await tools.mcp__fast__echo({text: "from js"});\ntext(JSON.stringify(r));\n'
        'const s = await tools.exec_command({cmd: "echo shell-from-js"});\ntext(s.output);'
    )
    call = {"type": "custom_tool_call", "namespace": "functions", "name": "exec", "input": js,
            "call_id": "call_cm1"}  # fmt: skip
    path = scenario(env, [{"requests": [{"output": [call]}, done("done")]}])
    result = run(env, path)
    assert result.returncode == 0, result.stderr.decode()
    assert items(env, result) == captured_items(env, "codemode_mcp")
    lines = rollout(env)
    payloads = [ln["payload"] for ln in lines]
    ctc = next(p for p in payloads if p.get("type") == "custom_tool_call")
    # real 0.169.0 against the conformance server (mcp_codemode_one): `status` after the id
    assert list(ctc) == ["type", "id", "status", "call_id", "name", "namespace", "input",
                         "internal_chat_message_metadata_passthrough"]  # fmt: skip
    done_items = [p["item"] for p in payloads if p.get("type") == "item_completed"]
    mcp_item = next(i for i in done_items if i["type"] == "McpToolCall")
    assert re.fullmatch(r"exec-[0-9a-f-]{36}", mcp_item["id"])
    assert mcp_item["result"] == {"content": [{"type": "text", "text": "echo: from js"}],
                                  "isError": False}  # fmt: skip
    shell = next(i for i in done_items if i["type"] == "CommandExecution")
    assert shell["id"].startswith("exec-")
    out = next(p for p in payloads if p.get("type") == "custom_tool_call_output")
    assert re.fullmatch(
        r"Script completed\nWall time \d+\.\d seconds\nOutput:\n", out["output"][0]["text"]
    )
    assert out["output"][1:] == [
        {"type": "input_text",
         "text": '{"content":[{"type":"text","text":"echo: from js"}],"isError":false}'},
        {"type": "input_text", "text": "shell-from-js\n"},
    ]  # fmt: skip
    assert not any(p.get("type") == "function_call" for p in payloads)


def test_code_mode_promise_all_runs_every_call(env: Any) -> None:
    add(env, "fast")
    js = (
        "const [a, b] = await Promise.all([\n  tools.mcp__fast__echo({'text': 'one'}),\n"
        "  tools.mcp__fast__echo({text: `two`,}),\n]);\ntext(a.structuredContent.result);\n"
        "text(JSON.stringify(b.content[0].text));"
    )
    call = {"type": "custom_tool_call", "name": "exec", "input": js, "call_id": "c1"}
    result = run(env, scenario(env, [{"requests": [{"output": [call]}, done()]}]))
    mcps = [i for i in items(env, result) if i["type"] == "mcp_tool_call"]
    assert [i["arguments"] for i in mcps if i["status"] == "completed"] == [
        {"text": "one"}, {"text": "two"}
    ]  # fmt: skip
    out = next(ln["payload"] for ln in rollout(env)
               if ln["payload"].get("type") == "custom_tool_call_output")  # fmt: skip
    assert [p["text"] for p in out["output"][1:]] == ["echo: one", '"echo: two"']


def test_0_135_writes_mcp_tool_call_end_and_the_json_array_output(env: Any) -> None:
    add(env, "fast", "NO_STRUCTURED=1")
    path = scenario(
        env, [{"requests": [{"output": [mcp_call("mcp__fast", {"text": "v135"})]}, done()]}],
        version="0.135.0",
    )  # fmt: skip
    result = run(env, path)
    assert result.returncode == 0, result.stderr.decode()
    assert items(env, result) == captured_items(env, "v135_mcp_flow")
    payloads = [ln["payload"] for ln in rollout(env)]
    end = next(p for p in payloads if p.get("type") == "mcp_tool_call_end")
    assert sorted(end) == ["call_id", "duration", "invocation", "result", "type"]
    assert end["result"] == {"Ok": {"content": [{"type": "text", "text": "echo: v135"}],
                                    "isError": False}}  # fmt: skip
    out = next(p for p in payloads if p.get("type") == "function_call_output")
    assert WALL.sub("W", out["output"]) == 'W\nOutput:\n[{"type":"text","text":"echo: v135"}]'
    fc = next(p for p in payloads if p.get("type") == "function_call")
    assert list(fc) == ["type", "name", "namespace", "arguments", "call_id"]


def test_is_error_gives_status_failed_with_error_null(env: Any) -> None:
    add(env, "fast")
    path = scenario(env, [{"requests": [{"output": [mcp_call("mcp__fast", {})]}, done()]}])
    mine = items(env, run(env, path))
    real = captured_items(env, "mcp_tool_iserror")
    assert mine == real


def test_a_server_crash_during_a_call_is_transport_closed(env: Any) -> None:
    add(env, "fast", "CRASH_ON_CALL=1")
    path = scenario(
        env, [{"requests": [{"output": [mcp_call("mcp__fast", {"text": "boom"})]}, done()]}]
    )
    assert items(env, run(env, path)) == captured_items(env, "mcp_tool_crash")


def test_tool_timeout_sec_gives_codex_timeout_text(env: Any) -> None:
    add(env, "fast", "SLEEP_ON_CALL=3")
    path = scenario(
        env, [{"requests": [{"output": [mcp_call("mcp__fast", {"text": "x"})]}, done()]}]
    )
    result = run(env, path, "-c", "mcp_servers.fast.tool_timeout_sec=1")
    (item,) = [i for i in items(env, result) if i["type"] == "mcp_tool_call" and i["error"]]
    assert item["error"]["message"] == (
        "tool call error: tool call failed for `fast/echo`\n\nCaused by:\n"
        "    timed out awaiting tools/call after 1s"
    )


def test_per_turn_server_from_c_without_config_toml(env: Any) -> None:
    table = f'{{command="{sys.executable}",args=["{SERVER}"]}}'
    path = scenario(
        env, [{"requests": [{"output": [mcp_call("mcp__My_Server", {"text": "a"})]}, done()]}]
    )
    result = run(env, path, "-c", f"mcp_servers.My.Server={table}")
    # `My.Server` unquoted is a nested key: server `My` with a sub-table -> not a server
    assert not [i for i in items(env, result) if i["type"] == "mcp_tool_call"]
    env.home.joinpath("fake-codex-state.json").unlink()
    result = run(env, path, "-c", f'mcp_servers."My.Server"={table}')
    (_started, completed) = [i for i in items(env, result) if i["type"] == "mcp_tool_call"]
    assert completed["server"] == "My.Server" and completed["status"] == "completed"
    assert not (env.home / "config.toml").exists()


def test_a_slow_optional_server_is_missing_then_appears(env: Any) -> None:
    add(env, "fast", "STARTUP_DELAY=2")
    path = scenario(env, [{"requests": [
        {"output": [mcp_call("mcp__fast", {"text": "early"}, "c1")]},
        {"output": [{"type": "function_call", "name": "exec_command",
                     "arguments": {"cmd": "sleep 1.5"}, "call_id": "c2"}]},
        {"output": [mcp_call("mcp__fast", {"text": "late"}, "c3")]},
        done(),
    ]}])  # fmt: skip
    result = run(env, path)
    assert result.returncode == 0, result.stderr.decode()
    mcps = [i for i in items(env, result) if i["type"] == "mcp_tool_call"]
    assert [i["arguments"] for i in mcps] == [{"text": "late"}, {"text": "late"}]
    outputs = {ln["payload"]["call_id"]: ln["payload"]["output"] for ln in rollout(env)
               if ln["payload"].get("type") == "function_call_output"}  # fmt: skip
    assert outputs["c1"] == "unsupported call: mcp__fastecho"


def test_a_required_slow_server_is_waited_for(env: Any) -> None:
    add(env, "fast", "STARTUP_DELAY=1.5")
    path = scenario(
        env, [{"requests": [{"output": [mcp_call("mcp__fast", {"text": "x"})]}, done()]}]
    )
    result = run(env, path, "-c", "mcp_servers.fast.required=true")
    assert [i["status"] for i in items(env, result) if i["type"] == "mcp_tool_call"] == [
        "in_progress", "completed"
    ]  # fmt: skip


def test_a_required_server_that_cannot_start_ends_exec_before_thread_started(env: Any) -> None:
    path = scenario(env, [{"requests": [done()]}])
    result = run(env, path, "-c", 'mcp_servers.broken={command="/nonexistent/x",required=true}')
    assert (result.returncode, result.stdout) == (1, b"")
    assert result.stderr.decode().endswith(
        "required MCP servers failed to initialize: broken: No such file or directory "
        "(os error 2)\n"
    )
    optional = run(env, path, "-c", 'mcp_servers.broken={command="/nonexistent/x"}')
    assert optional.returncode == 0  # an optional one fails silently


def test_flat_mcp_names_and_unknown_namespaces_are_unsupported(env: Any) -> None:
    add(env, "echo1")
    flat = {"type": "function_call", "name": "mcp__echo1__echo", "arguments": {}, "call_id": "f"}
    path = scenario(
        env, [{"requests": [{"output": [flat, mcp_call("mcp__nope", {}, "n")]}, done()]}]
    )
    result = run(env, path)
    assert not [i for i in items(env, result) if i["type"] == "mcp_tool_call"]
    outputs = {ln["payload"]["call_id"]: ln["payload"]["output"] for ln in rollout(env)
               if ln["payload"].get("type") == "function_call_output"}  # fmt: skip
    assert outputs == {
        "f": "unsupported call: mcp__echo1__echo",
        "n": "unsupported call: mcp__nopeecho",
    }


def test_history_assertions_see_a_hand_edited_rollout_line(env: Any) -> None:
    add(env, "echo1")
    path = scenario(env, [
        {"requests": [{"output": [mcp_call("mcp__echo1", {"text": "payload"})]}, done()]},
        {"requests": [done("resumed")], "expect_history_contains": ["...(tool called)", "again"],
         "expect_history_excludes": ["echo: payload"]},
        {"requests": [done("resumed")], "expect_history_contains": ["echo: payload"]},
    ])  # fmt: skip
    first = run(env, path)
    thread = env.parse_jsonl(first.stdout)[0]["thread_id"]
    (file,) = env.rollouts()
    raw = file.read_text().splitlines(keepends=True)
    for i, line in enumerate(raw):
        obj = json.loads(line)
        if obj["payload"].get("type") == "function_call_output":
            obj["payload"]["output"] = "...(tool called)"
            raw[i] = json.dumps(obj, separators=(",", ":")) + "\n"
    file.write_text("".join(raw))
    resume = ["exec", *env.EXEC_FLAGS, "resume", thread, "again"]
    ok = env.run(resume, scenario=path, stdin=None)
    assert ok.returncode == 0, ok.stderr.decode()
    bad = env.run(resume, scenario=path, stdin=None)
    assert bad.returncode == 70
    assert f"scenario {path}, turn 2: expect_history_contains" in bad.stderr.decode()
    assert "the history lacks 'echo: payload'; it holds '" in bad.stderr.decode()
    assert "...(tool called)" in bad.stderr.decode() and bad.stdout == b""


def test_namespace_mapping_and_collision_hashes_match_codex() -> None:
    assert namespaces_for(["My.Server", "a/b", "srv:1", "x@y", "mcp__pre"]) == {
        "My.Server": "mcp__My_Server", "a/b": "mcp__a_b", "srv:1": "mcp__srv_1",
        "x@y": "mcp__x_y", "mcp__pre": "mcp__pre",
    }  # fmt: skip
    assert namespaces_for(["dash-name", "dash_name"]) == {
        "dash-name": "mcp__dash_name_2b568ab7825b",
        "dash_name": "mcp__dash_name_55db2918ded0",
    }


def test_the_code_mode_matcher_reads_json_ish_arguments() -> None:
    steps = parse_script(
        "// comment\nawait tools.mcp__s__t({a: 1, 'b': [true, null, -2.5], c: {d: \"x\\n\"},});\n"
        "const v = await tools.mcp__s__u();\ntext('lit');"
    )
    assert steps[0] == CallStep((type(steps[0].calls[0])("mcp__s__t",
        {"a": 1, "b": [True, None, -2.5], "c": {"d": "x\n"}}),), None)  # type: ignore[union-attr]  # fmt: skip
    assert isinstance(steps[1], CallStep) and steps[1].target == "v"
    assert steps[2] == TextStep("'lit'")
    assert evaluate_text("'lit'", {}) == "lit"
    assert evaluate_text("v.content[0].text", {"v": {"content": [{"text": "t"}]}}) == "t"
