"""The command line's parser: a known command builds only its own subparser (a cold `say` pays for
no other), and parses exactly as the whole parser does; the top level's help lists every command;
help text is as wide as the terminal says (`COLUMNS`), with no shutil import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from plexum_openai_provider.cli import COMMANDS, _parser

SAMPLES = [
    ["say", "--json", "--no-tools", "--workspace", "/w", "--", "hi", "there"],
    ["say", "--image", "a.png", "--image", "b.png", "--sandbox", "read-only", "-"],
    ["serve", "--max-line-bytes", "1024", "--verbose"],
    ["consume", "--json", "--session", "s", "b1", "b2"],
    ["doctor", "--json"],
    ["install", "--force"],
    ["demo", "--keep"],
    ["mcp-host"],
]


@pytest.mark.parametrize("argv", SAMPLES, ids=lambda argv: argv[0])
def test_a_commands_own_parser_parses_as_the_whole_one(argv: list[str]) -> None:
    assert vars(_parser(argv[0]).parse_args(argv)) == vars(_parser().parse_args(argv))


def test_the_top_level_help_lists_every_command() -> None:
    text = _parser().format_help()
    assert [name for name in COMMANDS if name not in text] == []
    assert _parser("--help").format_help() == text  # not a command: the whole parser


def test_help_is_as_wide_as_columns_says_and_shutil_is_not_imported() -> None:
    code = (
        "import sys; from plexum_openai_provider.cli import _parser; "
        "print(_parser('say').format_help()); print('shutil' in sys.modules)"
    )

    def help_at(columns: str) -> list[str]:
        env = {"COLUMNS": columns, "PATH": "/usr/bin:/bin"}
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        assert run.returncode == 0, run.stderr
        *lines, imported = run.stdout.rstrip("\n").splitlines()
        assert imported == "False"
        return lines

    narrow, wide = help_at("40"), help_at("200")
    assert max(map(len, narrow)) <= 38 < max(map(len, wide))  # argparse keeps a margin of 2
