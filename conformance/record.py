"""The recorder: turn what a REAL codex did into a scenario the fake codex replays.

    python -m conformance.record [--version V] [--out FILE] [--replies SCENARIO]
                                 [--mcp-echo NAME] -- [exec] <codex exec options> PROMPT
    python -m conformance.record --from-rollout ROLLOUT [--exec-jsonl FILE] [--out FILE]

Live mode runs the native codex V (`.codex-cache/`) once, `exec` with the given options, against
the fake Responses server. Offline there is no real model to pass through to, so the model's
replies come from `--replies` (an existing scenario: its turns' replies, in order; default: one
plain answer). The scenario is then BUILT from what codex wrote — its rollout and `exec --json`
stdout — not copied from the replies, so a round trip shows what codex kept of each reply.
`--mcp-echo NAME` registers the conformance echo server (`mcp_echo_server.py`) as NAME.

`--from-rollout` builds a scenario from a rollout a contributor captured with a real login
(`$CODEX_HOME/sessions/.../rollout-*.jsonl`), plus optionally that run's `exec --json` stdout
(needed for a failed turn on 0.135, whose rollout does not record the error).

How a rollout becomes replies (docs/scenarios.md): each turn runs from `task_started` to
`task_complete`; its prompt is the last user `response_item` before the turn's first user event;
the model's output items (assistant message, reasoning, function_call, custom_tool_call,
web_search_call) since the previous `token_count` form one reply, whose usage is that
`token_count`'s `info.last_token_usage`. A failed turn (`task_complete.error`, else the exec
stream's `turn.failed`) ends with an error reply rebuilt from codex's message and
`codex_error_info` (`error_reply`). `Reconnecting... N/M (<message>)` errors become failed
replies at the start of the turn. Not rebuilt: compaction requests, `tool_search` calls.

Lives in `conformance/`, not in `fake_codex/`: it needs the real codex, the Responses server and
the harness; the fake codex stays stdlib-only and never imports them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.backends import Capture, run_real
from conformance.installs import CodexNotInstalledError
from conformance.scenario_set import ConformanceScenario, Invocation, McpServer
from fake_codex.responses.requests import last_user_text
from fake_codex.testing.real_env import EXEC_FLAGS

DEFAULT_REPLIES: list[dict[str, Any]] = [
    {"output": [{"type": "message", "text": "recorded answer"}], "usage": {}}
]
# `codex exec` options that take a value (the value is the next argument).
_VALUE_OPTIONS = frozenset(
    {"-c", "--config", "--enable", "--disable", "-p", "--profile", "-s", "--sandbox", "-i",
     "--image", "--output-schema", "-o", "--output-last-message", "--color", "-a",
     "--ask-for-approval"}
)  # fmt: skip
_USAGE_KEYS = (
    ("input_tokens", "input_tokens"),
    ("cached_input_tokens", "cached_tokens"),
    ("cache_write_input_tokens", "cache_write_tokens"),
    ("output_tokens", "output_tokens"),
    ("reasoning_output_tokens", "reasoning_tokens"),
)
_RECONNECTING = re.compile(r"^Reconnecting\.\.\. \d+/\d+ \((.*)\)$", re.S)
_UNEXPECTED = re.compile(r"^unexpected status (\d{3})[^:]*: (.*), url: \S+$", re.S)
_STREAM = "stream disconnected before completion: "


# --- rollout -> scenario -------------------------------------------------------------------


def usage_from(last: Any) -> dict[str, int]:
    """`token_count.info.last_token_usage` -> a scenario Usage (zero fields left out)."""
    if not isinstance(last, dict):
        return {}
    return {ours: int(last[theirs]) for theirs, ours in _USAGE_KEYS if last.get(theirs)}


def output_item(payload: dict[str, Any]) -> dict[str, Any] | None:
    """A rollout `response_item` payload -> a scenario OutputItem, None when not model output."""
    kind = payload.get("type")
    if kind == "message" and payload.get("role") == "assistant":
        parts = payload.get("content") or []
        text = "".join(p.get("text", "") for p in parts if isinstance(p, dict))
        return {"type": "message", "text": text}
    if kind == "reasoning":
        summary = payload.get("summary") or []
        return {"type": "reasoning", "summary": [s.get("text", "") for s in summary]}
    if kind == "function_call":
        raw = payload.get("arguments", "{}")
        try:
            arguments = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            arguments = {"<unparsed arguments>": raw}
        item = {"type": "function_call", "name": payload.get("name"), "arguments": arguments}
        if payload.get("namespace"):
            item["namespace"] = payload["namespace"]
        item["call_id"] = payload.get("call_id")
        return item
    if kind == "custom_tool_call":
        item = {"type": "custom_tool_call", "name": payload.get("name")}
        if payload.get("namespace"):
            item["namespace"] = payload["namespace"]
        item.update(input=payload.get("input", ""), call_id=payload.get("call_id"))
        return item
    if kind == "web_search_call":
        action = payload.get("action") or {}
        return {"type": "web_search_call", "query": action.get("query", ""), "id": payload["id"]}
    return None


def _json_or_text(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def error_reply(message: str, info: Any = None) -> dict[str, Any]:
    """The Reply that makes codex fail with `message` (codex-facts §2, read backwards).

    `info` is the rollout's `codex_error_info` (0.150+), used where the text is ambiguous.
    """
    if m := _UNEXPECTED.match(message):
        return {"http_status": int(m.group(1)), "body": m.group(2)}
    if message.startswith(("We’re currently experiencing", "We're currently experiencing")):
        return {"http_status": 500, "body": ""}
    if message.startswith("exceeded retry limit, last status: 429"):
        error = {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}
        return {"http_status": 429, "body": {"error": error}}
    if message.startswith("Quota exceeded."):
        error = {"message": "You exceeded your current quota.", "type": "insufficient_quota"}
        return {"http_status": 429, "body": {"error": {**error, "code": "insufficient_quota"}}}
    if message.startswith("Codex ran out of room in the model's context window"):
        error = {"code": "context_length_exceeded", "message": "context length exceeded"}
        return {"end": "failed", "error": error}
    if message.startswith("rate limit exceeded: "):
        text = message.removeprefix("rate limit exceeded: ")
        return {"end": "failed", "error": {"code": "rate_limit_exceeded", "message": text}}
    if info == "invalid_prompt":
        return {"end": "failed", "error": {"code": "invalid_prompt", "message": message}}
    if info == "model_not_found":
        error = {"message": message, "type": "invalid_request_error", "code": "model_not_found"}
        return {"http_status": 404, "body": {"error": error}}
    if message == _STREAM + "stream closed before response.completed":
        return {"end": "cut"}
    if message.startswith(_STREAM):
        text = message.removeprefix(_STREAM)
        return {"end": "failed", "error": {"code": "server_error", "message": text}}
    if m := re.match(r"^Incomplete response returned, reason: (.*)$", message):
        return {"end": "incomplete", "reason": m.group(1)}
    # HTTP 400: codex shows the raw body (an object body as Python's json.dumps renders it).
    return {"http_status": 400, "body": _json_or_text(message)}


@dataclass
class _Turn:
    prompt: str | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    last_user: str | None = None
    error: tuple[str, Any] | None = None
    completed: bool = False


def _user_text(payload: dict[str, Any]) -> str:
    parts = payload.get("content") or []
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict))


def _is_user_event(payload: dict[str, Any]) -> bool:
    if payload.get("type") == "user_message":  # 0.135
        return True
    item = payload.get("item")
    return (
        payload.get("type") == "item_completed"
        and isinstance(item, dict)
        and item.get("type") == "UserMessage"
    )


def turns_from_rollout(lines: Sequence[Any]) -> list[_Turn]:
    """Split a rollout into turns and each turn into the replies of its model requests."""
    turns: list[_Turn] = []
    turn: _Turn | None = None
    for line in lines:
        if not isinstance(line, dict) or not isinstance(line.get("payload"), dict):
            continue
        kind, payload = line.get("type"), line["payload"]
        sub = payload.get("type")
        if kind == "event_msg" and sub == "task_started":
            turn = _Turn()
            turns.append(turn)
            continue
        if turn is None:
            continue
        if kind == "response_item":
            if sub == "message" and payload.get("role") == "user":
                turn.last_user = _user_text(payload)
            item = output_item(payload)
            if item is not None:
                turn.pending.append(item)
        elif kind == "event_msg" and _is_user_event(payload) and turn.prompt is None:
            turn.prompt = turn.last_user
        elif kind == "event_msg" and sub == "token_count":
            info = payload.get("info")
            if isinstance(info, dict) and info.get("last_token_usage") is not None:
                reply = {"output": turn.pending, "usage": usage_from(info["last_token_usage"])}
                turn.replies.append(reply)
                turn.pending = []
        elif kind == "event_msg" and sub == "task_complete":
            error = payload.get("error")
            if isinstance(error, dict) and error.get("message"):
                turn.error = (str(error["message"]), error.get("codex_error_info"))
            turn.completed = True
            turn = None
    return turns


def _exec_outcomes(events: Sequence[Any]) -> list[tuple[str | None, list[str]]]:
    """Per turn of an exec stream: (turn.failed message or None, Reconnecting messages)."""
    out: list[tuple[str | None, list[str]]] = []
    retries: list[str] = []
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("type")
        if kind == "turn.started":
            retries = []
        elif kind == "error" and (m := _RECONNECTING.match(str(event.get("message", "")))):
            retries.append(m.group(1))
        elif kind == "turn.completed":
            out.append((None, retries))
        elif kind == "turn.failed":
            error = event.get("error") or {}
            out.append((str(error.get("message", "")), retries))
    return out


def build_scenario(
    rollout: Sequence[Any],
    exec_events: Sequence[Any] = (),
    *,
    version: str | None = None,
    description: str | None = None,
    prompts: Sequence[str | None] = (),
) -> dict[str, Any]:
    """A scenario document (docs/scenarios.md) from a rollout and, optionally, the exec stream
    of its LAST invocations (matched to the rollout's last turns). `prompts` overrides the
    prompt of turn i (the live recorder knows them from the request bodies)."""
    turns = turns_from_rollout(rollout)
    outcomes = _exec_outcomes(exec_events)
    offset = len(turns) - len(outcomes)
    doc_turns: list[dict[str, Any]] = []
    for i, turn in enumerate(turns):
        failed, retries = outcomes[i - offset] if i >= offset else (None, [])
        error = turn.error or ((failed, None) if failed is not None else None)
        replies = [error_reply(r) for r in retries] + turn.replies
        if error is not None:
            reply = error_reply(*error)
            if reply.get("end") == "cut" and turn.pending:
                reply = {"output": turn.pending, **reply}
            replies.append(reply)
        elif turn.pending:  # output after the last token_count (a turn cut short, a kill)
            replies.append({"output": turn.pending, "end": "cut"})
        doc_turn: dict[str, Any] = {}
        prompt = prompts[i] if i < len(prompts) and prompts[i] is not None else turn.prompt
        if prompt is not None:
            doc_turn["expect_prompt"] = prompt
        doc_turn["requests"] = replies
        doc_turns.append(doc_turn)
    document: dict[str, Any] = {"schema_version": 1}
    document["description"] = description or "recorded from a real codex run"
    if version:
        document["codex_version"] = version
    document["turns"] = doc_turns
    return document


def rollout_version(lines: Sequence[Any]) -> str | None:
    for line in lines:
        if isinstance(line, dict) and line.get("type") == "session_meta":
            version = (line.get("payload") or {}).get("cli_version")
            return str(version) if version else None
    return None


# --- live recording ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExecArgs:
    """`codex exec` options split into what the harness sets itself and what it passes on."""

    model: str | None
    prompt: str
    extra: tuple[str, ...]


def parse_exec_args(args: Sequence[str]) -> ExecArgs:
    """[exec] OPTIONS [--] PROMPT: -m/--model and the prompt are taken out, the harness's own
    flags (--json, --skip-git-repo-check, the bypass) dropped, everything else passed on."""
    rest = list(args)
    if rest and rest[0] == "exec":
        rest = rest[1:]
    if rest and rest[0] == "resume":
        raise ValueError("the recorder plays one `codex exec`; record a resumed thread with "
                         "--from-rollout")  # fmt: skip
    model: str | None = None
    extra: list[str] = []
    positional: list[str] = []
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--":
            positional += rest[i + 1 :]
            break
        if arg in ("-m", "--model") and i + 1 < len(rest):
            model, i = rest[i + 1], i + 2
            continue
        if arg.startswith("--model="):
            model = arg.split("=", 1)[1]
        elif arg in EXEC_FLAGS:
            pass
        elif arg in _VALUE_OPTIONS and i + 1 < len(rest):
            extra += [arg, rest[i + 1]]
            i += 1
        elif arg.startswith("-") and arg != "-":
            extra.append(arg)
        else:
            positional.append(arg)
        i += 1
    if len(positional) != 1 or positional[0] == "-":
        raise ValueError(f"expected exactly one prompt argument, got {positional!r}")
    return ExecArgs(model, positional[0], tuple(extra))


def replies_of(path: Path | None) -> list[dict[str, Any]]:
    if path is None:
        return DEFAULT_REPLIES
    document = json.loads(path.read_text(encoding="utf-8"))
    return [r for turn in document.get("turns", []) for r in turn.get("requests", [])]


@dataclass
class Recording:
    """A live recording: the scenario built, its sidecar, and the harness capture of the run."""

    scenario: dict[str, Any]
    sidecar: dict[str, Any]
    capture: Capture


def sidecar_for(parsed: ExecArgs, servers: Sequence[McpServer], version: str) -> dict[str, Any]:
    minor = ".".join(version.split(".")[:2])
    invocation: dict[str, Any] = {"direct": True, "prompt": parsed.prompt}
    if parsed.model:
        invocation["model"] = parsed.model
    sidecar: dict[str, Any] = {
        "versions": [f"{minor}.0", f"{minor}.99"],
        "invocations": [invocation],
    }
    if servers:
        sidecar["mcp_servers"] = {
            s.name: ({"required": True} if s.required else {}) for s in servers
        }
    if parsed.extra:
        sidecar["extra_args"] = list(parsed.extra)
    return sidecar


async def record(
    codex_args: Sequence[str],
    version: str,
    run_dir: Path,
    *,
    replies: Sequence[dict[str, Any]] = DEFAULT_REPLIES,
    servers: Sequence[McpServer] = (),
    description: str | None = None,
) -> Recording:
    """Run the real codex `version` once with `codex_args` and build the scenario it shows."""
    parsed = parse_exec_args(codex_args)
    served = {"schema_version": 1, "turns": [{"requests": list(replies)}]}
    invocation = Invocation(prompt=parsed.prompt, model=parsed.model, direct=True)
    scenario = ConformanceScenario(
        "recording",
        run_dir / "replies.json",
        served,
        (invocation,),
        mcp_servers=tuple(servers),
        extra_args=parsed.extra,
    )
    capture = await run_real(scenario, version, run_dir / "real")
    lines = next(iter(capture.rollouts.values()), [])
    events = capture.invocations[0].events if capture.invocations else []
    prompt = last_user_text(capture.request_bodies[0]) if capture.request_bodies else None
    document = build_scenario(
        lines,
        events,
        version=version,
        description=description or f"recorded from codex {version}: {parsed.prompt[:60]}",
        prompts=[prompt],
    )
    return Recording(document, sidecar_for(parsed, servers, version), capture)


# --- command line -----------------------------------------------------------------------------


def _read_jsonl(path: Path) -> list[Any]:
    out: list[Any] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # codex skips a garbage rollout line too
    return out


def _write(out: Path | None, document: dict[str, Any], sidecar: dict[str, Any] | None) -> None:
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(text)
        if sidecar is not None:
            sys.stderr.write("sidecar (invocations/<name>.json):\n" + json.dumps(sidecar) + "\n")
        return
    out.write_text(text, encoding="utf-8")
    if sidecar is not None:
        side = out.parent / "invocations" / out.name
        side.parent.mkdir(parents=True, exist_ok=True)
        side.write_text(json.dumps(sidecar, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {out} and {side}", file=sys.stderr)
    else:
        print(f"wrote {out}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m conformance.record",
        description="Record a real codex run as a scenario the fake codex replays.",
        epilog="Live: python -m conformance.record --out s.json -- exec -m gpt-5.5 'hello'. "
        "Offline: python -m conformance.record --from-rollout rollout.jsonl --exec-jsonl out.jsonl",
    )
    parser.add_argument("--version", default="0.169.0", help="the installed codex to run")
    parser.add_argument("--out", type=Path, help="scenario file (default: stdout)")
    parser.add_argument("--replies", type=Path, help="scenario whose replies the model gives")
    parser.add_argument("--mcp-echo", action="append", default=[], metavar="NAME",
                        help="register the conformance echo MCP server as NAME")  # fmt: skip
    parser.add_argument("--mcp-required", action="store_true", help="... with required=true")
    parser.add_argument("--description", help="the scenario's one-line description")
    parser.add_argument("--from-rollout", type=Path, metavar="ROLLOUT")
    parser.add_argument("--exec-jsonl", type=Path, help="with --from-rollout: exec stdout")
    parser.add_argument("--keep", action="store_true", help="keep the live run's folder")
    parser.add_argument("codex_args", nargs="*", help="after --: the codex exec arguments")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.from_rollout is not None:
        lines = _read_jsonl(args.from_rollout)
        events = _read_jsonl(args.exec_jsonl) if args.exec_jsonl else []
        document = build_scenario(
            lines, events, version=rollout_version(lines), description=args.description
        )
        _write(args.out, document, None)
        return 0
    if not args.codex_args:
        _parser().error("give the codex exec arguments after --, or --from-rollout")
    servers = [McpServer(name, required=args.mcp_required) for name in args.mcp_echo]
    root = Path(tempfile.mkdtemp(prefix="conformance-record-"))
    try:
        recording = asyncio.run(
            record(
                args.codex_args,
                args.version,
                root,
                replies=replies_of(args.replies),
                servers=servers,
                description=args.description,
            )
        )
    except ValueError as exc:
        print(f"record: {exc}", file=sys.stderr)
        return 2
    except CodexNotInstalledError as exc:
        print(f"record: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"run folder kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    for problem in recording.capture.problems:
        print(f"record: warning: {problem}", file=sys.stderr)
    _write(args.out, recording.scenario, recording.sidecar)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
