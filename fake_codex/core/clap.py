"""Usage errors and help texts worded like clap (the Rust argument parser codex uses).

A `UsageError` carries the full stderr text and exit code 2; `--help` texts go to stdout, rc 0.
Only the parts wrappers meet are reproduced: first line, tip, usage lines, closing hint.
"""

from __future__ import annotations

USAGE_ROOT = "Usage: codex [OPTIONS] [PROMPT]\n       codex [OPTIONS] <COMMAND> [ARGS]"
USAGE_EXEC = "Usage: codex exec [OPTIONS] [PROMPT]\n       codex exec [OPTIONS] <COMMAND> [ARGS]"
USAGE_RESUME = "Usage: codex exec resume [OPTIONS] [SESSION_ID] [PROMPT]"
USAGE_LOGIN = "Usage: codex login [OPTIONS] [COMMAND]"


class UsageError(Exception):
    """A command line clap would reject; `text` is the whole stderr output."""

    exit_code = 2

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def unexpected_argument(arg: str, usage: str, after_dashdash: bool = False) -> UsageError:
    # no tip for an argument that already came after `--` (real 0.135–0.171)
    dashed = arg.startswith("-") and not after_dashdash
    tip = f"\n  tip: to pass '{arg}' as a value, use '-- {arg}'\n" if dashed else ""
    return UsageError(
        f"error: unexpected argument '{arg}' found\n{tip}\n{usage}\n\n"
        "For more information, try '--help'.\n"
    )


def missing_value(display: str) -> UsageError:
    return UsageError(
        f"error: a value is required for '{display}' but none was supplied\n\n"
        "For more information, try '--help'.\n"
    )


def unrecognized_subcommand(name: str, usage: str) -> UsageError:
    return UsageError(
        f"error: unrecognized subcommand '{name}'\n\n{usage}\n\n"
        "For more information, try '--help'.\n"
    )


def invalid_value(value: str, display: str, possible: tuple[str, ...]) -> UsageError:
    values = ", ".join(possible)
    return UsageError(
        f"error: invalid value '{value}' for '{display}'\n  [possible values: {values}]\n\n"
        "For more information, try '--help'.\n"
    )


ROOT_HELP = f"""Codex CLI (fake-codex: a scriptable stand-in, see docs/scenarios.md)

{USAGE_ROOT}

Commands:
  exec   Run Codex non-interactively
  login  Manage login
  mcp    Manage external MCP servers for Codex

Options:
  -h, --help     Print help
  -V, --version  Print version
"""

EXEC_HELP = f"""Run Codex non-interactively (fake-codex)

{USAGE_EXEC}

Commands:
  resume  Resume a previous session by id or pick the most recent with --last

Arguments:
  [PROMPT]  Initial instructions for the agent. If not provided as an argument (or if `-` is
            used), instructions are read from stdin

Options:
  -c, --config <key=value>           Override a configuration value
      --enable <FEATURE>             Enable a feature
      --disable <FEATURE>            Disable a feature
  -i, --image <FILE>...              Optional image(s) to attach to the initial prompt
  -m, --model <MODEL>                Model the agent should use
      --oss                          Use an open-source provider
  -s, --sandbox <SANDBOX_MODE>       Select the sandbox policy
  -p, --profile <CONFIG_PROFILE>     Configuration profile from config.toml
      --full-auto                    Low-friction sandboxed automatic execution
      --dangerously-bypass-approvals-and-sandbox
  -C, --cd <DIR>                     Tell the agent to use the specified directory as its root
      --skip-git-repo-check          Allow running Codex outside a Git repository
      --ephemeral                    Run without persisting session files to disk
      --color <COLOR>                [possible values: always, never, auto]
      --json                         Print events to stdout as JSONL
  -o, --output-last-message <FILE>   Where the last message from the agent should be written
  -h, --help                         Print help
  -V, --version                      Print version
"""

RESUME_HELP = f"""Resume a previous session by id or pick the most recent with --last (fake-codex)

{USAGE_RESUME}

Arguments:
  [SESSION_ID]  Conversation/session id (UUID) or thread name
  [PROMPT]      Prompt to send after resuming the session. If `-` is used, read from stdin

Options:
      --last   Resume the most recent recorded session (newest) without specifying an id
      --all    Show all sessions (disables cwd filtering)
  -i, --image <FILE>...          Optional image(s) to attach to the prompt sent after resuming
      --output-schema <FILE>     JSON Schema file describing the model's final response shape
  -h, --help   Print help
"""
