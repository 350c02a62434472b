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

How a rollout becomes replies is `from_rollout.py` (docs/scenarios.md). Not rebuilt:
compaction requests, `tool_search` calls.

Lives in `conformance/`, not in `fake_codex/`: it needs the real codex, the Responses server and
the harness; the fake codex stays stdlib-only and never imports them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.backends import Capture, run_real
from conformance.from_rollout import build_scenario, rollout_version
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


# --- rollout -> scenario -------------------------------------------------------------------


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
