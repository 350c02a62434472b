"""`codex mcp add|get|list|remove` on the fake vs the real captures (codex-samples/mcp_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parents[1] / "data"


def mcp(env: Any, *args: str, scenario: Path | None = None) -> Any:
    return env.run(["mcp", *args], scenario=scenario)


def version_scenario(env: Any, version: str) -> Path:
    path = env.root / f"v{version}.json"
    path.write_text(f'{{"codex_version": "{version}", "turns": []}}')
    return path


def test_add_writes_the_captured_toml_shape(env: Any) -> None:
    py, rig, logdir = "<PYTHON>", "<RIG>", "<LOGDIR>"
    result = mcp(
        env, "add", "echo1", "--env", "MY_MARK=hello", "--",
        py, f"{rig}/mcp_tee.py", logdir, py, f"{rig}/echo_mcp_server.py",
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, b"Added global MCP server 'echo1'.\n")
    assert (env.home / "config.toml").read_text() == (DATA / "mcp_add.config.toml").read_text()


def test_add_replaces_in_place_and_keeps_other_content_byte_for_byte(env: Any) -> None:
    env.home.mkdir(exist_ok=True)
    (env.home / "config.toml").write_text(
        '# my comment at top\nmodel = "gpt-5.5"   # inline comment\n\n'
        '[mcp_servers.keep]\ncommand = "old"\nargs = ["x", "y"]\n\n[mcp_servers.keep.env]\n'
        'OLD = "1"\n# comment inside keep\n'
    )
    assert mcp(env, "add", "keep", "--env", "B=2", "--", "cat", "-n").returncode == 0
    assert mcp(env, "add", "web", "--url", "http://127.0.0.1:18812/mcp",
               "--bearer-token-env-var", "MY_TOKEN").returncode == 0  # fmt: skip
    assert (
        mcp(env, "add", "stdio2", "--env", "A=1", "--", "python3", "-u", "/x/y.py").returncode == 0
    )
    expected = (DATA / "mcp_add_preserve.config.toml").read_text()
    assert (env.home / "config.toml").read_text() == expected
    # replacing again keeps the position of the table (keep stays first)
    assert mcp(env, "add", "keep", "--", "cat", "-n").returncode == 0
    text = (env.home / "config.toml").read_text()
    assert text.index("[mcp_servers.keep]") < text.index("[mcp_servers.web]")
    assert "[mcp_servers.keep.env]" not in text
    assert text.startswith('# my comment at top\nmodel = "gpt-5.5"   # inline comment\n\n')


def test_names_are_quoted_when_needed_like_the_capture(env: Any) -> None:
    mcp(env, "add", "my-server", "--env", "A=B", "--", "cat")
    for name in ["MyServer", "my.server", "my/server", "srv:1", "1digit", "a" * 64, "b" * 65,
                 "c" * 300, "a@b"]:  # fmt: skip
        assert mcp(env, "add", name, "--", "echo", "hi").returncode == 0, name
    # `add -- -dash -- echo hi`: the second `--` is taken literally as the command
    assert mcp(env, "add", "--", "-dash", "--", "echo", "hi").returncode == 0
    expected = (DATA / "mcp_names.config.toml").read_text()
    assert (env.home / "config.toml").read_text() == expected


def test_get_and_list_json_match_the_captures(env: Any) -> None:
    mcp(env, "add", "keep", "--env", "B=2", "--", "cat", "-n")
    mcp(
        env,
        "add",
        "web",
        "--url",
        "http://127.0.0.1:18812/mcp",
        "--bearer-token-env-var",
        "MY_TOKEN",
    )
    mcp(env, "add", "stdio2", "--env", "A=1", "--", "python3", "-u", "/x/y.py")
    assert mcp(env, "get", "stdio2", "--json").stdout == (DATA / "mcp_get_stdio.json").read_bytes()
    assert mcp(env, "get", "web", "--json").stdout == (DATA / "mcp_get_web.json").read_bytes()
    assert mcp(env, "list", "--json").stdout == (DATA / "mcp_list.json").read_bytes()
    text = mcp(env, "list").stdout.decode()
    assert "B=*****" in text and "B=2" not in text  # masked in the text form


def test_list_when_nothing_is_configured(env: Any) -> None:
    result = mcp(env, "list")
    assert (result.returncode, result.stdout) == (
        0,
        b"No MCP servers configured yet. Try `codex mcp add my-tool -- my-command`.\n",
    )
    assert mcp(env, "list", "--json").stdout == b"[]\n"


def test_get_of_a_missing_name_fails_and_remove_of_it_succeeds(env: Any) -> None:
    got = mcp(env, "get", "nope")
    assert (got.returncode, got.stdout, got.stderr) == (
        1,
        b"",
        b"Error: No MCP server named 'nope' found.\n",
    )
    removed = mcp(env, "remove", "nope")
    assert (removed.returncode, removed.stdout) == (0, b"No MCP server named 'nope' found.\n")


def test_remove_deletes_the_entry_and_its_env_table(env: Any) -> None:
    mcp(env, "add", "a", "--env", "K=V", "--", "cat")
    mcp(env, "add", "b", "--", "cat")
    result = mcp(env, "remove", "a")
    assert (result.returncode, result.stdout) == (0, b"Removed global MCP server 'a'.\n")
    assert (env.home / "config.toml").read_text() == '[mcp_servers.b]\ncommand = "cat"\n'


@pytest.mark.parametrize(
    ("version", "name", "ok"),
    [
        ("0.169.0", "My.Server", True),
        ("0.169.0", "srv:1", True),
        ("0.169.0", "a@b/c", True),
        ("0.169.0", "has space", False),
        ("0.169.0", "é", False),
        ("0.135.0", "dash-name_1", True),
        ("0.135.0", "My.Server", False),
    ],
)
def test_name_validation_follows_the_emulated_version(
    env: Any, version: str, name: str, ok: bool
) -> None:
    result = mcp(env, "add", name, "--", "cat", scenario=version_scenario(env, version))
    if ok:
        assert result.returncode == 0
        return
    allowed = "'-', '_', ':', '@', '/', '.'" if version == "0.169.0" else "'-', '_'"
    assert result.returncode == 1
    assert result.stderr.decode() == (
        f"Error: invalid server name '{name}' (use letters, numbers, {allowed})\n"
    )
    assert not (env.home / "config.toml").exists()


def test_add_argument_errors_are_clap_errors(env: Any) -> None:
    assert mcp(env, "add", "x").returncode == 2
    bad_env = mcp(env, "add", "x", "--env", "NOEQUALS", "--", "cat")
    assert bad_env.returncode == 2
    assert "environment entries must be in KEY=VALUE form" in bad_env.stderr.decode()


def test_add_refuses_an_unmarked_default_home(env: Any) -> None:
    result = env.run(["mcp", "add", "x", "--", "cat"], extra_env={"CODEX_HOME": ""})
    assert result.returncode == 78
