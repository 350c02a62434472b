"""The fake as an MCP client during `exec`: stdio servers from `mcp_servers` (config.toml + `-c`).

Like codex 0.169 (codex-facts §5, codex-samples/mcp_flow_gpt55.mcp_wire.jsonl):
- every enabled stdio server is started at exec start, cwd = its `cwd` or the exec cwd, with the
  FILTERED env (HOME, LANG, PATH, SHELL, TERM, the CA-bundle variables, the names listed in
  `env_vars`, then the entry's `env`);
- `initialize` (protocolVersion 2025-06-18, clientInfo codex-mcp-client/Codex/<version>),
  `notifications/initialized`, `tools/list`; a server is READY once its tool list arrived;
- the first model request waits at most ~1 s (`STARTUP_GRACE`) for optional servers; a server
  ready later shows up at later requests; `required = true` servers are waited for up to
  `startup_timeout_sec` (default 10) before `thread.started`, and their failure ends exec (rc 1);
- `tools/call {name, arguments, _meta}` with `tool_timeout_sec` (default 120) — errors become
  codex's texts (`timed out awaiting tools/call after Ns`, `Transport closed`);
- at exit every server's stdin is closed, then it is terminated (then killed).
Only stdio servers are run; `url` (streamable HTTP) servers are ignored by the fake.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_codex.mcp.specs import (
    PROTOCOL_VERSION,
    STARTUP_GRACE,
    ServerSpec,
    ToolRef,
    callable_parts,
    filtered_env,
    namespaces_for,
    specs_from_config,
)


class McpStartupError(Exception):
    """A required server did not come up (`Error: thread/start: ...`, rc 1)."""


@dataclass
class CallOutcome:
    result: dict[str, Any] | None  # the server's CallToolResult (content, structuredContent, ...)
    error: str | None  # codex's error text when the call failed
    duration_ns: int


class _Server:
    def __init__(self, spec: ServerSpec, version: str, cwd: Path, parent: Mapping[str, str]):
        self.spec = spec
        self.version = version
        self.ready = threading.Event()
        self.done = threading.Event()  # startup finished, with or without success
        self.failure: str | None = None
        self.tools: list[dict[str, Any]] = []
        self.closed = False
        self._next_id = 0
        self._lock = threading.Lock()
        self._waiters: dict[int, queue.Queue[dict[str, Any] | None]] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.progress = 0
        try:
            self.proc = subprocess.Popen(
                [spec.command, *spec.args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=spec.cwd or cwd,
                env=filtered_env(spec, parent),
            )
        except OSError as exc:
            self.failure = f"{exc.strerror} (os error {exc.errno})"
            self.done.set()
            return
        threading.Thread(target=self._reader, daemon=True).start()
        threading.Thread(target=self._startup, daemon=True).start()

    # -- JSON-RPC plumbing ---------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=False) + "\n"
        with self._lock:
            self.proc.stdin.write(data.encode())
            self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> queue.Queue[dict[str, Any] | None]:
        with self._lock:
            rid = self._next_id
            self._next_id += 1
            box: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=1)
            self._waiters[rid] = box
        if self.closed:
            box.put(None)
            return box
        try:
            self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        except (BrokenPipeError, OSError, ValueError):
            self._close_waiters()
        return box

    def _reader(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                msg = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if not isinstance(msg, dict):
                continue
            if "method" in msg and "id" in msg:  # a request from the server (ping, roots/list)
                reply: dict[str, Any] = {"jsonrpc": "2.0", "id": msg["id"]}
                if msg["method"] == "ping":
                    reply["result"] = {}
                else:
                    reply["error"] = {"code": -32601, "message": "Method not found"}
                with contextlib.suppress(BrokenPipeError, OSError, ValueError):
                    self._send(reply)
                continue
            rid = msg.get("id")
            with self._lock:
                box = self._waiters.pop(rid, None) if isinstance(rid, int) else None
            if box is not None:
                box.put(msg)
        self._close_waiters()

    def _close_waiters(self) -> None:
        with self._lock:
            self.closed = True
            boxes = list(self._waiters.values())
            self._waiters.clear()
        for box in boxes:
            if box.empty():
                box.put(None)

    def _capabilities(self) -> dict[str, Any]:
        """initialize capabilities: 0.135 `{elicitation: {}}`, 0.150 adds form/url, 0.169 the
        experimental auth-change (real echo-server logs)."""
        from fake_codex.core.versions import behaviour_for

        family = behaviour_for(self.version).family
        if family < 150:
            return {"elicitation": {}}
        caps: dict[str, Any] = {}
        if family >= 169:
            caps["experimental"] = {"codex/auth-change": {}}
        caps["elicitation"] = {"form": {}, "url": {}}
        return caps

    def _startup(self) -> None:
        try:
            init = self.request(
                "initialize",
                {
                    "protocolVersion": PROTOCOL_VERSION,
                    "capabilities": self._capabilities(),
                    "clientInfo": {
                        "name": "codex-mcp-client",
                        "title": "Codex",
                        "version": self.version,
                    },
                },
            ).get()
            if init is None or "result" not in init:
                self.failure = _handshake_failure(init)
                return
            self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            listed = self.request("tools/list", {"_meta": {"progressToken": self._token()}}).get()
            if listed is None or not isinstance(listed.get("result"), dict):
                self.failure = _handshake_failure(listed)
                return
            tools = listed["result"].get("tools")
            self.tools = (
                [t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []
            )
            self.ready.set()
        except (BrokenPipeError, OSError, ValueError) as exc:
            self.failure = str(exc)
        finally:
            self.done.set()

    def _token(self) -> int:
        token = self.progress
        self.progress += 1
        return token

    def allowed(self, tool: str) -> bool:
        s = self.spec
        return (s.enabled_tools is None or tool in s.enabled_tools) and tool not in s.disabled_tools

    def call(self, tool: str, arguments: Any, meta: dict[str, Any]) -> CallOutcome:
        start = time.monotonic_ns()
        meta = {**meta, "progressToken": self._token()}
        box = self.request("tools/call", {"_meta": meta, "name": tool, "arguments": arguments})
        prefix = (
            f"tool call error: tool call failed for `{self.spec.name}/{tool}`\n\nCaused by:\n    "
        )
        try:
            reply = box.get(timeout=self.spec.tool_timeout)
        except queue.Empty:
            return CallOutcome(
                None,
                prefix + f"timed out awaiting tools/call after {_duration(self.spec.tool_timeout)}",
                time.monotonic_ns() - start,
            )
        elapsed = time.monotonic_ns() - start
        if reply is None:
            return CallOutcome(None, prefix + "Transport closed", elapsed)
        if isinstance(reply.get("error"), dict):
            err = reply["error"]
            text = f"Mcp error: {err.get('code')}: {err.get('message')}"
            return CallOutcome(None, prefix + text, elapsed)
        result = reply.get("result")
        return CallOutcome(result if isinstance(result, dict) else {"content": []}, None, elapsed)

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=0.2)
            return
        except subprocess.TimeoutExpired:
            proc.terminate()
        try:
            proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _handshake_failure(reply: dict[str, Any] | None) -> str:
    if reply is None:
        return "handshaking with MCP server failed: connection closed: initialize response"
    err = reply.get("error")
    message = err.get("message") if isinstance(err, dict) else None
    return f"handshaking with MCP server failed: {message or 'unexpected response'}"


def _duration(seconds: float) -> str:
    """Rust's Duration debug form: `2s`, `1.5s`, `500ms`."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


@dataclass
class McpManager:
    """All configured servers of one exec; `available()` is the tool set of one model request."""

    specs: list[ServerSpec]
    version: str
    cwd: Path
    parent_env: Mapping[str, str]
    servers: dict[str, _Server] = field(default_factory=dict)
    namespaces: dict[str, str] = field(default_factory=dict)
    started_at: float = 0.0
    _first_request_done: bool = False

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.namespaces = namespaces_for([s.name for s in self.specs])
        for spec in self.specs:
            self.servers[spec.name] = _Server(spec, self.version, self.cwd, self.parent_env)

    def wait_required(self) -> None:
        """Block until every required server is ready; raise `McpStartupError` otherwise."""
        failures: list[str] = []
        for name, server in self.servers.items():
            if not server.spec.required:
                continue
            left = server.spec.startup_timeout - (time.monotonic() - self.started_at)
            server.done.wait(max(left, 0))
            if server.ready.is_set():
                continue
            if server.failure is None:
                secs = _duration(server.spec.startup_timeout)
                failures.append(
                    f"{name}: MCP client for `{name}` timed out after {secs}. Add or adjust "
                    f"`startup_timeout_sec` in your config.toml:\n[mcp_servers.{name}]\n"
                    "startup_timeout_sec = XX"
                )
            else:
                failures.append(f"{name}: {server.failure}")
        if failures:
            raise McpStartupError(
                "thread/start: thread/start failed: required MCP servers failed to initialize: "
                + "; ".join(failures)
            )

    def available(self) -> dict[tuple[str, str], ToolRef]:
        """The tools of the servers ready now, keyed by (namespace, model-visible name).

        The first call (the first model request) waits up to `STARTUP_GRACE` after start."""
        if not self._first_request_done:
            self._first_request_done = True
            deadline = self.started_at + STARTUP_GRACE
            for server in self.servers.values():
                server.done.wait(max(deadline - time.monotonic(), 0))
        tools: dict[tuple[str, str], ToolRef] = {}
        for name, server in self.servers.items():
            if not server.ready.is_set():
                continue
            namespace = self.namespaces[name]
            for tool in server.tools:
                raw_name = tool.get("name")
                if not isinstance(raw_name, str) or not server.allowed(raw_name):
                    continue
                ns, visible = callable_parts(namespace, raw_name, f"{name}\0{name}\0\0\0{raw_name}")
                tools[(ns, visible)] = ToolRef(name, raw_name, ns, visible)
        return tools

    def call(self, ref: ToolRef, arguments: Any, meta: dict[str, Any]) -> CallOutcome:
        return self.servers[ref.server].call(ref.tool, arguments, meta)

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def start_servers(
    config: Mapping[str, Any], version: str, cwd: Path, parent_env: Mapping[str, str]
) -> McpManager | None:
    """Start the configured servers (None when there are none)."""
    specs = specs_from_config(config)
    if not specs:
        return None
    manager = McpManager(specs, version, cwd, dict(parent_env))
    manager.start()
    return manager


def start_configured(
    config: Mapping[str, Any], version: str, cwd: Path, parent_env: Mapping[str, str]
) -> McpManager | None:
    """What exec and app-server do at thread start: start the configured servers and wait for
    the required ones. A required one that fails stops them all, then raises `McpStartupError`."""
    if not isinstance(config.get("mcp_servers"), dict):
        return None
    manager = start_servers(config, version, cwd, parent_env)
    if manager is None:
        return None
    try:
        manager.wait_required()
    except McpStartupError:
        manager.stop()
        raise
    return manager
