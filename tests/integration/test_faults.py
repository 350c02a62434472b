"""Every codex misbehaviour the fake can stage, seen from the host's side."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat

import pytest

from plexum_openai_provider.events import ErrorEvent, MessageEnd, TextDelta
from plexum_openai_provider.turn import TurnLimits, TurnRequest, open_turn

from .conftest import FAST_LIMITS, ProviderOnFake, group_alive, types

TWO_MESSAGES = {
    "requests": [
        {
            "output": [
                {"type": "reasoning", "summary": ["thinking"]},
                {"type": "message", "text": "first"},
                {"type": "message", "text": "second"},
            ],
            "usage": {"input_tokens": 3, "output_tokens": 2},
        }
    ]
}


def with_faults(**faults: object) -> dict[str, object]:
    return {**TWO_MESSAGES, "faults": faults}


def texts(events: list) -> list[str]:  # type: ignore[type-arg]
    return [e.text for e in events if isinstance(e, TextDelta)]


async def test_garbage_and_invalid_utf8_lines_lose_no_event(provider: ProviderOnFake) -> None:
    provider.scenario(
        [
            with_faults(
                garbage=[
                    {"after_line": 1, "text": "not json at all"},
                    {"after_line": 2, "hex": "ff fe 80"},
                    {"after_line": 3, "text": "[1, 2]"},
                ]
            )
        ]
    )
    events = await provider.turn()
    assert texts(events) == ["first", "second"]
    assert types(events) == ["reasoning", "text_delta", "text_delta", "message_end"]


async def test_writes_split_at_arbitrary_bytes_give_the_same_events(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([TWO_MESSAGES, with_faults(split_writes=3)])
    whole = await provider.turn(session="a")
    split = await provider.turn(session="b")
    assert types(whole) == types(split)
    assert texts(whole) == texts(split)


async def test_a_missing_final_newline_still_ends_the_turn(provider: ProviderOnFake) -> None:
    provider.scenario([with_faults(no_final_newline=True)])
    events = await provider.turn()
    assert isinstance(events[-1], MessageEnd)


async def test_a_multi_mebibyte_line_is_delivered(provider: ProviderOnFake) -> None:
    provider.scenario([with_faults(big_line={"after_line": 2, "mib": 2})])
    events = await provider.turn()
    big = [e for e in events if e.type == "item"]
    assert big and len(big[0].detail["aggregated_output"]) >= 2 * 1024 * 1024  # type: ignore[union-attr]
    assert isinstance(events[-1], MessageEnd)


async def test_a_line_over_the_limit_is_dropped_with_one_warning(provider: ProviderOnFake) -> None:
    provider.scenario([with_faults(big_line={"after_line": 2, "mib": 2})])
    limits = TurnLimits(max_line_bytes=1024 * 1024, kill_grace_s=0.5)
    events = await provider.turn(limits=limits)
    warnings = [e for e in events if e.type == "warning"]
    assert len(warnings) == 1 and "byte limit" in warnings[0].message  # type: ignore[union-attr]
    assert texts(events) == ["first", "second"]
    assert isinstance(events[-1], MessageEnd)


async def test_a_crash_without_a_terminal_event_reports_exit_code_and_stderr(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([with_faults(crash_after_lines=3, exit_code=101)])
    events = await provider.turn()
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == "exit"
    assert "exited with code 101" in end.message
    assert "stderr" in end.message


async def test_turn_failed_is_an_error_even_with_exit_code_zero(provider: ProviderOnFake) -> None:
    provider.scenario(
        [{"requests": [{"http_status": 500, "body": "boom"}], "faults": {"exit_code": 0}}]
    )
    events = await provider.turn(
        config=provider.with_config(
            extra_args=(
                "-c",
                "model_providers.mock.stream_max_retries=0",
                "-c",
                "model_providers.mock.request_max_retries=0",
                "-c",
                "model_provider=mock",
            )
        )
    )
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == "turn_failed"
    assert "high demand" in end.message
    assert types(events).count("error") == 1


async def test_error_lines_on_stderr_are_not_failures(provider: ProviderOnFake) -> None:
    provider.scenario([with_faults(stderr="ERROR codex_skills_extension: failed to install\n")])
    assert isinstance((await provider.turn())[-1], MessageEnd)


async def test_cancel_mid_stream_stops_codex_and_ends_with_cancelled(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([with_faults(hang_after_lines=3)])
    request = TurnRequest(prompt="x", workspace=provider.workspace())
    seen: list[str] = []
    async with open_turn(provider.config, request, FAST_LIMITS) as turn:
        async for event in turn:
            seen.append(event.type)
            if event.type == "reasoning":
                turn.cancel()
    assert seen[-1] == "error" and seen.count("error") == 1
    pgid = provider.invocations()[0].pgid
    assert not group_alive(pgid)


async def test_leaving_the_context_early_kills_codex(provider: ProviderOnFake) -> None:
    provider.scenario([with_faults(hang_after_lines=3)])
    request = TurnRequest(prompt="x", workspace=provider.workspace())
    async with open_turn(provider.config, request, FAST_LIMITS) as turn:
        async for event in turn:
            if event.type == "reasoning":
                break
    assert not group_alive(provider.invocations()[0].pgid)


async def test_total_timeout_ends_the_turn(provider: ProviderOnFake) -> None:
    provider.scenario([with_faults(hang_after_lines=2)])
    events = await provider.turn(config=provider.with_config(turn_timeout_s=1.0))
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == "timeout"
    assert "turn_timeout_s" in end.message


async def test_idle_timeout_ends_a_silent_turn(provider: ProviderOnFake) -> None:
    provider.scenario([with_faults(hang_after_lines=2)])
    events = await provider.turn(config=provider.with_config(idle_timeout_s=0.5))
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == "idle_timeout"


async def test_idle_timer_pauses_while_a_command_runs(provider: ProviderOnFake) -> None:
    provider.scenario(
        [
            {
                "requests": [
                    {
                        "output": [
                            {
                                "type": "function_call",
                                "name": "exec_command",
                                "arguments": {"cmd": "sleep 1.5; echo done"},
                                "call_id": "call_1",
                            }
                        ]
                    },
                    {"output": [{"type": "message", "text": "ran it"}]},
                ]
            }
        ]
    )
    events = await provider.turn(config=provider.with_config(idle_timeout_s=0.7))
    assert isinstance(events[-1], MessageEnd), events[-1]
    assert texts(events) == ["ran it"]


async def test_a_child_ignoring_sigterm_is_killed(provider: ProviderOnFake) -> None:
    provider.scenario([with_faults(hang_after_lines=2, ignore_sigterm=True)])
    # 2 s of silence: long enough for a loaded machine to start the fake (it logs its pgid at
    # start), short enough to reach the hang it was told to do.
    events = await provider.turn(config=provider.with_config(idle_timeout_s=2.0))
    assert events[-1] == ErrorEvent("idle_timeout", events[-1].message)  # type: ignore[union-attr]
    assert not group_alive(provider.invocations()[0].pgid)


async def test_a_grandchild_left_behind_is_reaped(provider: ProviderOnFake) -> None:
    provider.scenario([with_faults(grandchild=True)])
    events = await provider.turn()
    assert isinstance(events[-1], MessageEnd)
    assert not group_alive(provider.invocations()[0].pgid)


async def test_a_missing_binary_names_the_config_key_and_the_path_trap(
    provider: ProviderOnFake,
) -> None:
    events = await provider.turn(config=provider.with_config(binary="/nonexistent/codex"))
    assert len(events) == 1
    end = events[0]
    assert isinstance(end, ErrorEvent) and end.code == "binary_not_found"
    assert "`binary`" in end.message and "systemd" in end.message


async def test_a_binary_that_is_not_executable_is_reported(provider: ProviderOnFake) -> None:
    path = provider.root / "codex-noexec"
    shutil.copy(provider.config.binary, path)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    # execve refuses a file with no execute bit at all, even to root.
    events = await provider.turn(config=provider.with_config(binary=str(path)))
    assert isinstance(events[0], ErrorEvent) and events[0].code == "binary_not_found"


async def test_an_unsupported_model_is_a_config_error(provider: ProviderOnFake) -> None:
    events = await provider.turn(model="o3")
    assert len(events) == 1 and isinstance(events[0], ErrorEvent)
    assert events[0].code == "config" and "codex" in events[0].message


async def test_cancel_while_waiting_for_the_workspace_lock(provider: ProviderOnFake) -> None:
    provider.scenario([with_faults(hang_after_lines=2)])
    ws = provider.workspace()
    first = asyncio.create_task(provider.turn(config=provider.with_config(idle_timeout_s=2)))
    while not provider.invocations() and not (ws / ".plexum-codex-session").exists():
        await asyncio.sleep(0.02)
    request = TurnRequest(prompt="y", workspace=ws)
    async with open_turn(provider.config, request, FAST_LIMITS) as turn:
        turn.cancel()
        events = [e async for e in turn]
    assert len(events) == 1 and events[0].code == "cancelled"  # type: ignore[union-attr]
    assert "waiting for another turn" in events[0].message  # type: ignore[union-attr]
    await first


async def test_a_session_file_that_cannot_be_written_costs_a_warning_not_the_turn(
    provider: ProviderOnFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(self: object, session_id: str, record: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("plexum_openai_provider.sessions.SessionStore.put", disk_full)
    events = await provider.turn()
    assert isinstance(events[-1], MessageEnd)
    warnings = [e for e in events if e.type == "warning"]
    assert warnings and "No space left on device" in warnings[0].message  # type: ignore[union-attr]


async def test_an_unreadable_session_file_is_a_clear_error(provider: ProviderOnFake) -> None:
    (provider.workspace() / ".plexum-codex-session").mkdir()
    events = await provider.turn()
    assert len(events) == 1 and isinstance(events[0], ErrorEvent)
    assert events[0].code == "session_store" and ".plexum-codex-session" in events[0].message
