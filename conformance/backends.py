"""Play one scenario on one backend (the fake codex, or a real codex + ResponsesServer).

Every invocation goes through a small bash wrapper that starts codex in a clean environment
(`codex_env`) and tees its stdout and exit code into files, so ONE run yields both the raw exec
JSONL and the provider's canonical events (the wrapper is the provider's `binary`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.installs import binary as native_binary
from conformance.scenario_set import IMAGE_DIR, ConformanceScenario, Invocation
from fake_codex.core.files import write_atomic
from fake_codex.responses.server import ResponsesServer
from fake_codex.testing.fakes import install_fake_codex
from fake_codex.testing.real_env import codex_env, provider_args
from plexum_openai_provider.codex.argv import build_exec_argv
from plexum_openai_provider.config import DEFAULT_MODEL, HostConfig
from plexum_openai_provider.consume import consume_blocks
from plexum_openai_provider.errors import ProviderError
from plexum_openai_provider.turn import TurnLimits, TurnRequest, run_turn
from plexum_openai_provider.turn.inputs import check_turn_inputs, prepared

# The fake never connects; its error texts only quote the provider's base_url.
FAKE_BASE_URL = "http://127.0.0.1:9/v1"
LIMITS = TurnLimits(kill_grace_s=1.0, post_exit_drain_s=0.5)
TURN_TIMEOUT_S = 60.0


@dataclass
class InvocationCapture:
    """What one invocation produced; `canonical` is None for a direct (non-provider) run."""

    index: int
    returncode: int | None
    events: list[Any]
    stderr: str
    canonical: list[dict[str, Any]] | None
    model_requests: int | None = None  # real backend only: POSTs the server got
    # The invocation's first model request: the body the server got (real), the fake's
    # `model_request` record from its invocation log (fake); None when none was sent.
    request: Any = None
    # Codex processes of this invocation before the last (the provider retries a resume whose
    # rollout is gone as a new thread): (exit code, events) each.
    earlier: list[tuple[int | None, list[Any]]] = field(default_factory=list)


@dataclass
class Capture:
    backend: str  # "fake" or "real"
    version: str
    run_dir: Path
    invocations: list[InvocationCapture] = field(default_factory=list)
    rollouts: dict[str, list[Any]] = field(default_factory=dict)  # thread id -> lines
    turns_used: int | None = None  # fake only: its turn counter
    mcp_logs: dict[str, list[Any]] = field(default_factory=dict)  # server name -> messages
    request_bodies: list[Any] = field(default_factory=list)  # real only: model request bodies
    problems: list[str] = field(default_factory=list)  # the run itself went wrong
    compare_request: bool = False  # the scenario asks for the `request` column


def _retry_args(base_url: str, version: str, retries: int) -> list[str]:
    # codex_env.provider_args turns retries off; a retry scenario needs them on.
    args = provider_args(base_url, version)
    if retries:
        args = [a.replace("stream_max_retries=0", f"stream_max_retries={retries}") for a in args]
    return args


def _wrapper(path: Path, binary: Path, env: dict[str, str]) -> Path:
    """`codex-N.sh`: each codex process it starts writes `codex-N.<k>.{out,err,rc}`, k = 0, 1..."""
    assigns = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(env.items()))
    base = shlex.quote(str(path.with_suffix("")))
    path.write_text(
        "#!/bin/bash\n"
        "set -o pipefail\n"
        "n=0\n"
        f'while [ -e {base}."$n".out ]; do n=$((n+1)); done\n'
        f': > {base}."$n".out\n'
        f'env -i {assigns} {shlex.quote(str(binary))} "$@" '
        f'2> >(tee {base}."$n".err >&2) | tee {base}."$n".out\n'
        "rc=${PIPESTATUS[0]}\n"
        f'echo "$rc" > {base}."$n".rc\n'
        'exit "$rc"\n'
    )
    path.chmod(0o755)
    return path


def _processes(wrapper: Path) -> list[tuple[int | None, list[Any], str]]:
    """(exit code, events, stderr) of each codex process the wrapper started, in order."""
    out: list[tuple[int | None, list[Any], str]] = []
    n = 0
    while (base := wrapper.with_suffix(f".{n}.out")).exists():
        rc_file, err_file = wrapper.with_suffix(f".{n}.rc"), wrapper.with_suffix(f".{n}.err")
        rc = int(rc_file.read_text()) if rc_file.exists() else None
        stderr = err_file.read_text(errors="replace") if err_file.exists() else ""
        out.append((rc, _read_jsonl(base), stderr))
        n += 1
    return out


def _is_call(line: bytes, call_id: str) -> bool:
    """True for the rollout line of the tool call `call_id` (not its output)."""
    try:
        record = json.loads(line)
    except ValueError:
        return False
    payload = record.get("payload") if isinstance(record, dict) else None
    return (
        isinstance(payload, dict)
        and payload.get("call_id") == call_id
        and payload.get("type") in ("function_call", "custom_tool_call", "local_shell_call")
    )


def _read_jsonl(path: Path) -> list[Any]:
    if not path.exists():
        return []
    out: list[Any] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"<not json>": line})
    return out


async def _direct(argv: list[str], cwd: Path, prompt: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(TURN_TIMEOUT_S):
            await proc.communicate(prompt.encode())
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


class _Player:
    """Plays the invocation script of one scenario against one codex binary."""

    def __init__(
        self, scenario: ConformanceScenario, capture: Capture, binary: Path, env: dict[str, str]
    ) -> None:
        self.scenario = scenario
        self.capture = capture
        self.binary = binary
        self.env = env
        self.home = capture.run_dir / "home"
        self.ws = capture.run_dir / "ws"
        self.threads: dict[str, str] = {}  # session -> codex thread id (for direct resumes)
        self.home.mkdir(parents=True)
        self.ws.mkdir()
        for image in sorted(IMAGE_DIR.iterdir()):
            shutil.copyfile(image, self.ws / image.name)

    def mcp_log(self, name: str) -> Path:
        return self.capture.run_dir / f"mcp-{name}.log"

    def _mcp_args(self) -> list[str]:
        args: list[str] = []
        for server in self.scenario.mcp_servers:
            args += server.config_args(sys.executable, self.mcp_log(server.name))
        return args

    async def _before(self, inv: Invocation) -> None:
        """The invocation's preparations: consume call ids, delete or cut the thread's rollout."""
        if inv.consume:
            config = HostConfig(codex_home=str(self.home), consume_wait_s=10)
            try:
                await consume_blocks(config, self.ws, inv.session, inv.consume)
            except ProviderError as exc:
                self.capture.problems.append(f"consume before the invocation failed: {exc}")
        if inv.delete_rollout:
            thread = self.threads.get(inv.session)
            found = list(self.home.glob(f"sessions/**/rollout-*{thread}.jsonl")) if thread else []
            if not found:
                self.capture.problems.append(f"no rollout to delete for session {inv.session}")
            for path in found:
                path.unlink()
        for call_id, cut in ((inv.cut_after_call, True), (inv.drop_call, False)):
            if call_id is not None:
                self._edit_rollout(inv.session, call_id, cut)

    def _edit_rollout(self, session: str, call_id: str, cut: bool) -> None:
        """Cut the session thread's rollout right after the line of `call_id`'s call (`cut`), or
        remove that line; the same bytes edit on the real and the fake codex's rollout."""
        thread = self.threads.get(session)
        found = list(self.home.glob(f"sessions/**/rollout-*{thread}.jsonl")) if thread else []
        for path in found:
            lines = path.read_bytes().splitlines(keepends=True)
            at = next((n for n, line in enumerate(lines) if _is_call(line, call_id)), None)
            if at is None:
                continue
            kept = lines[: at + 1] if cut else lines[:at] + lines[at + 1 :]
            write_atomic(path, b"".join(kept).decode())
            return
        self.capture.problems.append(f"no call {call_id} in session {session}'s rollout")

    def fake_log(self, index: int) -> Path:
        return self.capture.run_dir / f"fake-log-{index}.jsonl"

    def _fake_request(self, index: int) -> Any:
        for record in _read_jsonl(self.fake_log(index)):
            if isinstance(record, dict) and "model_request" in record:
                return record["model_request"]
        return None

    async def play(self, index: int, inv: Invocation, base_url: str) -> InvocationCapture:
        env = self.env
        if self.capture.backend == "fake":
            env = {**env, "FAKE_CODEX_LOG": str(self.fake_log(index))}
        wrapper = _wrapper(self.capture.run_dir / f"codex-{index}.sh", self.binary, env)
        prompt = inv.prompt_text(self.scenario.turn(index), index + 1)
        extra = _retry_args(base_url, self.capture.version, inv.stream_max_retries)
        extra += [*self.scenario.extra_args, *self._mcp_args()]
        await self._before(inv)
        canonical: list[dict[str, Any]] | None = None
        if inv.direct:
            # The argv the provider would build from the same inputs (checked the same way).
            inputs = check_turn_inputs(
                tuple(self.ws / i for i in inv.images),
                inv.output_schema,
                inv.reasoning_effort,
                dict(inv.codex_options),
            )
            with prepared(inputs) as turn_args:
                argv = build_exec_argv(
                    str(wrapper),
                    resume_thread_id=self.threads.get(inv.session),
                    model_arg=inv.model,
                    extra_args=[*extra, *inputs.config_args()],
                    turn_args=[*(turn_args or ()), *inv.codex_args],
                )
                await _direct(argv, self.ws, prompt)
        else:
            model = inv.model or DEFAULT_MODEL
            config = HostConfig(
                binary=str(wrapper),
                codex_home=str(self.home),
                extra_args=tuple(extra),
                supported_models=(DEFAULT_MODEL, model),
                idle_timeout_s=30,
                turn_timeout_s=TURN_TIMEOUT_S,
            )
            request = TurnRequest(
                prompt=prompt,
                workspace=self.ws,
                session_id=inv.session,
                model=model,
                images=tuple(self.ws / i for i in inv.images),
                output_schema=inv.output_schema,
                reasoning_effort=inv.reasoning_effort,
                codex_options=dict(inv.codex_options) or None,
            )
            canonical = [e.to_json() for e in await run_turn(config, request, LIMITS)]
        processes = _processes(wrapper) or [(None, [], "")]
        rc, events, stderr = processes[-1]
        for event in events:
            if isinstance(event, dict) and event.get("type") == "thread.started":
                self.threads[inv.session] = str(event.get("thread_id"))
        earlier = [(p[0], p[1]) for p in processes[:-1]]
        result = InvocationCapture(index, rc, events, stderr, canonical, earlier=earlier)
        if self.capture.backend == "fake":
            result.request = self._fake_request(index)
        return result

    def finish(self) -> None:
        for path in sorted(self.home.glob("sessions/**/rollout-*.jsonl")):
            # rollout-<local time>-<thread uuid>.jsonl: the uuid is the last 36 characters.
            self.capture.rollouts[path.stem[-36:]] = _read_jsonl(path)
        for server in self.scenario.mcp_servers:
            self.capture.mcp_logs[server.name] = _read_jsonl(self.mcp_log(server.name))


async def run_fake(scenario: ConformanceScenario, version: str, run_dir: Path) -> Capture:
    """The fake codex emulating `version`, playing a temp copy of the scenario."""
    capture = Capture("fake", version, run_dir, compare_request=scenario.compare_request)
    run_dir.mkdir(parents=True)
    copy = run_dir / "scenario.json"
    copy.write_text(json.dumps(scenario.with_version(version), ensure_ascii=False))
    player = _Player(scenario, capture, install_fake_codex(run_dir / "bin"), {})
    player.env = {**codex_env(player.home), "FAKE_CODEX_SCENARIO": str(copy)}
    for i, inv in enumerate(scenario.invocations):
        capture.invocations.append(await player.play(i, inv, FAKE_BASE_URL))
    player.finish()
    capture.turns_used = 0  # no state file: the fake never claimed a turn
    with contextlib.suppress(OSError, ValueError):
        state = json.loads((player.home / "fake-codex-state.json").read_text())
        capture.turns_used = int(sum(state.get("turns_used", {}).values()))
    for inv_capture in capture.invocations:
        if inv_capture.returncode == 70:
            capture.problems.append(
                f"fake cannot play invocation {inv_capture.index}: {inv_capture.stderr.strip()}"
            )
    return capture


@contextlib.asynccontextmanager
async def _server(scenario: ConformanceScenario) -> AsyncIterator[ResponsesServer]:
    async with ResponsesServer(scenario=scenario.document) as server:
        yield server


async def run_real(scenario: ConformanceScenario, version: str, run_dir: Path) -> Capture:
    """The native codex `version` against a ResponsesServer serving the scenario."""
    capture = Capture("real", version, run_dir, compare_request=scenario.compare_request)
    run_dir.mkdir(parents=True)
    binary = native_binary(version)
    player = _Player(scenario, capture, binary, {})
    player.env = codex_env(player.home)
    async with _server(scenario) as server:
        for i, inv in enumerate(scenario.invocations):
            before = len(server.model_requests)
            result = await player.play(i, inv, server.base_url)
            sent = server.model_requests[before:]
            result.model_requests = len(sent)
            result.request = sent[0].body if sent else None
            capture.invocations.append(result)
        capture.problems += [u.message for u in server.unserved]
        capture.problems += [
            f"request {m.request_index}: prompt {m.actual!r:.80} is not {m.expected!r:.80}"
            for m in server.prompt_mismatches
        ]
        capture.problems += [
            f"request {m.request_index}: {m.key} fails for {m.text!r:.80}"
            for m in server.history_mismatches
        ]
        capture.request_bodies = [r.body for r in server.model_requests]
        if server.remaining:
            capture.problems.append(f"real codex left {server.remaining} scripted replies unused")
    player.finish()
    return capture
