"""The objects behind the pytest plugin, usable without pytest: a fake or real codex on disk.

`FakeCodex` and `RealCodex` give a test the same surface — a throwaway `CODEX_HOME`, a `codex`
executable in a folder to put first on PATH, the environment to run it with, scenarios written
(and validated) from Python, the thread's rollout. `RealCodex` also runs the fake Responses
server the scenario drives. Standard library only; `plugin.py` wires them up; the homes and what
a codex leaves in them are `homes.py`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_codex.core.files import write_atomic
from fake_codex.core.gates import FileGate, Gate
from fake_codex.core.home import MARKER
from fake_codex.core.scenario import SCHEMA_VERSION, ScenarioError, parse_scenario
from fake_codex.core.versions import behaviour_for
from fake_codex.responses.requests import RecordedRequest
from fake_codex.responses.server import ResponsesServer, SyncResponsesServer
from fake_codex.testing.homes import LoggedInvocation, isolated_home, read_rollout, rollout_paths
from fake_codex.testing.real_env import API_KEY, provider_args, provider_toml

JsonObject = dict[str, Any]


def answer(text: str, **usage: int) -> JsonObject:
    """A reply with one assistant message (docs/scenarios.md `Reply`), e.g. `answer("hi")`."""
    reply: JsonObject = {"output": [{"type": "message", "text": text}]}
    if usage:
        reply["usage"] = usage
    return reply


def scenario_document(
    turns: Sequence[Mapping[str, Any]], *, codex_version: str | None = None, description: str = ""
) -> JsonObject:
    """A scenario (docs/scenarios.md) from its turns: `[{"requests": [answer("hi")]}]`."""
    document: JsonObject = {"schema_version": SCHEMA_VERSION, "turns": [dict(t) for t in turns]}
    if description:
        document["description"] = description
    if codex_version is not None:
        document["codex_version"] = codex_version
    return document


def _next_scenario(
    home: Path,
    turns: Sequence[Mapping[str, Any]],
    document: Mapping[str, Any] | None,
    description: str,
    codex_version: str | None,
) -> tuple[Path, JsonObject]:
    """The next `scenario-N.json` beside `home` and the document to write there (`document` or
    one built from `turns`; `codex_version`, when given, only if the document names none)."""
    doc = dict(document) if document is not None else scenario_document(turns)
    if description:
        doc["description"] = description
    if codex_version is not None:
        doc.setdefault("codex_version", codex_version)
    count = len(list(home.parent.glob("scenario-*.json")))
    return home.parent / f"scenario-{count}.json", doc


def write_scenario(path: Path, document: Mapping[str, Any]) -> Path:
    """Validate `document` as the fake would, then write it atomically; a bad field raises
    `fake_codex.scenario.ScenarioError` naming the file and the field's path (`$.turns[0]...`)."""
    scenario = parse_scenario(json.loads(json.dumps(document)), str(path))
    try:
        behaviour_for(scenario.codex_version)
    except ValueError as exc:  # what the fake would exit 70 with
        raise ScenarioError(f"{path}: $.codex_version: {exc}") from None
    write_atomic(path, json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    return path


def _link(bin_dir: Path, target: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    link = bin_dir / "codex"
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    return link


def install_fake_codex(bin_dir: Path) -> Path:
    """`bin_dir/codex`: a Python script that runs the fake with this Python.

    The suite starts the fake thousands of times, so the script is the cheapest launcher we have:
    `-S` skips site-packages and its `.pth` hooks (the fake is standard library only; its package
    root goes on `sys.path` by hand), and the fake's bytecode is cached even under
    PYTHONDONTWRITEBYTECODE (otherwise every start compiles each module from source).
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "codex"
    package_root = Path(__file__).resolve().parents[2]  # the folder holding fake_codex/
    text = (
        f"#!{sys.executable} -S\n"
        "import sys\n"
        f"sys.path.insert(0, {str(package_root)!r})\n"
        "sys.dont_write_bytecode = False\n"
        "from fake_codex.cli import main\n"
        "sys.exit(main())\n"
    )
    script.unlink(missing_ok=True)  # never write through a link left there
    script.write_text(text)
    script.chmod(0o755)
    return script


@dataclass
class FakeCodex:
    """The fake codex as `codex`: `bin_dir` (first on PATH) holds `executable`."""

    home: Path
    bin_dir: Path
    log_path: Path
    codex_version: str | None = None  # written into scenarios that do not set their own
    scenario_path: Path | None = None
    on_scenario: Callable[[Path], None] | None = field(default=None, repr=False)
    kind: str = "fake"

    @classmethod
    def create(cls, root: Path, home: Path, codex_version: str | None = None) -> FakeCodex:
        isolated_home(home)
        home.mkdir(parents=True, exist_ok=True)
        (home / MARKER).touch()
        bin_dir = root / "fake-codex-bin"
        install_fake_codex(bin_dir)
        return cls(home, bin_dir, root / "fake-codex-invocations.jsonl", codex_version)

    @property
    def executable(self) -> Path:
        return self.bin_dir / "codex"

    @property
    def version(self) -> str:
        from fake_codex.cli import DEFAULT_VERSION

        return self.codex_version or DEFAULT_VERSION

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The variables this fake needs (PATH with `bin_dir` first), over `base`."""
        source = dict(os.environ if base is None else base)
        env = {
            "PATH": f"{self.bin_dir}{os.pathsep}{source.get('PATH', os.defpath)}",
            "CODEX_HOME": str(self.home),
            "FAKE_CODEX_LOG": str(self.log_path),
        }
        if self.scenario_path is not None:
            env["FAKE_CODEX_SCENARIO"] = str(self.scenario_path)
        return {**{k: v for k, v in source.items() if k != "FAKE_CODEX_SCENARIO"}, **env}

    @property
    def env(self) -> dict[str, str]:
        return self.environ()

    def write_scenario(
        self,
        turns: Sequence[Mapping[str, Any]] = (),
        *,
        document: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> Path:
        """Validate and write a scenario, and make it the one the fake plays."""
        path, doc = _next_scenario(self.home, turns, document, description, self.codex_version)
        self.scenario_path = write_scenario(path, doc)
        if self.on_scenario is not None:
            self.on_scenario(self.scenario_path)
        return self.scenario_path

    def invocations(self) -> list[LoggedInvocation]:
        if not self.log_path.exists():
            return []
        # Only "\n" ends a line: a prompt may hold U+2028 or \x1e, which splitlines() splits on.
        lines = self.log_path.read_text(encoding="utf-8").split("\n")
        return [LoggedInvocation.from_record(json.loads(line)) for line in lines if line]

    def rollout_paths(self) -> list[Path]:
        return rollout_paths(self.home)

    def rollout(self, thread_id: str | None = None) -> list[JsonObject]:
        return read_rollout(self.home, thread_id)

    def gate(self, name: str) -> FileGate:
        """A reply's `gate` (docs/scenarios.md): `await gate.reached()`, act, `gate.release()`."""
        return FileGate(self.home, name)

    def problems(self) -> list[str]:
        """Invocations the scenario did not fit (exit 70; the reason is on their stderr)."""
        return [
            f"fake-codex {' '.join(inv.argv[1:3])} exited 70: the scenario did not fit "
            "(its stderr says what was expected and what came)"
            for inv in self.invocations()
            if inv.exit_code == 70
        ]


class FakeResponsesServer:
    """The fake OpenAI Responses server (127.0.0.1, ephemeral port, SSE) on its own thread,
    playing a scenario written from Python; `config_args` point any codex at it."""

    def __init__(self) -> None:
        self._sync: SyncResponsesServer | None = None

    def start(self) -> FakeResponsesServer:
        self._sync = SyncResponsesServer(ResponsesServer())
        self._sync.__enter__()
        return self

    def close(self) -> None:
        if self._sync is not None:
            self._sync.__exit__(None, None, None)
            self._sync = None

    @property
    def server(self) -> ResponsesServer:
        if self._sync is None:
            raise RuntimeError("the Responses server is not started")
        return self._sync.server

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def config_args(self, version: str) -> list[str]:
        """`-c` options (and `--disable` where `version` knows it) pointing codex here."""
        return provider_args(self.base_url, version)

    def config_toml(self) -> str:
        """The same as a `config.toml` (for a wrapper that runs plain `codex exec`)."""
        return provider_toml(self.base_url)

    def write_scenario(self, path: Path, document: Mapping[str, Any]) -> Path:
        """Validate `document` (as the fake would), write it to `path`, serve its replies."""
        write_scenario(path, document)
        assert self._sync is not None, "the Responses server is not started"
        self._sync.set_scenario(document)
        return path

    @property
    def requests(self) -> list[RecordedRequest]:
        """The model requests received, in order."""
        return self.server.model_requests

    async def wait_for_requests(self, count: int, timeout: float = 10.0) -> None:
        """Wait (bounded; TimeoutError) until `count` requests arrived, from any event loop
        (the server runs on its own thread)."""
        assert self._sync is not None, "the Responses server is not started"
        await asyncio.wrap_future(self._sync.submit(self.server.wait_for_requests(count, timeout)))

    def gate(self, name: str) -> Gate:
        """A reply's `gate`: `await gate.reached()`, act, `gate.release()`."""
        return self.server.gate(name)

    def problems(self) -> list[str]:
        """What the server saw go differently from the scenario."""
        server = self.server
        out = [u.message for u in server.unserved]
        out += [
            f"request {m.request_index}: expected a prompt {m.expected!r:.200}, got "
            f"{m.actual!r:.200}"
            for m in server.prompt_mismatches
        ]
        out += [
            f"request {m.request_index}: {m.key} fails for {m.text!r:.200}"
            for m in server.history_mismatches
        ]
        out += [
            f"request {v.request_index}: answered 400, {v.problems[0]}" for v in server.violations
        ]
        return out


@dataclass
class RealCodex:
    """A real codex `version` as `codex`, pointed (by `$CODEX_HOME/config.toml`) at a fake
    Responses server that plays the scenario."""

    version: str
    binary: Path
    home: Path
    bin_dir: Path
    responses: FakeResponsesServer
    scenario_path: Path | None = None
    kind: str = "real"

    @classmethod
    def create(
        cls, root: Path, home: Path, version: str, binary: Path, responses: FakeResponsesServer
    ) -> RealCodex:
        """`responses` must be started: its address goes into `home/config.toml`."""
        isolated_home(home)
        home.mkdir(parents=True, exist_ok=True)
        bin_dir = root / "real-codex-bin"
        _link(bin_dir, binary)
        # A wrapper runs plain `codex exec`: the provider must come from the config file.
        write_atomic(home / "config.toml", responses.config_toml())
        return cls(version, binary, home, bin_dir, responses)

    @property
    def server(self) -> ResponsesServer:
        return self.responses.server

    @property
    def executable(self) -> Path:
        return self.bin_dir / "codex"

    @property
    def config_args(self) -> list[str]:
        """`-c` options that point any codex command line at the server (the config file does
        it already; use them for a CODEX_HOME of your own)."""
        return self.responses.config_args(self.version)

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """PATH with `bin_dir` first, the throwaway CODEX_HOME and HOME, the test key."""
        source = dict(os.environ if base is None else base)
        return {
            **source,
            "PATH": f"{self.bin_dir}{os.pathsep}{source.get('PATH', os.defpath)}",
            "CODEX_HOME": str(self.home),
            "HOME": str(self.home),
            "OPENAI_API_KEY": API_KEY,
            "RUST_BACKTRACE": "0",
            "NO_COLOR": "1",
        }

    @property
    def env(self) -> dict[str, str]:
        return self.environ()

    def write_scenario(
        self,
        turns: Sequence[Mapping[str, Any]] = (),
        *,
        document: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> Path:
        """Validate and write a scenario (as the fake would read it) and serve its replies."""
        path, doc = _next_scenario(self.home, turns, document, description, self.version)
        self.scenario_path = self.responses.write_scenario(path, doc)
        return self.scenario_path

    @property
    def requests(self) -> list[RecordedRequest]:
        """The model requests codex made, in order."""
        return self.responses.requests

    async def wait_for_requests(self, count: int, timeout: float = 10.0) -> None:
        await self.responses.wait_for_requests(count, timeout)

    def rollout_paths(self) -> list[Path]:
        return rollout_paths(self.home)

    def rollout(self, thread_id: str | None = None) -> list[JsonObject]:
        return read_rollout(self.home, thread_id)

    def gate(self, name: str) -> Gate:
        """A reply's `gate`, held by the Responses server the real codex talks to."""
        return self.responses.gate(name)

    def problems(self) -> list[str]:
        return self.responses.problems()
