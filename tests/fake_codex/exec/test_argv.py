"""argv rules of `codex exec` / `exec resume`, as clap applies them (codex-facts §3, §6)."""

from __future__ import annotations

from typing import Any

import pytest

from fake_codex.core import clap
from fake_codex.exec.args import ExecArgs, HelpRequested, parse_exec_args


def parse(*argv: str) -> ExecArgs:
    result = parse_exec_args(list(argv))
    assert isinstance(result, ExecArgs)
    return result


def test_options_and_prompt_can_come_in_any_order() -> None:
    a = parse("hi", "--json", "-m", "gpt-5.5", "-c", "a=1", "--config=b=2", "-C", "/tmp")
    assert (a.prompt, a.json, a.model, a.config, a.cd) == (
        "hi",
        True,
        "gpt-5.5",
        ("a=1", "b=2"),
        "/tmp",
    )


def test_double_dash_makes_a_dash_prompt_a_positional() -> None:
    assert parse("--json", "--", "--help").prompt == "--help"
    assert parse("--", "-").prompt == "-"
    assert parse("--", "resume").resume is False


def test_a_short_option_glued_to_its_value_takes_the_rest_of_the_argument() -> None:
    # codex-facts §6: "-m x" as ONE argv is -m with the value " x"
    assert parse("-m x").model == " x"
    assert parse("-mgpt").model == "gpt"
    assert parse("-m=gpt").model == "gpt"


def test_help_as_a_bare_prompt_prints_help_instead_of_running() -> None:
    assert isinstance(parse_exec_args(["--json", "--help"]), HelpRequested)


@pytest.mark.parametrize("argv", [["-x"], ["--nope"], ["--json=1"], ["a", "b"], ["--last"]])
def test_unknown_or_misplaced_arguments_are_clap_errors(argv: list[str]) -> None:
    with pytest.raises(clap.UsageError) as info:
        parse_exec_args(argv)
    assert info.value.exit_code == 2
    assert info.value.text.startswith("error: ")


def test_a_value_option_at_the_end_reports_the_missing_value() -> None:
    with pytest.raises(clap.UsageError, match="a value is required for '--model <MODEL>'"):
        parse_exec_args(["-m"])


def test_resume_takes_a_session_id_and_a_prompt_plus_global_options() -> None:
    a = parse("--json", "resume", "--json", "-m", "m2", "-c", "x=1", "ID", "again", "-o", "f")
    assert (a.resume, a.session_id, a.prompt, a.model, a.output_last_message) == (
        True,
        "ID",
        "again",
        "m2",
        "f",
    )


@pytest.mark.parametrize("flag", [["-C", "/tmp"], ["--cd", "/tmp"], ["-s", "read-only"], ["--oss"]])
def test_exec_only_options_are_rejected_after_resume(flag: list[str]) -> None:
    with pytest.raises(clap.UsageError) as info:
        parse_exec_args(["resume", *flag, "ID", "p"])
    assert clap.USAGE_RESUME in info.value.text


def test_resume_last_treats_the_lone_positional_as_the_prompt() -> None:
    a = parse("resume", "--last", "do more")
    assert (a.last, a.session_id, a.prompt) == (True, None, "do more")


def test_sandbox_values_are_checked_like_a_clap_value_enum() -> None:
    with pytest.raises(clap.UsageError, match="possible values: read-only"):
        parse_exec_args(["-s", "everything"])


def test_an_unknown_flag_exits_2_with_clap_text_on_stderr(env: Any) -> None:
    result = env.run(["exec", "--skip-git-repo-check", "--json", "-x", "hi"])
    assert result.returncode == 2
    assert result.stdout == b""
    err = result.stderr.decode()
    assert err.startswith("error: unexpected argument '-x' found\n")
    assert "tip: to pass '-x' as a value, use '-- -x'" in err
    assert "Usage: codex exec [OPTIONS] [PROMPT]" in err
    assert err.endswith("For more information, try '--help'.\n")


def test_cd_after_resume_exits_2_from_a_real_process(env: Any) -> None:
    result = env.run(["exec", "resume", "-C", "/tmp", "some-id", "hi"])
    assert result.returncode == 2
    assert "error: unexpected argument '-C' found" in result.stderr.decode()


def test_help_after_double_dash_is_sent_as_the_prompt(env: Any) -> None:
    result = env.run(["exec", "--skip-git-repo-check", "--json", "--", "--help"], stdin=None)
    assert result.returncode == 0
    answer = env.parse_jsonl(result.stdout)[2]["item"]["text"]
    assert answer == "fake-codex received your prompt: --help"


def test_help_without_double_dash_prints_help_and_runs_no_turn(env: Any) -> None:
    result = env.run(["exec", "--skip-git-repo-check", "--json", "--help"], stdin=None)
    assert result.returncode == 0
    assert b"Usage: codex exec" in result.stdout
    assert env.rollouts() == []


def test_an_unknown_subcommand_is_a_clap_error(env: Any) -> None:
    result = env.run(["frobnicate"])
    assert result.returncode == 2
    assert result.stderr.decode().startswith("error: unrecognized subcommand 'frobnicate'")
