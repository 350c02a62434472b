"""`codex mcp add|get|list|remove`: the real CLI's arguments, texts, exit codes and TOML shape.

Verified against codex-samples/mcp_*.{toml,json} and codex-facts §5:
- `add NAME [--env K=V]... -- CMD ARGS...` or `add NAME --url U [--bearer-token-env-var V]`
  writes `[mcp_servers.NAME]` (+ `[mcp_servers.NAME.env]`), silently replacing an existing
  entry in place; stdout `Added global MCP server 'NAME'.`, rc 0.
- `remove NAME`: `Removed global MCP server 'NAME'.` or `No MCP server named 'NAME' found.`
  (stdout, rc 0 both).
- `get NAME [--json]`, `list [--json]`; a missing name in `get` is `Error: No MCP server named
  'NAME' found.` on stderr, rc 1.
- names: 0.135 `[A-Za-z0-9_-]+`, 0.169 also `:@/.`; else `Error: invalid server name ...`, rc 1.
The text (non-JSON) forms of `get`/`list` are approximations (no capture): env values masked.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from fake_codex.core import clap
from fake_codex.core.config import ConfigError, load_config
from fake_codex.core.home import HomeRefused, home_for_reading, home_for_writing
from fake_codex.core.output import rust_backtrace
from fake_codex.core.versions import Behaviour
from fake_codex.mcp.listing import get_text, list_text, pretty_json, server_json

EX_CONFIG = 78
EX_SOFTWARE = 70
USAGE_MCP = "Usage: codex mcp [OPTIONS] <COMMAND>"
USAGE_ADD = "Usage: codex mcp add [OPTIONS] <NAME> (--url <URL> | -- <COMMAND>...)"
USAGE_GET = "Usage: codex mcp get [OPTIONS] <NAME>"
USAGE_LIST = "Usage: codex mcp list [OPTIONS]"
USAGE_REMOVE = "Usage: codex mcp remove [OPTIONS] <NAME>"
ENV_FORM = "environment entries must be in KEY=VALUE form"

MCP_HELP = f"""Manage external MCP servers for Codex (fake-codex)

{USAGE_MCP}

Commands:
  list    List configured MCP servers
  get     Show details for a configured MCP server
  add     Add a global MCP server entry
  remove  Remove a global MCP server entry

Options:
  -c, --config <key=value>  Override a configuration value
  -h, --help                Print help
"""


class CommandFailed(Exception):
    """`Error: <text>` on stderr and rc 1 (codex's anyhow error at the top)."""


def _required(what: str, usage: str) -> clap.UsageError:
    return clap.UsageError(
        f"error: the following required arguments were not provided:\n  {what}\n\n{usage}\n\n"
        "For more information, try '--help'.\n"
    )


def validate_name(name: str, behaviour: Behaviour) -> None:
    extra = behaviour.mcp_name_extra_chars
    ok = bool(name) and all((c.isascii() and c.isalnum()) or c in "-_" or c in extra for c in name)
    if not ok:
        allowed = ", ".join(f"'{c}'" for c in "-_" + extra)
        raise CommandFailed(f"invalid server name '{name}' (use letters, numbers, {allowed})")


def _split_options(
    argv: list[str], usage: str, flags: tuple[str, ...]
) -> tuple[list[str], set[str], list[str]]:
    """(positionals, flags seen, -c overrides) for get/list/remove."""
    positionals: list[str] = []
    seen: set[str] = set()
    overrides: list[str] = []
    i = 0
    only_pos = False
    while i < len(argv):
        token = argv[i]
        i += 1
        if only_pos or token == "-" or not token.startswith("-"):
            positionals.append(token)
        elif token == "--":
            only_pos = True
        elif token in flags:
            seen.add(token)
        elif token in ("-c", "--config"):
            if i >= len(argv):
                raise clap.missing_value("--config <key=value>")
            overrides.append(argv[i])
            i += 1
        elif token.startswith("--config="):
            overrides.append(token.split("=", 1)[1])
        elif token.startswith("-c") and len(token) > 2:
            overrides.append(token[2:].removeprefix("="))
        elif token in ("-h", "--help"):
            seen.add("--help")
        else:
            raise clap.unexpected_argument(token, usage)
    return positionals, seen, overrides


class McpCommand:
    def __init__(
        self, behaviour: Behaviour, environ: Mapping[str, str], overrides: list[str]
    ) -> None:
        self.b = behaviour
        self.environ = environ
        self.overrides = list(overrides)

    # -- config access ---------------------------------------------------------------------
    def _servers(self) -> dict[str, Any]:
        try:
            config = load_config(home_for_reading(self.environ), tuple(self.overrides))
        except ConfigError as exc:
            raise CommandFailed(str(exc)) from None
        servers = config.get("mcp_servers")
        return servers if isinstance(servers, dict) else {}

    def _edit(self, name: str, entry: dict[str, Any] | None) -> None:
        from fake_codex.mcp.toml_lite import TomlEditError, set_server

        home = home_for_writing(self.environ)
        path = home / "config.toml"
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        try:
            new = set_server(text, name, entry)
        except TomlEditError as exc:
            raise _Fake(str(exc)) from None
        tmp = home / ".config.toml.fake-codex.tmp"
        tmp.write_text(new, encoding="utf-8")
        tmp.replace(path)

    # -- subcommands -----------------------------------------------------------------------
    def add(self, argv: list[str]) -> int:
        name: str | None = None
        env: dict[str, str] = {}
        url: str | None = None
        bearer: str | None = None
        command: list[str] = []
        i = 0
        only_pos = False
        while i < len(argv):
            token = argv[i]
            i += 1
            if command:
                command.append(token)  # trailing var arg: everything after CMD is raw
                continue
            if not only_pos and token == "--":
                only_pos = True
                continue
            if only_pos or token == "-" or not token.startswith("-"):
                if name is None:
                    name = token
                else:
                    command.append(token)
                continue
            opt, eq, inline = token.partition("=")
            if opt in ("-h", "--help"):
                sys.stdout.write(f"Add a global MCP server entry (fake-codex)\n\n{USAGE_ADD}\n")
                return 0
            if opt in ("--env", "--url", "--bearer-token-env-var", "-c", "--config"):
                if not eq:
                    if i >= len(argv):
                        raise clap.missing_value(f"{opt} <VALUE>")
                    inline = argv[i]
                    i += 1
                if opt == "--env":
                    k, has_eq, v = inline.partition("=")
                    if not has_eq or not k.strip():
                        raise clap.UsageError(
                            f"error: invalid value '{inline}' for '--env <KEY=VALUE>': {ENV_FORM}"
                            "\n\nFor more information, try '--help'.\n"
                        )
                    env[k.strip()] = v
                elif opt == "--url":
                    url = inline
                elif opt == "--bearer-token-env-var":
                    bearer = inline
                else:
                    self.overrides.append(inline)
                continue
            if token.startswith("-c") and len(token) > 2:
                self.overrides.append(token[2:].removeprefix("="))
                continue
            raise clap.unexpected_argument(token, USAGE_ADD)
        if name is None:
            raise _required("<NAME>", USAGE_ADD)
        if url is not None and command:
            raise clap.UsageError(
                "error: the argument '--url <URL>' cannot be used with '[COMMAND]...'\n\n"
                f"{USAGE_ADD}\n\nFor more information, try '--help'.\n"
            )
        if url is None and not command:
            raise _required("<COMMAND|--url <URL>>", USAGE_ADD)
        if bearer is not None and url is None:
            raise _required("--url <URL>", USAGE_ADD)
        validate_name(name, self.b)
        entry: dict[str, Any]
        if url is not None:
            entry = {"url": url}
            if bearer is not None:
                entry["bearer_token_env_var"] = bearer
        else:
            entry = {"command": command[0]}
            if command[1:]:
                entry["args"] = command[1:]
            if env:
                entry["env"] = env
        self._edit(name, entry)
        sys.stdout.write(f"Added global MCP server '{name}'.\n")
        return 0

    def remove(self, argv: list[str]) -> int:
        pos, seen, overrides = _split_options(argv, USAGE_REMOVE, ())
        self.overrides += overrides
        if "--help" in seen:
            sys.stdout.write(f"Remove a global MCP server entry (fake-codex)\n\n{USAGE_REMOVE}\n")
            return 0
        if not pos:
            raise _required("<NAME>", USAGE_REMOVE)
        if len(pos) > 1:
            raise clap.unexpected_argument(pos[1], USAGE_REMOVE)
        name = pos[0]
        validate_name(name, self.b)
        if name in self._servers_in_file():
            self._edit(name, None)
            sys.stdout.write(f"Removed global MCP server '{name}'.\n")
        else:
            sys.stdout.write(f"No MCP server named '{name}' found.\n")
        return 0

    def _servers_in_file(self) -> dict[str, Any]:
        saved, self.overrides = self.overrides, []
        try:
            return self._servers()
        finally:
            self.overrides = saved

    def get(self, argv: list[str]) -> int:
        pos, seen, overrides = _split_options(argv, USAGE_GET, ("--json",))
        self.overrides += overrides
        if "--help" in seen:
            sys.stdout.write(
                f"Show details for a configured MCP server (fake-codex)\n\n{USAGE_GET}\n"
            )
            return 0
        if not pos:
            raise _required("<NAME>", USAGE_GET)
        if len(pos) > 1:
            raise clap.unexpected_argument(pos[1], USAGE_GET)
        name = pos[0]
        entry = self._servers().get(name)
        if not isinstance(entry, dict):
            raise CommandFailed(f"No MCP server named '{name}' found.")
        if "--json" in seen:
            sys.stdout.write(pretty_json(server_json(name, entry, listing=False)) + "\n")
            return 0
        sys.stdout.write(get_text(name, entry))
        return 0

    def list(self, argv: list[str]) -> int:
        pos, seen, overrides = _split_options(argv, USAGE_LIST, ("--json",))
        self.overrides += overrides
        if "--help" in seen:
            sys.stdout.write(f"List configured MCP servers (fake-codex)\n\n{USAGE_LIST}\n")
            return 0
        if pos:
            raise clap.unexpected_argument(pos[0], USAGE_LIST)
        servers = {k: v for k, v in self._servers().items() if isinstance(v, dict)}
        names = sorted(servers)
        if "--json" in seen:
            doc = [server_json(n, servers[n], listing=True) for n in names]
            sys.stdout.write(pretty_json(doc) + "\n")
            return 0
        if not names:
            sys.stdout.write(
                "No MCP servers configured yet. Try `codex mcp add my-tool -- my-command`.\n"
            )
            return 0
        sys.stdout.write(list_text(names, servers))
        return 0


class _Fake(Exception):
    """A limitation of the fake (exit 70)."""


def run_mcp(argv: list[str], behaviour: Behaviour, environ: Mapping[str, str]) -> int:
    """Entry for `codex [-c ...] mcp ...` (global overrides already at the front of argv)."""
    overrides: list[str] = []
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        token = argv[i]
        if token in ("-c", "--config") and i + 1 < len(argv):
            overrides.append(argv[i + 1])
            i += 2
        elif token.startswith("--config="):
            overrides.append(token.split("=", 1)[1])
            i += 1
        elif token.startswith("-c") and len(token) > 2:
            overrides.append(token[2:].removeprefix("="))
            i += 1
        elif token in ("--enable", "--disable") and i + 1 < len(argv):
            i += 2
        elif token.startswith(("--enable=", "--disable=")):
            i += 1
        elif token in ("-h", "--help"):
            sys.stdout.write(MCP_HELP)
            return 0
        else:
            raise clap.unexpected_argument(token, USAGE_MCP)
    if i >= len(argv):
        sys.stdout.write(MCP_HELP)
        return 2
    sub, rest = argv[i], argv[i + 1 :]
    cmd = McpCommand(behaviour, environ, overrides)
    handlers = {"add": cmd.add, "get": cmd.get, "list": cmd.list, "remove": cmd.remove}
    handler = handlers.get(sub)
    if handler is None:
        raise clap.unrecognized_subcommand(sub, USAGE_MCP)
    try:
        return handler(rest)
    except CommandFailed as exc:
        sys.stderr.write(f"Error: {exc}\n{rust_backtrace(environ)}")
        return 1
    except HomeRefused as exc:
        sys.stderr.write(str(exc))
        return EX_CONFIG
    except _Fake as exc:
        sys.stderr.write(f"{exc}\n")
        return EX_SOFTWARE
