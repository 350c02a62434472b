"""Issue 9, tried from the outside: each numbered fault as a real run on the fake codex (or on a
replayed capture of the real one), driven through `run_turn`, the CLI or consume."""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from plexum_openai_provider import (
    ErrorEvent,
    MessageEnd,
    TextDelta,
    ToolCall,
    ToolSpec,
    TurnRequest,
    load_config,
    run_turn,
)
from plexum_openai_provider.errors import ConfigError

from .conftest import FAST_LIMITS, ProviderOnFake, group_alive, types

FIXTURES = Path(__file__).parent.parent / "fixtures"
ECHO = ToolSpec("echo", "echo back", {"type": "object", "properties": {"text": {"type": "string"}}})

SHELL = {
    "type": "function_call",
    "name": "exec_command",
    "arguments": {"cmd": "echo REAL_CALL"},
    "call_id": "call_real",
}
TOOL_TURN = {"requests": [{"output": [SHELL]}, {"output": [{"type": "message", "text": "ok"}]}]}


def tool_turn(call_id: str) -> dict[str, Any]:
    call = {**SHELL, "call_id": call_id}
    return {"requests": [{"output": [call]}, {"output": [{"type": "message", "text": "ok"}]}]}


async def echo_tool(name: str, arguments: dict[str, Any]) -> Any:
    return arguments.get("text", "")


def replay_binary(root: Path, lines: list[str], *, then: str = "exit 0") -> str:
    """A `codex` that reads the prompt to EOF, prints `lines`, then ends as `then` says:
    `exit N`, `signal N` or `hang`. It writes its pid to `<root>/replay.pid` first."""
    script = root / f"replay-{len(list(root.glob('replay-*')))}"
    body = f"""#!{sys.executable}
import os, sys, signal, time
open({str(root / "replay.pid")!r}, "w").write(str(os.getpid()))
sys.stdin.buffer.read()
for line in {lines!r}:
    sys.stdout.write(line + "\\n")
sys.stdout.flush()
how, _, arg = {then!r}.partition(" ")
if how == "signal":
    signal.signal(int(arg), signal.SIG_DFL)
    os.kill(os.getpid(), int(arg))
    time.sleep(5)
elif how == "hang":
    time.sleep(60)
sys.exit(int(arg or 0))
"""
    script.write_text(body)
    script.chmod(0o755)
    return str(script)


def fixture_lines(name: str) -> list[str]:
    return (FIXTURES / f"{name}.stdout.jsonl").read_text().splitlines()


def started(thread_id: str = "019a0000-0000-7000-8000-000000000001") -> list[str]:
    return [
        json.dumps({"type": "thread.started", "thread_id": thread_id}),
        '{"type":"turn.started"}',
    ]


COMPLETED = json.dumps({"type": "turn.completed", "usage": {"input_tokens": 1, "output_tokens": 1}})


def item(kind: str, phase: str = "completed", **fields: Any) -> str:
    return json.dumps({"type": f"item.{phase}", "item": {"id": "item_0", "type": kind, **fields}})


def say_bytes(
    fake: ProviderOnFake, args: list[str], stdin: bytes = b"", config: dict[str, Any] | None = None
) -> subprocess.CompletedProcess[bytes]:
    config_path = fake.root / "config.json"
    body = {
        "binary": fake.config.binary,
        "codex_home": fake.config.codex_home,
        "socket_dir": str(fake.root / "sock"),
        **(config or {}),
    }
    config_path.write_text(json.dumps(body))
    argv = [sys.executable, "-m", "plexum_openai_provider.cli", "say", "--config", str(config_path)]
    argv += ["--workspace", str(fake.workspace()), *args]
    return subprocess.run(argv, capture_output=True, timeout=60, input=stdin)


# -- 1. a prompt that is not valid UTF-8 --------------------------------------------------------


@pytest.mark.parametrize("where", ["stdin", "argv"])
def test_a_non_utf8_prompt_is_a_config_error_before_codex_starts(
    provider: ProviderOnFake, where: str
) -> None:
    if where == "stdin":
        result = say_bytes(provider, ["--json", "--", "-"], stdin=b"caf\xe9 \xff")
    else:
        result = say_bytes(provider, ["--json", "--", os.fsdecode(b"caf\xe9 \xff")])
    assert b"Traceback" not in result.stderr, result.stderr.decode(errors="replace")
    assert result.returncode == 2
    assert b"not valid UTF-8" in result.stdout + result.stderr
    assert provider.invocations() == []  # nothing started


async def test_a_library_prompt_with_lone_surrogates_ends_in_one_config_error(
    provider: ProviderOnFake,
) -> None:
    events = await provider.turn("caf\udce9")
    assert len(events) == 1 and isinstance(events[0], ErrorEvent)
    assert events[0].code == "config" and "UTF-8" in events[0].message
    assert provider.invocations() == []


# -- 2. errors while offering tools ---------------------------------------------------------


@pytest.mark.parametrize("case", ["too_long", "parent_is_a_file"])
async def test_a_socket_dir_that_cannot_be_used_is_an_mcp_error(
    provider: ProviderOnFake, case: str
) -> None:
    if case == "too_long":
        socket_dir = provider.root / ("d" * 120)
    else:
        (provider.root / "plainfile").write_text("x")
        socket_dir = provider.root / "plainfile" / "sock"
    config = provider.with_config(socket_dir=str(socket_dir))
    request = TurnRequest(
        prompt="hi", workspace=provider.workspace(), tools=(ECHO,), call_tool=echo_tool
    )
    events = await run_turn(config, request, FAST_LIMITS)
    assert len(events) == 1 and isinstance(events[0], ErrorEvent), events
    assert events[0].code == "mcp" and str(socket_dir)[:40] in events[0].message


# -- 3. a real-time signal ----------------------------------------------------------------------


async def test_codex_killed_by_a_realtime_signal_is_an_exit_error_naming_it(
    provider: ProviderOnFake,
) -> None:
    binary = replay_binary(provider.root, started(), then="signal 40")
    events = await provider.turn(config=provider.with_config(binary=binary))
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == "exit"
    assert "signal 40" in end.message


# -- 4. the lock and a cancelled task -------------------------------------------------------


@pytest.mark.parametrize("how", ["task_cancel", "asyncio_timeout"])
async def test_cancelling_the_task_while_it_waits_for_the_lock_leaks_no_lock(
    provider: ProviderOnFake, how: str
) -> None:
    ws = provider.workspace()
    holder = os.open(ws / ".plexum-codex-session.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        if how == "task_cancel":
            task = asyncio.create_task(provider.turn())
            await asyncio.wait({task}, timeout=0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        else:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await provider.turn()
        # A cancelled turn leaves no task of its own running (an orphaned lock waiter would
        # take the lock once it is free and keep it).
        await asyncio.sleep(0)
        assert asyncio.all_tasks() == {asyncio.current_task()}
    finally:
        os.close(holder)
    # Each later turn must get the lock: an orphaned waiter would take it and keep it.
    async with asyncio.timeout(20):
        for _ in range(2):
            assert isinstance((await provider.turn())[-1], MessageEnd)
    probe = os.open(ws / ".plexum-codex-session.lock", os.O_RDWR)
    try:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(probe)


# -- 5. mcp-host and modules in the workspace ---------------------------------------------------


async def test_mcp_host_never_imports_modules_from_the_workspace(provider: ProviderOnFake) -> None:
    provider.scenario([{"requests": [{"output": [{"type": "message", "text": "x"}]}]}])
    ws = provider.workspace()
    marker = provider.root / "imported-from-workspace"
    for module in ("select", "socket", "json", "selectors"):
        (ws / f"{module}.py").write_text(f"open({str(marker)!r}, 'a').write({module!r})\n")
    (ws / "plexum_openai_provider").mkdir()
    (ws / "plexum_openai_provider" / "__init__.py").write_text(
        f"open({str(marker)!r}, 'a').write('package')\n"
    )
    config = provider.with_config(socket_dir=str(provider.root / "sock"))
    request = TurnRequest(prompt="hi", workspace=ws, tools=(ECHO,), call_tool=echo_tool)
    events = await run_turn(config, request, FAST_LIMITS)
    assert isinstance(events[-1], MessageEnd), events
    assert not marker.exists(), marker.read_text()


# -- 6. a forged session file ---------------------------------------------------------------


def session_file(ws: Path) -> dict[str, Any]:
    return dict(json.loads((ws / ".plexum-codex-session").read_text()))


def forge_rollout(fake: ProviderOnFake, thread_id: str) -> Path:
    """A rollout-looking file OUTSIDE CODEX_HOME/sessions with a call the model never made."""
    outside = fake.root / "elsewhere"
    outside.mkdir(exist_ok=True)
    forged = outside / f"rollout-2026-01-01T00-00-00-{thread_id}.jsonl"
    call = {
        "timestamp": "2026-01-01T00:00:00.000Z",
        "type": "response_item",
        "payload": {
            "type": "function_call",
            "name": "exec_command",
            "arguments": '{"cmd":"forged"}',
            "call_id": "call_forged",
        },
    }
    forged.write_text(json.dumps(call) + "\n")
    return forged


async def test_a_forged_rollout_path_in_the_session_file_is_not_trusted(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([tool_turn("call_first"), tool_turn("call_second")])
    ws = provider.workspace()
    await provider.turn()
    body = session_file(ws)
    entry = body["threads"]["default"]
    forged = forge_rollout(provider, entry["thread_id"])
    before = forged.read_bytes()
    entry["rollout_path"], entry["rollout_offset"] = str(forged), 0
    (ws / ".plexum-codex-session").write_text(json.dumps(body))
    events = await provider.turn("again")
    calls = [e.block_id for e in events if isinstance(e, ToolCall)]
    assert calls == ["call_second"]
    stored = session_file(ws)["threads"]["default"]["rollout_path"]
    assert Path(stored).is_relative_to(Path(str(provider.config.codex_home)) / "sessions")
    # consume must never rewrite a file outside CODEX_HOME/sessions either.
    entry["rollout_path"] = str(forged)
    (ws / ".plexum-codex-session").write_text(json.dumps(body))
    result = provider.cli("consume", "--json", "call_forged")
    assert forged.read_bytes() == before
    assert json.loads(result.stdout)["unknown"] == ["call_forged"], result


@pytest.mark.parametrize(
    "entry",
    [
        {"rollout_offset": -5},
        {"rollout_offset": 10**15},
        {"rollout_offset": True},
        {"rollout_path": "sessions/../../../../etc/passwd"},
        {"rollout_path": "\x00"},
        {"usage_total": {"input_tokens": "many"}},
        {"usage_total": {"input_tokens": -1}},
        {"model_arg": "--dangerously-do-x"},
    ],
    ids=[
        "negative-offset",
        "huge-offset",
        "boolean-offset",
        "path-traversal",
        "nul-in-path",
        "usage-not-a-number",
        "negative-usage",
        "option-as-model",
    ],
)
async def test_hostile_values_in_the_session_file_do_not_reach_codex_or_the_mirror(
    provider: ProviderOnFake, entry: dict[str, Any]
) -> None:
    provider.scenario([tool_turn("call_first"), tool_turn("call_second")])
    ws = provider.workspace()
    await provider.turn()
    body = session_file(ws)
    body["threads"]["default"].update(entry)
    (ws / ".plexum-codex-session").write_text(json.dumps(body))
    events = await provider.turn("again")
    assert types(events).count("error") + types(events).count("message_end") == 1
    if isinstance(events[-1], MessageEnd):
        assert [e.block_id for e in events if isinstance(e, ToolCall)] == ["call_second"]
        assert events[-1].usage.input_tokens >= 0
    argv = provider.invocations()[-1].argv
    assert "--dangerously-do-x" not in argv[: argv.index("--")] or argv.count("--model") == 1


# -- 7. a failed rollout read ---------------------------------------------------------------


async def test_a_rollout_that_shrank_does_not_poison_later_turns(provider: ProviderOnFake) -> None:
    provider.scenario([tool_turn("call_1"), tool_turn("call_2"), tool_turn("call_3")])
    ws = provider.workspace()
    await provider.turn()
    path = Path(session_file(ws)["threads"]["default"]["rollout_path"])
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[: len(lines) // 2]))  # shrank: the stored offset is past EOF
    second = await provider.turn("two")
    third = await provider.turn("three")
    assert [e.block_id for e in second if isinstance(e, ToolCall)] == ["call_2"]
    assert [e.block_id for e in third if isinstance(e, ToolCall)] == ["call_3"]
    assert not [e for e in third if e.type == "warning"]


async def test_a_rollout_read_error_is_recovered_on_the_next_turn(
    provider: ProviderOnFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider.scenario([tool_turn("call_1"), tool_turn("call_2"), tool_turn("call_3")])
    await provider.turn()
    ws = provider.workspace()
    body = session_file(ws)
    body["threads"]["default"]["rollout_offset"] += 1  # not a line start any more
    (ws / ".plexum-codex-session").write_text(json.dumps(body))
    second = await provider.turn("two")
    third = await provider.turn("three")
    assert [e.block_id for e in second if isinstance(e, ToolCall)] == ["call_2"]
    assert [e.block_id for e in third if isinstance(e, ToolCall)] == ["call_3"]


# -- 8 / 9. config numbers and relative paths ---------------------------------------------------


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize("key", ["turn_timeout_s", "idle_timeout_s", "consume_wait_s"])
def test_non_finite_numbers_in_the_config_are_rejected(tmp_path: Path, key: str, text: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(f'{{"{key}": {text}}}')
    with pytest.raises(ConfigError) as raised:
        load_config(str(path))
    assert key in str(raised.value) or "number" in str(raised.value)


def test_relative_paths_in_the_config_are_resolved_against_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "config.json").write_text('{"codex_home": "home", "socket_dir": "./sock"}')
    config = load_config(str(folder / "config.json"))
    assert config.codex_home == str(folder / "home")
    assert config.socket_dir == str(folder / "sock")


# -- 10. codex mcp get/add ----------------------------------------------------------------------


def hanging_mcp_binary(root: Path) -> str:
    """A `codex` whose `mcp get` forks a child that outlives it, then hangs (the npm launcher)."""
    script = root / "codex-mcp-hang"
    script.write_text(
        f"""#!{sys.executable}
import os, subprocess, sys, time
child = subprocess.Popen(["sleep", "60"])
open({str(root / "mcp.pids")!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
time.sleep(60)
"""
    )
    script.chmod(0o755)
    return str(script)


async def wait_for_file(path: Path, timeout: float = 10.0) -> str:
    async with asyncio.timeout(timeout):
        while not path.exists() or not path.read_text():
            await asyncio.sleep(0.02)
    return path.read_text()


@pytest.mark.parametrize("how", ["timeout", "cancel"])
async def test_codex_mcp_get_that_hangs_is_stopped_with_its_whole_group(
    provider: ProviderOnFake, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    import plexum_openai_provider.bridge.registration as registration

    monkeypatch.setattr(registration, "_CLI_TIMEOUT", 1.0 if how == "timeout" else 60.0)
    config = provider.with_config(
        binary=hanging_mcp_binary(provider.root),
        mcp_registration="global",
        socket_dir=str(provider.root / "sock"),
    )
    request = TurnRequest(
        prompt="hi", workspace=provider.workspace(), tools=(ECHO,), call_tool=echo_tool
    )
    task = asyncio.create_task(run_turn(config, request, FAST_LIMITS))
    leader, child = map(int, (await wait_for_file(provider.root / "mcp.pids")).split())
    if how == "cancel":
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        events = await asyncio.wait_for(task, 20)
        assert events[-1].type == "error" and events[-1].code == "mcp"
    assert not group_alive(leader, within_s=5)
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


# -- 11. secrets and prompts in the debug log ---------------------------------------------------


async def test_the_debug_log_masks_every_form_of_secret_and_hides_the_prompt(
    provider: ProviderOnFake, caplog: pytest.LogCaptureFixture
) -> None:
    extra = (
        "--config=api_key=SECRET1",
        "-cmodel_providers.x.auth_token=SECRET2",
        "-c",
        'model_providers={x={name="x", api_key="SECRET3", http_headers={Authorization="SECRET4"}}}',
        "--config",
        "env_key=SECRET5",
    )
    config = provider.with_config(extra_args=extra)
    caplog.set_level(logging.DEBUG, logger="plexum_openai_provider")
    await provider.turn("my private prompt", config=config)
    text = caplog.text
    for n in range(1, 6):
        assert f"SECRET{n}" not in text
    assert "my private prompt" not in text
    assert "17 characters" in text or "17 chars" in text


async def test_the_prompt_is_logged_when_the_operator_opts_in(
    provider: ProviderOnFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="plexum_openai_provider")
    config = provider.with_config(log_prompts=True)
    await provider.turn("my private prompt", config=config)
    assert "my private prompt" in caplog.text


# -- 12. misleading or lossy outcomes -----------------------------------------------------------


async def test_turn_completed_without_thread_started_says_so(provider: ProviderOnFake) -> None:
    binary = replay_binary(provider.root, ['{"type":"turn.started"}', COMPLETED])
    events = await provider.turn(config=provider.with_config(binary=binary))
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == "protocol"
    assert "thread.started" in end.message
    assert "no turn.completed" not in end.message


@pytest.mark.parametrize("prompt", ["", "   \n\t"], ids=["empty", "whitespace"])
async def test_an_empty_prompt_is_a_config_error_before_codex_starts(
    provider: ProviderOnFake, prompt: str
) -> None:
    events = await provider.turn(prompt)
    assert len(events) == 1 and isinstance(events[0], ErrorEvent) and events[0].code == "config"
    assert "empty" in events[0].message
    assert provider.invocations() == []


def test_a_reader_closing_says_stdout_mid_turn_gets_no_traceback(provider: ProviderOnFake) -> None:
    # Lines keep coming after the reader has gone, then codex hangs: only a cancel ends it.
    provider.scenario([{**TOOL_TURN, "faults": {"hang_after_lines": 6, "line_delay_ms": 200}}])
    config_path = provider.root / "config.json"
    body = {"binary": provider.config.binary, "codex_home": provider.config.codex_home}
    config_path.write_text(json.dumps(body))
    argv = [sys.executable, "-m", "plexum_openai_provider.cli", "say", "--json", "--no-tools"]
    argv += ["--config", str(config_path), "--workspace", str(provider.workspace()), "hi"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        proc.stdout.readline()
        proc.stdout.close()  # the reader goes away (`| head -1`)
        stderr = proc.stderr.read()
        assert proc.wait(timeout=30) != 0
    finally:
        if proc.poll() is None:  # a say that did not notice must not outlive the test
            proc.terminate()
            proc.wait(timeout=30)
        proc.stderr.close()
    assert b"Traceback" not in stderr, stderr.decode()
    assert not group_alive(provider.invocations()[0].pgid)


async def test_the_retry_after_a_lost_thread_uses_the_requested_model(
    provider: ProviderOnFake,
) -> None:
    ws = provider.workspace()
    lost = "019a0000-0000-7000-8000-0000000000aa"
    record = {"thread_id": lost, "model_arg": "old-model", "usage_total": {}}
    body = {"version": 1, "threads": {"default": record}}
    (ws / ".plexum-codex-session").write_text(json.dumps(body))
    config = provider.with_config(
        supported_models=("codex", "new"), model_args={"new": "new-model"}
    )
    events = await provider.turn(config=config, model="new")
    assert isinstance(events[-1], MessageEnd), events
    retry = provider.invocations()[-1].argv
    assert "resume" not in retry
    assert retry[retry.index("--model") + 1] == "new-model"


# -- 13. the mapper against codex 0.169-0.171's schema -----------------------------------------


async def test_a_plan_only_turn_gives_the_host_the_plan_text(provider: ProviderOnFake) -> None:
    lines = [*started(), item("plan", text="1. read\n2. write"), COMPLETED]
    events = await provider.turn(
        config=provider.with_config(binary=replay_binary(provider.root, lines))
    )
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["1. read\n2. write"]
    assert isinstance(events[-1], MessageEnd)


async def test_unknown_item_types_reach_the_host_as_typed_items(provider: ProviderOnFake) -> None:
    lines = [*started(), item("hologram", phase="started", beams=3), COMPLETED]
    events = await provider.turn(
        config=provider.with_config(binary=replay_binary(provider.root, lines))
    )
    items = [e for e in events if e.type == "item"]
    assert len(items) == 1 and items[0].kind == "hologram"
    assert items[0].detail == {"beams": 3}


async def test_a_running_collab_tool_call_pauses_the_idle_timer(provider: ProviderOnFake) -> None:
    lines = [*started(), item("collab_tool_call", phase="started", tool="wait")]
    binary = replay_binary(provider.root, lines, then="hang")
    config = provider.with_config(binary=binary, idle_timeout_s=0.5, turn_timeout_s=2.0)
    events = await provider.turn(config=config)
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == "timeout", end  # not idle_timeout


@pytest.mark.parametrize(
    ("capture", "code", "hint"),
    [
        ("err_404", "model_rejected", "model_args"),
        ("err_400", "turn_failed", None),
        ("err_400plain", "turn_failed", None),
        ("err_401", "auth", "codex login"),
    ],
    ids=["404-model-does-not-exist", "400-bad-input", "400-plain-text", "401"],
)
async def test_captured_http_failures_are_classified_by_what_the_body_says(
    provider: ProviderOnFake, capture: str, code: str, hint: str | None
) -> None:
    binary = replay_binary(provider.root, fixture_lines(capture), then="exit 1")
    events = await provider.turn(config=provider.with_config(binary=binary))
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == code, end
    if hint is not None:
        assert hint in end.message


async def test_a_400_about_input_length_mentioning_the_model_is_not_model_rejected(
    provider: ProviderOnFake,
) -> None:
    body = {
        "error": {
            "message": "Your input exceeds the context window of this model.",
            "type": "invalid_request_error",
            "param": "input",
            "code": "context_length_exceeded",
        }
    }
    message = json.dumps(body)
    lines = [
        *started(),
        json.dumps({"type": "error", "message": message}),
        json.dumps({"type": "turn.failed", "error": {"message": message}}),
    ]
    binary = replay_binary(provider.root, lines, then="exit 1")
    events = await provider.turn(config=provider.with_config(binary=binary))
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == "turn_failed", end
    assert "context window" in end.message


# -- the log line prefix ------------------------------------------------------------------------


async def test_a_skipped_malformed_line_is_logged_with_the_project_prefix(
    provider: ProviderOnFake, caplog: pytest.LogCaptureFixture
) -> None:
    lines = [*started(), "not json", COMPLETED]
    caplog.set_level(logging.WARNING)
    await provider.turn(config=provider.with_config(binary=replay_binary(provider.root, lines)))
    skipped = [r.getMessage() for r in caplog.records if "malformed codex line" in r.getMessage()]
    assert skipped and all(m.startswith("plexum-openai-provider: ") for m in skipped)


# -- more rows of the fault matrix ----------------------------------------------------------


async def test_a_binary_that_is_a_directory_is_reported_as_not_executable(
    provider: ProviderOnFake,
) -> None:
    folder = provider.root / "codex-dir"
    folder.mkdir()
    events = await provider.turn(config=provider.with_config(binary=str(folder)))
    assert len(events) == 1 and isinstance(events[0], ErrorEvent)
    assert events[0].code == "binary_not_found" and "`binary`" in events[0].message


async def test_a_100_mb_line_is_dropped_with_one_warning_and_the_turn_goes_on(
    provider: ProviderOnFake,
) -> None:
    reply = {"output": [{"type": "message", "text": "after"}]}
    provider.scenario(
        [{"requests": [reply], "faults": {"big_line": {"after_line": 2, "mib": 100}}}]
    )
    events = await provider.turn()
    warnings = [e for e in events if e.type == "warning"]
    assert len(warnings) == 1 and "byte limit" in warnings[0].message
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["after"]
    assert isinstance(events[-1], MessageEnd)


async def test_unknown_event_types_are_skipped_without_losing_the_events_around_them(
    provider: ProviderOnFake,
) -> None:
    lines = [
        *started(),
        '{"type":"thread.hologram","beams":3}',
        item("agent_message", text="kept"),
        '{"type":"turn.rewound"}',
        COMPLETED,
    ]
    binary = replay_binary(provider.root, lines)
    events = await provider.turn(config=provider.with_config(binary=binary))
    assert types(events) == ["text_delta", "message_end"]


async def test_a_path_like_thread_id_from_codex_is_never_stored(provider: ProviderOnFake) -> None:
    lines = [*started("../../../etc/passwd"), item("agent_message", text="hi"), COMPLETED]
    binary = replay_binary(provider.root, lines)
    events = await provider.turn(config=provider.with_config(binary=binary))
    assert events[-1].type in ("message_end", "error")
    assert any("not a plain id" in getattr(e, "message", "") for e in events)
    session = provider.workspace() / ".plexum-codex-session"
    assert not session.exists() or "passwd" not in session.read_text()


@pytest.mark.parametrize(
    "agent",
    ["../../etc/x", 'a"b\nc=d', "x" * 1000, "агент/один", "-c model=evil"],
    ids=["traversal", "quotes-newline", "1000-chars", "unicode-slash", "option-like"],
)
async def test_hostile_agent_ids_get_a_safe_socket_and_working_tools(
    provider: ProviderOnFake, agent: str
) -> None:
    from plexum_openai_provider.bridge.names import namespace, server_name

    call = {
        "type": "function_call",
        "namespace": namespace(server_name(agent)),
        "name": "echo",
        "arguments": {"text": "safe"},
        "call_id": "call_h1",
    }
    provider.scenario(
        [{"requests": [{"output": [call]}, {"output": [{"type": "message", "text": "ok"}]}]}]
    )
    sockets = provider.root / "sock"
    config = provider.with_config(socket_dir=str(sockets))
    request = TurnRequest(
        prompt="hi",
        workspace=provider.workspace(),
        agent_id=agent,
        tools=(ECHO,),
        call_tool=echo_tool,
    )
    events = await run_turn(config, request, FAST_LIMITS)
    assert isinstance(events[-1], MessageEnd), events[-1]
    assert [e.block_id for e in events if isinstance(e, ToolCall)] == ["call_h1"]
    made = [p for p in provider.root.rglob("*") if p.name.endswith((".sock", ".sock.lock"))]
    assert made and all(p.parent == sockets for p in made), made
    argv = provider.invocations()[-1].argv
    assert "model=evil" not in " ".join(argv[: argv.index("--")]).replace(agent, "")


@pytest.mark.parametrize("planted", ["fifo", "huge", "symlink"])
async def test_a_session_file_that_is_not_a_sane_regular_file_is_a_clear_error(
    provider: ProviderOnFake, planted: str
) -> None:
    ws = provider.workspace()
    session = ws / ".plexum-codex-session"
    if planted == "fifo":
        os.mkfifo(session)  # reading it would block the turn forever
    elif planted == "huge":
        with open(session, "wb") as f:
            f.truncate(17 * 1024 * 1024)
    else:
        target = provider.root / "secret.txt"
        target.write_text('{"version": 1, "threads": {}}')
        session.symlink_to(target)
    events = await asyncio.wait_for(provider.turn(), 30)
    assert len(events) == 1 and isinstance(events[0], ErrorEvent), events
    assert events[0].code == "session_store"
    assert provider.invocations() == []


async def test_a_symlink_planted_at_the_lock_path_is_not_followed(provider: ProviderOnFake) -> None:
    ws = provider.workspace()
    target = provider.root / "elsewhere.txt"
    target.write_text("keep me")
    (ws / ".plexum-codex-session.lock").symlink_to(target)
    events = await provider.turn()
    assert len(events) == 1 and isinstance(events[0], ErrorEvent)
    assert events[0].code == "session_store" and "lock" in events[0].message
    assert target.read_text() == "keep me"


async def test_a_model_the_config_does_not_allow_never_reaches_codex_from_the_session_file(
    provider: ProviderOnFake,
) -> None:
    # codex runs sandbox-bypassed: the model can rewrite the session file in its workspace.
    provider.scenario([tool_turn("call_first"), tool_turn("call_second")])
    ws = provider.workspace()
    await provider.turn()
    body = session_file(ws)
    body["threads"]["default"]["model_arg"] = "o1-pro"
    (ws / ".plexum-codex-session").write_text(json.dumps(body))
    events = await provider.turn("again")
    assert isinstance(events[-1], MessageEnd), events
    argv = provider.invocations()[-1].argv
    assert "o1-pro" not in argv and "--model" not in argv[: argv.index("--")]
    warnings = [e.message for e in events if e.type == "warning"]  # type: ignore[union-attr]
    assert any("o1-pro" in w and "not one config.json allows" in w for w in warnings), warnings
    # The thread goes on (resumed), and the file now holds what the config allows.
    assert "resume" in argv
    assert session_file(ws)["threads"]["default"]["model_arg"] is None
