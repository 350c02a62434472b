"""argv of a codex turn: flag placement, resume, and the prompt never in it."""

from __future__ import annotations

from plexum_openai_provider.codex.argv import BASE_FLAGS, build_exec_argv, redact_argv


def test_new_thread_reads_the_prompt_from_stdin() -> None:
    argv = build_exec_argv("codex", resume_thread_id=None, model_arg=None)
    assert argv == ["codex", "exec", *BASE_FLAGS, "--", "-"]


def test_resume_keeps_every_option_on_exec_before_resume() -> None:
    argv = build_exec_argv(
        "codex", resume_thread_id="t-1", model_arg="gpt-5.5", extra_args=["-s", "read-only"]
    )
    assert argv == [
        "codex", "exec", *BASE_FLAGS, "--model", "gpt-5.5", "-s", "read-only",
        "resume", "--", "t-1", "-",
    ]  # fmt: skip


def test_turn_inputs_go_after_resume_and_right_before_the_double_dash() -> None:
    turn = ["--output-schema", "/t/s.json", "--image", "/t/a.png"]
    argv = build_exec_argv(
        "codex", resume_thread_id="t-1", model_arg=None, extra_args=["-c", "x=1"], turn_args=turn
    )
    assert argv[argv.index("resume") :] == ["resume", *turn, "--", "t-1", "-"]
    fresh = build_exec_argv("codex", resume_thread_id=None, model_arg=None, turn_args=turn)
    assert fresh[-6:] == [*turn, "--", "-"]


def test_default_model_passes_no_model_flag() -> None:
    assert "--model" not in build_exec_argv("codex", resume_thread_id=None, model_arg=None)


def test_secret_looking_config_overrides_are_masked_in_logs() -> None:
    argv = ["codex", "exec", "-c", "model_providers.x.api_key=sk-123", "-c", "model=o3"]
    assert redact_argv(argv) == [
        "codex",
        "exec",
        "-c",
        "model_providers.x.api_key=***",
        "-c",
        "model=o3",
    ]
