"""TurnMapper (turn/exec/mapper.py) and classify_failure (turn/failures.py), over the real codex
captures and generated streams."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from plexum_openai_provider.codex.exec_stream import (
    ExecEvent,
    ItemEvent,
    MalformedLine,
    StreamError,
    ThreadStarted,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    UnknownEvent,
    parse_exec_line,
)
from plexum_openai_provider.events import (
    CanonicalEvent,
    Item,
    Reasoning,
    TextDelta,
    Usage,
    WarningEvent,
)
from plexum_openai_provider.jsonrpc.framing import LineFramer, OversizedLine
from plexum_openai_provider.turn.exec.mapper import Completed, Failed, TurnMapper
from plexum_openai_provider.turn.failures import MODEL_HINT, classify_failure

FIXTURES = Path(__file__).parents[2] / "fixtures"
CAPTURES = sorted(FIXTURES.glob("*.stdout.jsonl"))
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Run:
    exec_events: list[ExecEvent]
    events: list[CanonicalEvent]
    mapper: TurnMapper


def run(data: bytes, cuts: Sequence[int] = (), previous_total: Usage | None = None) -> Run:
    """Bytes → framer → parser → mapper, cutting the stream at `cuts`."""
    framer = LineFramer()
    mapper = TurnMapper(previous_total=previous_total or Usage())
    exec_events: list[ExecEvent] = []
    events: list[CanonicalEvent] = []

    def take(lines: list[bytes | OversizedLine]) -> None:
        for line in lines:
            ev = (
                parse_exec_line(line) if isinstance(line, bytes) else MalformedLine("oversized", "")
            )
            exec_events.append(ev)
            events.extend(mapper.feed(ev))

    prev = 0
    for cut in [*sorted({c for c in cuts if c <= len(data)}), len(data)]:
        take(framer.feed(data[prev:cut]))
        prev = cut
    take(framer.finish())
    events.extend(mapper.finish())
    return Run(exec_events, events, mapper)


def feed_all(mapper: TurnMapper, *evs: ExecEvent) -> list[CanonicalEvent]:
    return [out for ev in evs for out in mapper.feed(ev)]


def normalise(value: Any, ids: dict[str, str]) -> Any:
    """Replace thread UUIDs by `<thread:N>` in order of first appearance."""
    if isinstance(value, str):
        return UUID.sub(lambda m: ids.setdefault(m[0], f"<thread:{len(ids) + 1}>"), value)
    if isinstance(value, dict):
        return {k: normalise(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, ids) for v in value]
    return value


def outcome_json(mapper: TurnMapper) -> dict[str, Any] | None:
    outcome = mapper.outcome
    if isinstance(outcome, Completed):
        return {
            "kind": "completed",
            "thread_usage": outcome.thread_usage.to_json(),
            "turn_usage": outcome.turn_usage.to_json(),
        }
    if isinstance(outcome, Failed):
        code, message = classify_failure(outcome.message)
        return {"kind": "failed", "message": outcome.message, "code": code, "user_message": message}
    return None


@pytest.mark.parametrize("capture", CAPTURES, ids=[p.name.split(".")[0] for p in CAPTURES])
def test_captured_streams_map_to_the_expected_events(
    capture: Path, snapshot: SnapshotAssertion
) -> None:
    result = run(capture.read_bytes())
    ids: dict[str, str] = {}
    view = {
        "exec_events": [
            {"event": type(ev).__name__, **dataclasses.asdict(ev)} for ev in result.exec_events
        ],
        "thread_id": result.mapper.thread_id,
        "events": [ev.to_json() for ev in result.events],
        "outcome": outcome_json(result.mapper),
        "busy_at_end": result.mapper.busy,
    }
    assert normalise(view, ids) == snapshot.use_extension(JSONSnapshotExtension)


# --- properties over whole streams ------------------------------------------------------------

captures = st.sampled_from(CAPTURES).map(lambda p: p.read_bytes())
garbage = (
    st.binary(max_size=60)
    .map(lambda b: b.replace(b"\n", b""))
    .filter(lambda b: isinstance(parse_exec_line(b), MalformedLine | UnknownEvent))
)


def observable(r: Run) -> tuple[Any, ...]:
    return ([e.to_json() for e in r.events], r.mapper.outcome, r.mapper.thread_id, r.mapper.busy)


@given(data=captures, cuts=st.lists(st.integers(0, 1500), max_size=40))
def test_events_do_not_depend_on_how_the_stream_is_chunked(data: bytes, cuts: list[int]) -> None:
    whole = run(data)
    chunked = run(data, cuts)
    assert chunked.exec_events == whole.exec_events
    assert observable(chunked) == observable(whole)


@given(data=captures, junk=st.lists(st.tuples(st.integers(0, 20), garbage), max_size=8))
def test_garbage_lines_anywhere_never_drop_or_change_a_valid_event(
    data: bytes, junk: list[tuple[int, bytes]]
) -> None:
    lines = data.splitlines()
    noisy = list(lines)
    for pos, bad in sorted(junk, reverse=True):
        noisy.insert(min(pos, len(noisy)), bad)
    clean = run(b"".join(x + b"\n" for x in lines))
    dirty = run(b"".join(x + b"\n" for x in noisy))
    kept = [e for e in dirty.exec_events if not isinstance(e, MalformedLine | UnknownEvent)]
    assert kept == clean.exec_events
    assert observable(dirty) == observable(clean)


def test_an_oversized_line_between_events_is_skipped_and_the_turn_still_completes() -> None:
    lines = (FIXTURES / "basic.stdout.jsonl").read_bytes().splitlines()
    framer = LineFramer(max_line_bytes=200)
    stream = b"\n".join(
        [lines[0], lines[1], b'{"type":"x","pad":"' + b"p" * 500 + b'"}', *lines[2:]]
    )
    framed = framer.feed(stream + b"\n") + framer.finish()
    assert [type(x) for x in framed] == [bytes, bytes, OversizedLine, bytes, bytes]
    mapper = TurnMapper(previous_total=Usage())
    out = [e for x in framed if isinstance(x, bytes) for e in mapper.feed(parse_exec_line(x))]
    assert out == [TextDelta("Hello from fake model")]
    assert isinstance(mapper.outcome, Completed)


# --- the mapper's rules, one by one ---------------------------------------------------------------


def test_each_completed_agent_message_becomes_one_text_delta_and_reasoning_is_kept() -> None:
    result = run((FIXTURES / "streaming_two_messages.stdout.jsonl").read_bytes())
    assert result.events == [
        Reasoning("Thinking hard"),
        TextDelta("Hello"),
        TextDelta("Second message"),
    ]


def test_web_search_started_and_completed_share_the_first_item_id() -> None:
    result = run((FIXTURES / "tools_gpt55.stdout.jsonl").read_bytes())
    searches = [e for e in result.events if isinstance(e, Item) and e.kind == "web_search"]
    assert [(e.phase, e.item_id) for e in searches] == [
        ("started", "item_3"),
        ("completed", "item_3"),
    ]
    assert searches[0].detail["provider_id"] == "ws_1"


def test_error_items_become_warnings() -> None:
    result = run((FIXTURES / "resume_model_switch_compaction.stdout.jsonl").read_bytes())
    assert isinstance(result.events[0], WarningEvent)
    assert result.events[0].message.startswith("This session was recorded with model")


def test_a_fatal_error_printed_before_turn_failed_is_reported_once_as_the_outcome() -> None:
    result = run((FIXTURES / "err_401.stdout.jsonl").read_bytes())
    assert result.events == []
    assert isinstance(result.mapper.outcome, Failed)
    assert result.mapper.outcome.message.startswith("unexpected status 401 Unauthorized")


def test_reconnect_notices_pass_through_as_warnings_at_once() -> None:
    mapper = TurnMapper(previous_total=Usage())
    notice = "Reconnecting... 1/5 (We’re currently experiencing high demand)"
    assert mapper.feed(StreamError(notice)) == [WarningEvent(notice)]


def test_retries_then_failure_give_five_warnings_and_one_failure() -> None:
    result = run((FIXTURES / "err_500_defaultretries.stdout.jsonl").read_bytes())
    assert [e.type for e in result.events] == ["warning"] * 5
    assert isinstance(result.mapper.outcome, Failed)


def test_a_held_error_not_followed_by_turn_failed_is_emitted_before_the_next_output() -> None:
    mapper = TurnMapper(previous_total=Usage())
    assert mapper.feed(StreamError("something odd")) == []
    item = ItemEvent("completed", "item_0", "agent_message", {"text": "hi"})
    assert mapper.feed(item) == [WarningEvent("something odd"), TextDelta("hi")]


def test_a_held_error_followed_by_a_different_failure_is_kept_as_a_warning() -> None:
    mapper = TurnMapper(previous_total=Usage())
    out = feed_all(mapper, StreamError("first"), TurnFailed("second"))
    assert out == [WarningEvent("first")]
    assert mapper.outcome == Failed("second")


def test_a_held_error_is_flushed_at_end_of_stream() -> None:
    mapper = TurnMapper(previous_total=Usage())
    assert mapper.feed(StreamError("codex died")) == []
    assert mapper.finish() == [WarningEvent("codex died")]
    assert mapper.finish() == []


def test_malformed_and_unknown_lines_do_not_release_a_held_error() -> None:
    mapper = TurnMapper(previous_total=Usage())
    out = feed_all(
        mapper,
        StreamError("fatal"),
        MalformedLine("not JSON", "garbage"),
        UnknownEvent("item.plan.delta"),
        TurnFailed("fatal"),
    )
    assert out == []
    assert mapper.outcome == Failed("fatal")


def test_usage_of_a_resumed_turn_is_the_difference_of_thread_totals() -> None:
    first = run((FIXTURES / "resume_turn1.stdout.jsonl").read_bytes())
    assert isinstance(first.mapper.outcome, Completed)
    total = first.mapper.outcome.thread_usage
    second = run((FIXTURES / "resume_turn2.stdout.jsonl").read_bytes(), previous_total=total)
    assert second.mapper.thread_id == first.mapper.thread_id
    assert second.mapper.outcome == Completed(
        thread_usage=Usage(36, 9, 0, 15, 3), turn_usage=Usage(12, 3, 0, 5, 1)
    )


def test_busy_is_true_only_while_a_command_or_mcp_call_runs() -> None:
    mapper = TurnMapper(previous_total=Usage())
    seen = []
    for line in (FIXTURES / "mcp_flow_gpt55.stdout.jsonl").read_bytes().splitlines():
        ev = parse_exec_line(line)
        mapper.feed(ev)
        label = f"{ev.phase} {ev.item_type}" if isinstance(ev, ItemEvent) else type(ev).__name__
        seen.append((label, mapper.busy))
    assert seen == [
        ("ThreadStarted", False),
        ("TurnStarted", False),
        ("started command_execution", True),
        ("completed command_execution", False),
        ("started mcp_tool_call", True),
        ("completed mcp_tool_call", False),
        ("completed agent_message", False),
        ("TurnCompleted", False),
    ]


def test_file_changes_and_web_searches_do_not_make_the_turn_busy() -> None:
    mapper = TurnMapper(previous_total=Usage())
    mapper.feed(ItemEvent("started", "item_0", "file_change", {}))
    mapper.feed(ItemEvent("started", "item_1", "web_search", {}))
    assert not mapper.busy


def test_a_command_never_reported_completed_stops_counting_once_the_turn_ends() -> None:
    # v135 resume_turn1: item.started for a command, no item.completed, then turn.completed.
    result = run((FIXTURES / "v135_resume_turn1.stdout.jsonl").read_bytes())
    assert isinstance(result.mapper.outcome, Completed)
    assert not result.mapper.busy


def test_events_after_the_outcome_are_ignored() -> None:
    mapper = TurnMapper(previous_total=Usage())
    feed_all(mapper, ThreadStarted("t"), TurnStarted(), TurnCompleted({"input_tokens": 5}))
    late = ItemEvent("completed", "item_9", "agent_message", {"text": "late"})
    assert feed_all(mapper, late, TurnFailed("late"), StreamError("late")) == []
    assert mapper.finish() == []
    assert mapper.outcome == Completed(Usage(input_tokens=5), Usage(input_tokens=5))


def test_the_mapper_never_emits_terminal_events() -> None:
    for capture in CAPTURES:
        assert all(e.type not in ("message_end", "error") for e in run(capture.read_bytes()).events)


def test_unknown_item_types_reach_the_host_as_typed_items() -> None:
    mapper = TurnMapper(previous_total=Usage())
    out = mapper.feed(ItemEvent("updated", "item_3", "hologram", {"beams": 2}))
    assert out == [Item("updated", "item_3", "hologram", {"beams": 2})]
    assert not mapper.busy


def test_a_running_collab_tool_call_makes_the_turn_busy() -> None:
    mapper = TurnMapper(previous_total=Usage())
    mapper.feed(ItemEvent("started", "item_1", "collab_tool_call", {"tool": "wait"}))
    assert mapper.busy
    mapper.feed(ItemEvent("completed", "item_1", "collab_tool_call", {"tool": "wait"}))
    assert not mapper.busy


def test_a_plan_is_the_answer_only_when_the_model_wrote_no_message() -> None:
    plan_only = TurnMapper(previous_total=Usage())
    plan_only.feed(ItemEvent("completed", "item_0", "plan", {"text": "1. a"}))
    assert plan_only.feed(TurnCompleted({"input_tokens": 1})) == [TextDelta("1. a")]
    both = TurnMapper(previous_total=Usage())
    both.feed(ItemEvent("completed", "item_0", "plan", {"text": "1. a"}))
    both.feed(ItemEvent("completed", "item_1", "agent_message", {"text": "done"}))
    assert both.feed(TurnCompleted({"input_tokens": 1})) == []


def test_a_404_saying_the_model_does_not_exist_names_the_config_keys() -> None:
    code, message = classify_failure(failure_text("err_404.stdout.jsonl"))
    assert code == "model_rejected"
    assert "The model `foo` does not exist" in message and "`model_args`" in message


def test_a_400_about_the_context_window_of_this_model_is_not_a_model_rejection() -> None:
    body = (
        '{"error": {"message": "Your input exceeds the context window of this model.", '
        '"type": "invalid_request_error", "param": "input", "code": "context_length_exceeded"}}'
    )
    code, message = classify_failure(body)
    assert code == "turn_failed" and "HTTP 400" in message and "supported_models" not in message


def test_malformed_lines_are_logged_as_warnings(caplog: pytest.LogCaptureFixture) -> None:
    mapper = TurnMapper(previous_total=Usage())
    with caplog.at_level(logging.WARNING, logger="plexum_openai_provider.turn.exec.mapper"):
        assert mapper.feed(parse_exec_line(b"\x1b[200~noise")) == []
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_a_turn_that_never_ends_has_no_outcome() -> None:
    result = run((FIXTURES / "err_conn_refused.stdout.jsonl").read_bytes())
    assert result.mapper.outcome is None
    assert [e.type for e in result.events] == ["warning"] * 3


LOGGER = "plexum_openai_provider.turn.exec.mapper"
LATE = ItemEvent("completed", "item_9", "agent_message", {"text": "late"})


@pytest.mark.parametrize(
    ("events", "logged"),
    [
        (
            [TurnFailed("boom"), LATE],
            [(logging.DEBUG, f"ignoring exec event after the turn ended: {LATE!r}")],
        ),
        (
            [MalformedLine("empty line", "  ")],
            [
                (
                    logging.WARNING,
                    "plexum-openai-provider: skipping malformed codex line (empty line): '  '",
                )
            ],
        ),
        (
            [UnknownEvent("thread.compacted")],
            [(logging.DEBUG, "skipping unknown codex event type 'thread.compacted'")],
        ),
        (
            [ThreadStarted("t1"), ThreadStarted("t1"), ThreadStarted("t2")],
            [(logging.WARNING, "second thread.started (t2) ignored; keeping t1")],
        ),
        (
            [ItemEvent("started", "item_1", "agent_message", {})],
            [(logging.DEBUG, "ignoring started agent_message item item_1")],
        ),
        (
            [ItemEvent("completed", "item_2", "reasoning", {"text": 3})],
            [(logging.WARNING, "reasoning item item_2 has no string 'text'; skipped")],
        ),
        (
            [ItemEvent("completed", "item_3", "error", {"text": "wrong key"})],
            [(logging.WARNING, "error item item_3 has no string 'message'; skipped")],
        ),
    ],
    ids=[
        "after-end",
        "malformed",
        "unknown-event",
        "second-thread",
        "early-phase",
        "no-text",
        "no-message",
    ],
)
def test_whatever_the_mapper_skips_is_logged_saying_what_and_why(
    caplog: pytest.LogCaptureFixture,
    events: list[ExecEvent],
    logged: list[tuple[int, str]],
) -> None:
    mapper = TurnMapper(previous_total=Usage())
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        out = feed_all(mapper, *events)
    assert out == []
    assert [(level, text) for name, level, text in caplog.record_tuples if name == LOGGER] == logged


def test_a_second_thread_started_does_not_replace_the_first_thread_id() -> None:
    mapper = TurnMapper(previous_total=Usage())
    feed_all(mapper, ThreadStarted("t1"), ThreadStarted("t2"))
    assert mapper.thread_id == "t1"


# --- classify_failure ---------------------------------------------------------------------------


def failure_text(capture: str) -> str:
    result = run((FIXTURES / capture).read_bytes())
    assert isinstance(result.mapper.outcome, Failed)
    return result.mapper.outcome.message


@pytest.mark.parametrize("capture", ["err_401.stdout.jsonl", "v135_err_401.stdout.jsonl"])
def test_a_401_is_an_auth_error_that_says_to_run_codex_login(capture: str) -> None:
    code, message = classify_failure(failure_text(capture))
    assert code == "auth"
    assert message.startswith("unexpected status 401 Unauthorized: Incorrect API key provided")
    assert "run `codex login`" in message


@pytest.mark.parametrize(
    "text",
    [
        "Missing environment variable: `MISSING_KEY_VAR`.",
        "Your access token could not be refreshed: refresh_token_reused",
    ],
)
def test_missing_keys_and_reused_refresh_tokens_are_auth_errors(text: str) -> None:
    assert classify_failure(text)[0] == "auth"


def test_a_400_about_the_input_is_a_plain_failure_with_the_servers_words() -> None:
    code, message = classify_failure(failure_text("err_400.stdout.jsonl"))
    assert code == "turn_failed"
    assert "HTTP 400" in message and "Invalid value for input: bad thing." in message
    assert "supported_models" not in message


def test_a_400_invalid_request_about_the_model_names_the_config_keys() -> None:
    body = (
        '{"error": {"message": "The model `gpt-9` does not exist or you do not have access.", '
        '"type": "invalid_request_error", "param": "model", "code": null}}'
    )
    code, message = classify_failure(body)
    assert code == "model_rejected"
    assert "`supported_models`" in message and "`model_args`" in message
    assert "the default model `codex` passes none" in message


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"error","status":400,"error":{"type":"invalid_request_error","message":'
        "\"The 'gpt-5.4' model is not supported when using Codex with a ChatGPT account.\"}}",
        'unexpected status 400 Bad Request: {"detail":"The \'gpt-5.3-codex\' model is not '
        'supported when using Codex with a ChatGPT account."}',
    ],
)
def test_a_chatgpt_account_model_refusal_is_a_model_rejection(text: str) -> None:
    code, message = classify_failure(text)
    assert code == "model_rejected"
    assert "model is not supported when using Codex with a ChatGPT account." in message
    assert message.startswith("the account rejected the request for this model")


@pytest.mark.parametrize(
    "capture",
    [
        "err_400plain.stdout.jsonl",
        "err_429.stdout.jsonl",
        "err_429quota.stdout.jsonl",
        "err_500.stdout.jsonl",
        "err_503.stdout.jsonl",
        "err_failed_ctx.stdout.jsonl",
        "err_failed_rate.stdout.jsonl",
        "err_truncated.stdout.jsonl",
        "err_conn_refused_nounbounded.stdout.jsonl",
        "v135_err_conn_refused.stdout.jsonl",
    ],
)
def test_other_failures_are_turn_failed_with_codex_text_unchanged(capture: str) -> None:
    text = failure_text(capture)
    assert classify_failure(text) == ("turn_failed", text)


@pytest.mark.parametrize("prefix", ["", " ", "unexpected status 400 Bad Request: "])
def test_a_rejection_quotes_the_servers_words_without_codexs_status_line(prefix: str) -> None:
    text = (
        prefix
        + '{"error": {"message": "Unsupported model gpt-9", "type": "invalid_request_error"}}'
    )
    assert classify_failure(text) == (
        "model_rejected",
        f"the account rejected the request for this model: Unsupported model gpt-9{MODEL_HINT}",
    )


@pytest.mark.parametrize("code", ["model_not_found", "unsupported_model", "model_not_supported"])
def test_an_error_code_naming_a_model_problem_is_a_model_rejection_whatever_its_message(
    code: str,
) -> None:
    # The message alone says nothing about a model: only the `code` tells.
    body = f'{{"error": {{"message": "Request refused.", "type": "x", "code": "{code}"}}}}'
    kind, message = classify_failure("unexpected status 404 Not Found: " + body)
    assert kind == "model_rejected"
    assert message.startswith("the account rejected the request for this model: Request refused.")


def test_only_a_completed_plan_item_stands_in_for_the_answer() -> None:
    mapper = TurnMapper(previous_total=Usage())
    mapper.feed(ItemEvent("started", "item_0", "plan", {}))  # no text yet: nothing to keep
    mapper.feed(ItemEvent("updated", "item_0", "plan", {"text": "draft"}))
    assert mapper.feed(TurnCompleted({"input_tokens": 1})) == []


def test_an_unknown_item_with_a_text_field_is_not_taken_for_a_plan() -> None:
    mapper = TurnMapper(previous_total=Usage())
    mapper.feed(ItemEvent("completed", "item_0", "hologram", {"text": "not the answer"}))
    assert mapper.feed(TurnCompleted({"input_tokens": 1})) == []
