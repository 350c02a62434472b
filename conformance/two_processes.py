"""Two codex processes on one thread, on the fake and the real codex: the same steps and view.

Cases (docs/sharing-codex-home.md): `exec_vs_exec` (a second `exec resume` while the first is
mid-turn), `exec_vs_app_server` (an `exec resume` and a second app-server while an app-server has
the thread loaded), `unsubscribe_then_exec` (what `thread/unsubscribe` gives back), and
`consume_during_turn` (the provider's consume while a foreign `exec resume` is mid-turn: refused,
naming it, and no line of that turn lost). `python -m conformance.two_processes [-v]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.installs import VERSIONS as INSTALLED_VERSIONS
from conformance.installs import binary as native_binary
from fake_codex.core.gates import FileGate, Gate
from fake_codex.responses.server import ResponsesServer
from fake_codex.testing.real_env import codex_env, exec_argv, provider_args, resume_argv

FAKE = [sys.executable, "-m", "fake_codex"]
FAKE_BASE_URL = "http://127.0.0.1:9/v1"
REPO = Path(__file__).resolve().parent.parent
STEP_TIMEOUT_S = 60.0
MODEL = "gpt-5.5"  # classic function calls on every version (no code mode)
# The held turn's reply waits at this gate (fake: a file under its CODEX_HOME; real: the Responses
# server's) until the other process has acted: the turn is mid-request for exactly that long.
HELD = "held"
SHELL = {
    "type": "function_call",
    "name": "exec_command",
    "arguments": {"cmd": "echo PAYLOAD_2P"},
    "call_id": "call_2p",
}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z ")

Json = dict[str, Any]


def _reply(text: str, hold: bool = False) -> Json:
    reply: Json = {"output": [{"type": "message", "text": text}]}
    if hold:
        reply["gate"] = HELD
    return reply


def _scenario(*turns: list[Json]) -> Json:
    return {"schema_version": 1, "turns": [{"requests": t} for t in turns]}


def _mask(text: str, root: Path) -> str:
    return _UUID.sub("<uuid>", _STAMP.sub("<time> ", text.replace(str(root), "<root>")))


async def _end(proc: asyncio.subprocess.Process) -> None:
    """Kill `proc` if it still runs (a step timed out, or the other side's failure cancelled
    this one)."""
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


@dataclass
class Side:
    """One backend (fake or real) for one case: how to run codex, where its home is."""

    argv0: list[str]  # the codex command (binary, or `python -m fake_codex`)
    base_url: str
    version: str
    env: dict[str, str]
    root: Path
    held: Gate | FileGate  # where the held turn's model reply waits

    @property
    def home(self) -> Path:
        return Path(self.env["CODEX_HOME"])

    @property
    def work(self) -> Path:
        path = self.root / "work"
        path.mkdir(exist_ok=True)
        return path

    def exec_argv(self, prompt: str = "-") -> list[str]:
        argv = exec_argv("codex", self.base_url, self.version, model=MODEL, prompt=prompt)
        return [*self.argv0, *argv[1:]]

    def resume_argv(self, thread: str) -> list[str]:
        argv = resume_argv("codex", self.base_url, self.version, thread, model=MODEL)
        return [*self.argv0, *argv[1:]]

    def app_server_argv(self, *extra: str) -> list[str]:
        return [*self.argv0, "app-server", *provider_args(self.base_url, self.version), *extra]

    async def spawn(self, argv: list[str], stdin: bytes) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=self.work,
            env=self.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
        return proc

    async def run(self, argv: list[str], stdin: bytes) -> Json:
        proc = await self.spawn(argv, stdin)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), STEP_TIMEOUT_S)
        finally:
            await _end(proc)
        return self._view(proc.returncode, out, err)

    def _view(self, rc: int | None, out: bytes, err: bytes) -> Json:
        events = [json.loads(line) for line in out.splitlines() if line.startswith(b"{")]
        lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
        messages = [
            e["item"]["text"]
            for e in events
            if e.get("type") == "item.completed" and e["item"].get("type") == "agent_message"
        ]
        thread = next((e["thread_id"] for e in events if e.get("type") == "thread.started"), None)
        return {
            "rc": rc,
            "events": [e.get("type") for e in events],
            "messages": messages,
            "stderr_last": _mask(lines[-1], self.root) if rc else None,
            "thread": thread,
        }

    async def new_thread(self) -> str:
        first = await self.run(self.exec_argv(), b"one")
        assert first["rc"] == 0 and first["thread"], first
        return str(first["thread"])

    @contextlib.asynccontextmanager
    async def mid_turn(self, thread: str) -> AsyncIterator[asyncio.subprocess.Process]:
        """An `exec resume` whose model reply is held at its gate: the body runs while it is
        mid-turn (its model request made, no reply yet); the reply goes on after the body."""
        proc = await self.spawn(self.resume_argv(thread), b"held turn")
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(STEP_TIMEOUT_S):
                while b"turn.started" not in (line := await proc.stdout.readline()):
                    if not line:
                        raise RuntimeError("the held exec ended before its turn started")
            await self.held.reached(STEP_TIMEOUT_S)
            yield proc
        finally:
            self.held.release()
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), STEP_TIMEOUT_S)
            finally:
                await _end(proc)


class AppServer:
    """A minimal stdio JSON-RPC client of `codex app-server` (replies and notifications)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.n = 0
        self.notes: list[Json] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, side: Side, *extra: str) -> AsyncIterator[AppServer]:
        proc = await asyncio.create_subprocess_exec(
            *side.app_server_argv(*extra),
            cwd=side.work,
            env=side.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            limit=1 << 26,
        )
        server = cls(proc)
        try:
            await server.call("initialize", {"clientInfo": {"name": "two", "version": "1"}})
            yield server
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 10)
            finally:
                await _end(proc)

    async def call(self, method: str, params: Json) -> Json:
        """The reply: `{"result": …}` or `{"error": {code, message}}`."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.n += 1
        line = json.dumps({"id": self.n, "method": method, "params": params})
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()
        async with asyncio.timeout(STEP_TIMEOUT_S):
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    raise RuntimeError("app-server closed its stdout")
                message = json.loads(raw)
                if message.get("id") == self.n and "method" not in message:
                    return {k: message[k] for k in ("result", "error") if k in message}
                if "method" in message and "id" not in message:
                    self.notes.append(message)

    async def wait_note(self, method: str, timeout: float) -> bool:
        """Whether the notification came within `timeout` (reading nothing else meanwhile)."""
        assert self.proc.stdout is not None
        if any(n.get("method") == method for n in self.notes):
            return True
        try:
            async with asyncio.timeout(timeout):
                while True:
                    raw = await self.proc.stdout.readline()
                    if not raw:
                        return False
                    message = json.loads(raw)
                    self.notes.append(message)
                    if message.get("method") == method:
                        return True
        except TimeoutError:
            return False

    async def resume(self, side: Side, thread: str) -> Json:
        params = {
            "threadId": thread,
            "cwd": str(side.work),
            "approvalPolicy": "never",
            "sandbox": "danger-full-access",
        }
        reply = await self.call("thread/resume", params)
        if "error" in reply:
            error = reply["error"]
            return {
                "error": {"code": error.get("code"), "message": _mask(error["message"], side.root)}
            }
        return {"ok": True}


# --- the cases -------------------------------------------------------------------------------


async def exec_vs_exec(side: Side) -> Json:
    thread = await side.new_thread()
    async with side.mid_turn(thread) as held:
        second = await side.run(side.resume_argv(thread), b"second")
    out = await held.stdout.read() if held.stdout else b""
    return {
        "second": {k: second[k] for k in ("rc", "events", "messages", "stderr_last")},
        "held_rc": held.returncode,
        "held_answer_kept": b"held answer" in out,
    }


async def exec_vs_app_server(side: Side) -> Json:
    thread = await side.new_thread()
    async with AppServer.running(side) as warm:
        loaded = await warm.resume(side, thread)
        third = await side.run(side.resume_argv(thread), b"exec beside")
        async with AppServer.running(side) as other:
            second_server = await other.resume(side, thread)
    return {
        "loaded": loaded,
        "exec": {k: third[k] for k in ("rc", "events", "stderr_last")},
        "second_app_server": second_server,
    }


async def unsubscribe_then_exec(side: Side) -> Json:
    thread = await side.new_thread()
    async with AppServer.running(side, "-c", "thread_unload_delay_secs=0") as warm:
        await warm.resume(side, thread)
        reply = await warm.call("thread/unsubscribe", {"threadId": thread})
        closed = await warm.wait_note("thread/closed", 3.0)
        after = await side.run(side.resume_argv(thread), b"after unsubscribe")
    return {"unsubscribe": reply.get("result"), "closed": closed, "exec_rc": after["rc"]}


async def consume_during_turn(side: Side) -> Json:
    from plexum_openai_provider.config import HostConfig
    from plexum_openai_provider.consume import consume_blocks
    from plexum_openai_provider.errors import ConsumeError
    from plexum_openai_provider.sessions import SessionStore, ThreadRecord

    thread = await side.new_thread()
    SessionStore(side.work).put("s", ThreadRecord(thread, None))
    config = HostConfig(binary=side.argv0[0], codex_home=str(side.home), consume_wait_s=0.3)
    async with side.mid_turn(thread) as held:
        try:
            await consume_blocks(config, side.work, "s", ["call_2p"])
            during = "consumed"
        except ConsumeError as exc:
            during = "refused, naming the holder" if f"pid {held.pid}" in str(exc) else str(exc)
    out = await held.stdout.read() if held.stdout else b""
    result = await consume_blocks(config, side.work, "s", ["call_2p"])
    from plexum_openai_provider.codex.rollout import locate_rollout

    rollout = locate_rollout(side.home, thread)
    text = rollout.read_text() if rollout else ""
    return {
        "during": during,
        "held_answer_kept": b"held answer" in out and "held answer" in text,
        "after": sorted(result.consumed),
        "payload_left": "PAYLOAD_2P" in text,
    }


Case = Callable[[Side], Coroutine[Any, Any, Json]]
CASES: dict[str, tuple[Json, Case]] = {
    "exec_vs_exec": (
        _scenario([_reply("one")], [_reply("held answer", hold=True)], [_reply("second")]),
        exec_vs_exec,
    ),
    "exec_vs_app_server": (
        _scenario([_reply("one")], [_reply("beside")]),
        exec_vs_app_server,
    ),
    "unsubscribe_then_exec": (
        _scenario([_reply("one")], [_reply("after")]),
        unsubscribe_then_exec,
    ),
    "consume_during_turn": (
        _scenario(
            [{"output": [SHELL]}, _reply("one")],
            [_reply("held answer", hold=True)],
        ),
        consume_during_turn,
    ),
}


def fake_version(version: str) -> str:
    from fake_codex.core.versions import behaviour_for

    return behaviour_for(version).version


@dataclass(frozen=True)
class Result:
    case: str
    version: str
    fake: Json
    real: Json
    problems: list[str]

    @property
    def equal(self) -> bool:
        return self.fake == self.real and not self.problems


async def compare(name: str, version: str, root: Path) -> Result:
    scenario, case = CASES[name]
    fake_root, real_root = root / "fake", root / "real"
    for d in (fake_root, real_root):
        (d / "home").mkdir(parents=True)
    path = fake_root / "scenario.json"
    path.write_text(json.dumps({**scenario, "codex_version": fake_version(version)}))
    env = codex_env(fake_root / "home")
    env.update(FAKE_CODEX_SCENARIO=str(path), PYTHONPATH=str(REPO))
    held = FileGate(fake_root / "home", HELD)
    fake_side = Side(FAKE, FAKE_BASE_URL, version, env, fake_root, held)
    async with ResponsesServer(scenario=scenario) as server:
        real_side = Side(
            [str(native_binary(version))],
            server.base_url,
            version,
            codex_env(real_root / "home"),
            real_root,
            server.gate(HELD),
        )
        # Both sides at once (their own homes, folders and servers): their waits overlap. A
        # task group, so a side that fails cancels the other, whose processes are then ended.
        async with asyncio.TaskGroup() as group:
            fake_task = group.create_task(case(fake_side))
            real_task = group.create_task(case(real_side))
        fake, real = fake_task.result(), real_task.result()
    problems = [f"real: unserved {u.message}" for u in server.unserved]
    return Result(name, version, fake, real, problems)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m conformance.two_processes")
    parser.add_argument("--version", action="append", help="codex version(s); default: installed")
    parser.add_argument("--case", action="append", choices=sorted(CASES))
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="two-processes-") as tmp:
        for version in args.version or list(INSTALLED_VERSIONS):
            for name in args.case or list(CASES):
                result = asyncio.run(compare(name, version, Path(tmp) / f"{name}-{version}"))
                print(f"{name:24} {version:8} {'equal' if result.equal else 'DIVERGENT'}")
                if not result.equal:
                    failures += 1
                if args.verbose or not result.equal:
                    print(f"  fake {json.dumps(result.fake)}\n  real {json.dumps(result.real)}")
                    for p in result.problems:
                        print(f"  {p}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
