"""One turn against the fake codex: events, session continuity, prompts, usage."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plexum_openai_provider.codex.argv import BASE_FLAGS
from plexum_openai_provider.events import MessageEnd, TextDelta, Usage
from plexum_openai_provider.sessions import SESSION_FILE, SessionStore

from .conftest import ProviderOnFake, types

PLAIN = {
    "requests": [
        {
            "output": [{"type": "message", "text": "hi there"}],
            "usage": {"input_tokens": 12, "output_tokens": 5},
        }
    ]
}


async def test_a_turn_yields_text_then_message_end_with_usage(provider: ProviderOnFake) -> None:
    provider.scenario([PLAIN])
    events = await provider.turn("hello")
    assert types(events) == ["text_delta", "message_end"]
    assert events[0] == TextDelta("hi there")
    end = events[-1]
    assert isinstance(end, MessageEnd)
    assert end.usage == Usage(input_tokens=12, output_tokens=5)
    assert end.thread_usage == end.usage
    stored = SessionStore(provider.workspace()).get("default")
    assert stored is not None and stored.thread_id == end.thread_id


async def test_the_same_session_resumes_its_thread_and_reports_per_turn_usage(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([PLAIN, PLAIN, PLAIN])
    first, second, third = [await provider.turn(f"turn {i}") for i in range(3)]
    ends = [e[-1] for e in (first, second, third)]
    assert all(isinstance(e, MessageEnd) for e in ends)
    assert len({e.thread_id for e in ends}) == 1  # type: ignore[union-attr]
    assert [e.usage.input_tokens for e in ends] == [12, 12, 12]  # type: ignore[union-attr]
    assert [e.thread_usage.input_tokens for e in ends] == [12, 24, 36]  # type: ignore[union-attr]
    argvs = [inv.argv for inv in provider.invocations()]
    assert "resume" not in argvs[0]
    assert argvs[1][argvs[1].index("--") + 1] == ends[0].thread_id  # type: ignore[union-attr]


async def test_a_new_session_starts_a_new_thread(provider: ProviderOnFake) -> None:
    provider.scenario([PLAIN, PLAIN])
    a = (await provider.turn(session="a"))[-1]
    b = (await provider.turn(session="b"))[-1]
    assert isinstance(a, MessageEnd) and isinstance(b, MessageEnd)
    assert a.thread_id != b.thread_id
    assert b.usage == b.thread_usage
    assert set(SessionStore(provider.workspace()).load()) == {"a", "b"}


async def test_with_no_scenario_the_fake_quotes_the_prompt(provider: ProviderOnFake) -> None:
    events = await provider.turn("what is 2+2?")
    assert types(events) == ["text_delta", "message_end"]
    assert "what is 2+2?" in events[0].text  # type: ignore[union-attr]


async def test_prompts_that_look_like_flags_or_are_huge_reach_codex_intact(
    provider: ProviderOnFake,
) -> None:
    prompts = ["--help", "-m x", "-", "--", "a\nb", "x" * (200 * 1024), "héllo \u2603 \U0001f600"]
    for index, prompt in enumerate(prompts):
        events = await provider.turn(prompt, session=f"s{index}")
        assert events[-1].type == "message_end", events[-1]
    for prompt, invocation in zip(prompts, provider.invocations(), strict=True):
        assert invocation.stdin == prompt
        assert prompt not in invocation.argv[1:] or prompt in ("-", "--")
        assert invocation.argv[-2:] == ["--", "-"]


async def test_a_legacy_plain_text_session_file_is_resumed(provider: ProviderOnFake) -> None:
    provider.scenario([PLAIN, PLAIN])
    ws = provider.workspace()
    first = (await provider.turn(session="default"))[-1]
    assert isinstance(first, MessageEnd)
    (ws / SESSION_FILE).write_text(first.thread_id + "\n")  # what the Go plugin wrote
    second = (await provider.turn(session="default"))[-1]
    assert isinstance(second, MessageEnd) and second.thread_id == first.thread_id
    assert json.loads((ws / SESSION_FILE).read_text())["version"] == 1


async def test_a_thread_codex_no_longer_has_starts_fresh_with_one_warning(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([PLAIN])
    ws = provider.workspace()
    gone = "01a200d5-7643-79c3-937e-c20948695ecb"
    (ws / SESSION_FILE).write_text(gone)
    events = await provider.turn()
    assert types(events) == ["warning", "text_delta", "message_end"]
    assert gone in events[0].message and "new thread" in events[0].message  # type: ignore[union-attr]
    end = events[-1]
    assert isinstance(end, MessageEnd) and end.thread_id != gone
    assert SessionStore(ws).get("default").thread_id == end.thread_id  # type: ignore[union-attr]


async def test_resume_answered_with_another_thread_is_reported_and_adopted(
    provider: ProviderOnFake,
) -> None:
    provider.scenario([PLAIN])
    ws = provider.workspace()
    (ws / SESSION_FILE).write_text("my-named-thread")  # not a UUID: codex silently starts anew
    events = await provider.turn()
    assert events[0].type == "warning" and "instead of resuming" in events[0].message  # type: ignore[union-attr]
    end = events[-1]
    assert isinstance(end, MessageEnd)
    assert end.usage == end.thread_usage
    assert SessionStore(ws).get("default").thread_id == end.thread_id  # type: ignore[union-attr]


async def test_a_session_keeps_the_model_its_thread_started_with(provider: ProviderOnFake) -> None:
    provider.scenario([PLAIN, PLAIN])
    config = provider.with_config(supported_models=("codex", "gpt"), model_args={"gpt": "gpt-5.5"})
    await provider.turn(config=config, model="gpt")
    events = await provider.turn(config=config, model="codex")
    assert events[0].type == "warning" and "gpt-5.5" in events[0].message  # type: ignore[union-attr]
    argv = provider.invocations()[1].argv
    assert argv[argv.index("--model") + 1] == "gpt-5.5"


async def test_sixteen_concurrent_turns_on_different_workspaces(provider: ProviderOnFake) -> None:
    results = await asyncio.gather(
        *(provider.turn(f"p{i}", workspace=provider.workspace(f"ws{i}")) for i in range(16))
    )
    assert all(r[-1].type == "message_end" for r in results)
    assert len({r[-1].thread_id for r in results}) == 16  # type: ignore[union-attr]
    for i, events in enumerate(results):
        assert f"p{i}" in events[0].text  # type: ignore[union-attr]


async def test_two_turns_on_one_workspace_run_one_after_the_other(provider: ProviderOnFake) -> None:
    provider.scenario([{**PLAIN, "faults": {"line_delay_ms": 100}}, PLAIN])
    a, b = await asyncio.gather(provider.turn("one"), provider.turn("two"))
    assert a[-1].type == b[-1].type == "message_end"
    assert a[-1].thread_id == b[-1].thread_id  # type: ignore[union-attr]
    first, second = provider.invocations()
    assert "resume" not in first.argv and "resume" in second.argv


async def test_nothing_secret_reaches_logs_or_events(
    provider: ProviderOnFake, caplog: pytest.LogCaptureFixture
) -> None:
    provider.monkeypatch.setenv("OPENAI_API_KEY", "sk-env-secret-123")
    config = provider.with_config(extra_args=("-c", "model_providers.x.api_key=sk-argv-secret-456"))
    with caplog.at_level(logging.DEBUG, logger="plexum_openai_provider"):
        events = await provider.turn("my private prompt", config=config)
    assert events[-1].type == "message_end"
    text = caplog.text + json.dumps([e.to_json() for e in events])
    assert "sk-env-secret-123" not in text and "sk-argv-secret-456" not in text
    # The prompt itself stays out of the log (`log_prompts` opts in); its length is there.
    assert "my private prompt" not in caplog.text
    prompt_records = [r for r in caplog.records if "17 characters" in r.getMessage()]
    assert prompt_records and all(r.levelno == logging.DEBUG for r in prompt_records)


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompt=st.text(min_size=1, max_size=300).filter(lambda p: p.strip() not in ("",)))
def test_any_prompt_reaches_codex_on_stdin_and_never_in_argv(
    provider: ProviderOnFake, prompt: str
) -> None:
    events = asyncio.run(provider.turn(prompt, session=f"s{abs(hash(prompt))}"))
    assert events[-1].type == "message_end", events[-1]
    invocation = provider.invocations()[-1]
    assert invocation.stdin == prompt
    # A new session: the whole argv is fixed, so the prompt cannot be in it.
    assert invocation.argv[1:] == ["exec", *BASE_FLAGS, "--", "-"]


async def test_sandbox_and_cd_options_in_extra_args_work_on_resumed_turns(
    provider: ProviderOnFake,
) -> None:
    """codex rejects `-s`/`-C` after `resume` (exit 2); the runner puts them before it."""
    provider.scenario([PLAIN, PLAIN])
    ws = provider.workspace()
    config = provider.with_config(extra_args=("-s", "danger-full-access", "-C", str(ws)))
    first = await provider.turn(config=config)
    second = await provider.turn(config=config)
    assert first[-1].type == second[-1].type == "message_end", second[-1]
    assert first[-1].thread_id == second[-1].thread_id  # type: ignore[union-attr]
