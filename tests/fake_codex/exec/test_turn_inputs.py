"""`--image`, `--output-schema` and the reasoning effort, as the real codex 0.135–0.171 handle
them (measured against the fake Responses server, issue 13): argv placement, what the model
request carries (the fake's `model_request` log record), the rollout, what exec prints."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from fake_codex.core import clap
from fake_codex.exec.args import ExecArgs, parse_exec_args


def png(width: int = 2, height: int = 2) -> bytes:
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}


def parse(*argv: str) -> ExecArgs:
    result = parse_exec_args(list(argv))
    assert isinstance(result, ExecArgs)
    return result


# -- argv ----------------------------------------------------------------------------------------


def test_image_takes_every_plain_argument_up_to_the_next_option_and_splits_commas() -> None:
    a = parse("--image", "a.png", "b.png,c.png", "-i", "d.png", "--json", "--", "prompt")
    assert a.images == ("a.png", "b.png", "c.png", "d.png")
    assert a.prompt == "prompt"


def test_image_with_an_equals_sign_takes_one_value_and_leaves_the_prompt() -> None:
    a = parse("--image=a.png", "prompt")
    assert (a.images, a.prompt) == (("a.png",), "prompt")


def test_image_before_resume_swallows_resume_and_clap_rejects_the_rest() -> None:
    # real 0.135–0.171: rc 2 "unexpected argument '-' found", no tip (it came after `--`)
    with pytest.raises(clap.UsageError) as info:
        parse_exec_args(["--image", "a.png", "resume", "--", "id", "-"])
    assert info.value.exit_code == 2
    assert info.value.text.startswith("error: unexpected argument '-' found\n\nUsage: codex exec")


def test_image_and_output_schema_are_accepted_after_resume() -> None:
    a = parse("resume", "--image", "a.png", "--output-schema", "s.json", "--", "id", "-")
    assert (a.resume, a.images, a.output_schema, a.session_id) == (
        True,
        ("a.png",),
        "s.json",
        "id",
    )


# -- runs ----------------------------------------------------------------------------------------


def _run(env: Any, *args: str, version: str = "0.169.0", log: bool = True) -> Any:
    doc = {
        "schema_version": 1,
        "codex_version": version,
        "turns": [{"requests": [{"output": [{"type": "message", "text": '{"a":"x"}'}]}]}] * 2,
    }
    scenario = env.root / "turns.json"
    scenario.write_text(json.dumps(doc))
    extra = {"FAKE_CODEX_LOG": str(env.root / "log.jsonl")} if log else None
    argv = ["exec", *env.provider_args(False), *env.EXEC_FLAGS, *args]
    return env.run(argv, scenario=scenario, stdin=b"look", extra_env=extra)


def _model_request(env: Any) -> dict[str, Any]:
    lines = (env.root / "log.jsonl").read_text().splitlines()
    record: dict[str, Any] = json.loads(lines[-1])["model_request"]
    return record


def _user_lines(env: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The last user message response item and the last user event of the rollout."""
    (path,) = env.rollouts()
    lines = env.rollout_lines(path)
    items = [
        ln["payload"]
        for ln in lines
        if ln["type"] == "response_item" and ln["payload"].get("role") == "user"
    ]
    events = [
        ln["payload"]
        for ln in lines
        if ln["type"] == "event_msg"
        and (
            ln["payload"]["type"] == "user_message"
            or ln["payload"].get("item", {}).get("type") == "UserMessage"
        )
    ]
    return items[-1], events[-1]


def test_a_png_reaches_the_request_as_its_own_bytes_in_a_data_url_between_tags(env: Any) -> None:
    data = png()
    (env.cwd / "a.png").write_bytes(data)
    result = _run(env, "--image", "a.png", "--", "-")
    assert result.returncode == 0, result.stderr
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    assert _model_request(env)["user"] == [
        {"type": "input_text", "text": '<image name=[Image #1] path="a.png">'},
        {"type": "input_image", "image_url": url},
        {"type": "input_text", "text": "</image>"},
        {"type": "input_text", "text": "look"},
    ]
    item, event = _user_lines(env)
    assert item["content"][1] == {"type": "input_image", "image_url": url, "detail": "original"}
    assert item["internal_chat_message_metadata_passthrough"]["content_item_kinds"] == [
        "user.text",
        "user.image",
        "user.text",
        "user.text",
    ]
    assert event["item"]["content"] == [
        {"type": "local_image", "path": "a.png"},
        {"type": "text", "text": "look", "text_elements": []},
    ]
    # exec --json shows nothing of the image
    types = [e["type"] for e in env.parse_jsonl(result.stdout)]
    assert types == ["thread.started", "turn.started", "item.completed", "turn.completed"]


def test_0135_sends_no_path_and_detail_high_and_lists_local_images(env: Any) -> None:
    (env.cwd / "a.png").write_bytes(png())
    assert _run(env, "-i", "a.png", "--", "-", version="0.135.0").returncode == 0
    user = _model_request(env)["user"]
    assert user[0] == {"type": "input_text", "text": "<image name=[Image #1]>"}
    assert user[1]["detail"] == "high"
    _item, event = _user_lines(env)
    assert (event["type"], event["local_images"]) == ("user_message", ["a.png"])


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (
            "0.169.0",
            [
                "Codex could not read the local image at `gone.png`: No such file or directory "
                "(os error 2)",
                '<image name=[Image #2] path="notes.txt">',
                "image content omitted because it could not be processed",
                "</image>",
                "look",
            ],
        ),
        (
            "0.135.0",
            [
                "Codex could not read the local image at `gone.png`: No such file or directory "
                "(os error 2)",
                "Codex cannot attach image at `notes.txt`: unsupported image `text/plain`.",
                "look",
            ],
        ),
    ],
)
def test_a_missing_file_or_a_non_image_becomes_a_note_and_the_turn_still_runs(
    env: Any, version: str, expected: list[str]
) -> None:
    (env.cwd / "notes.txt").write_text("not an image")
    result = _run(env, "--image", "gone.png,notes.txt", "--", "-", version=version)
    assert result.returncode == 0
    assert [p["text"] for p in _model_request(env)["user"]] == expected


def test_a_gif_is_a_fake_limitation_not_a_silent_difference(env: Any) -> None:
    (env.cwd / "c.gif").write_bytes(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")
    result = _run(env, "--image", "c.gif", "--", "-")
    assert result.returncode == 70
    assert b"would be re-encoded by codex" in result.stderr


def test_output_schema_reaches_the_request_and_exec_prints_the_reply_as_is(env: Any) -> None:
    (env.cwd / "s.json").write_text(json.dumps(SCHEMA))
    result = _run(env, "--output-schema", "s.json", "--", "-")
    assert result.returncode == 0
    assert _model_request(env)["text_format"] == {
        "type": "json_schema",
        "strict": True,
        "schema": SCHEMA,
        "name": "codex_output_schema",
    }
    events = env.parse_jsonl(result.stdout)
    assert events[2]["item"]["text"] == '{"a":"x"}'


def test_without_output_schema_the_request_has_no_text_format(env: Any) -> None:
    assert _run(env, "--", "-").returncode == 0
    assert _model_request(env)["text_format"] is None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("gone.json", None, "Failed to read output schema file gone.json: No such file"),
        ("bad.json", "{nope", "Output schema file bad.json is not valid JSON: "),
    ],
)
def test_an_unreadable_or_non_json_schema_file_is_exit_1_before_any_turn(
    env: Any, name: str, content: str | None, message: str
) -> None:
    if content is not None:
        (env.cwd / name).write_text(content)
    result = _run(env, "--output-schema", name, "--", "-")
    assert (result.returncode, result.stdout) == (1, b"")
    assert result.stderr.decode().startswith(message)
    assert env.rollouts() == []


def test_any_json_value_is_sent_as_the_schema_unchecked(env: Any) -> None:
    (env.cwd / "s.json").write_text("[1, 2]")
    assert _run(env, "--output-schema", "s.json", "--", "-").returncode == 0
    assert _model_request(env)["text_format"]["schema"] == [1, 2]


@pytest.mark.parametrize(("version", "default"), [("0.135.0", "medium"), ("0.169.0", "low")])
def test_the_effort_is_the_override_else_the_default_models(
    env: Any, version: str, default: str
) -> None:
    assert _run(env, "--", "-", version=version).returncode == 0
    assert _model_request(env)["reasoning_effort"] == default
    _run(env, "-c", 'model_reasoning_effort="xhigh"', "--", "-", version=version)
    assert _model_request(env)["reasoning_effort"] == "xhigh"
    (path,) = [p for p in env.rollouts() if "xhigh" in p.read_text()]
    contexts = [ln["payload"] for ln in env.rollout_lines(path) if ln["type"] == "turn_context"]
    keys = list(contexts[-1])
    assert (contexts[-1]["effort"], keys.index("effort") + 1) == ("xhigh", keys.index("summary"))


def test_0135_refuses_an_unknown_effort_and_0169_sends_it(env: Any) -> None:
    old = _run(env, "-c", 'model_reasoning_effort="bogus"', "--", "-", version="0.135.0")
    assert old.returncode == 1
    assert old.stderr.decode() == (
        "Error loading config.toml: unknown variant `bogus`, expected one of `none`, "
        "`minimal`, `low`, `medium`, `high`, `xhigh`\nin `model_reasoning_effort`\n\n"
    )
    new = _run(env, "-c", 'model_reasoning_effort="bogus"', "--", "-", version="0.169.0")
    assert new.returncode == 0
    assert _model_request(env)["reasoning_effort"] == "bogus"


@pytest.mark.parametrize(
    ("override", "version", "rc"),
    [
        ('web_search="indexed"', "0.135.0", 1),
        ('web_search="indexed"', "0.169.0", 0),
        ('web_search="sometimes"', "0.169.0", 1),
        ('model_verbosity="loud"', "0.169.0", 1),
        ('model_reasoning_summary="detailed"', "0.150.1", 0),
    ],
)
def test_enum_config_values_are_checked_like_codex(
    env: Any, override: str, version: str, rc: int
) -> None:
    result = _run(env, "-c", override, "--", "-", version=version)
    assert result.returncode == rc
    if rc:
        assert b"Error loading config.toml: unknown variant" in result.stderr


def test_a_resumed_turn_gets_its_own_image_schema_and_effort_not_the_previous_ones(
    env: Any,
) -> None:
    (env.cwd / "a.png").write_bytes(png())
    (env.cwd / "s.json").write_text(json.dumps(SCHEMA))
    first = _run(
        env, "--image", "a.png", "--output-schema", "s.json", "-c", "model_reasoning_effort=high"
    )
    assert first.returncode == 0
    thread = env.parse_jsonl(first.stdout)[0]["thread_id"]
    second = _run(env, "resume", "--", thread, "-")
    assert second.returncode == 0
    record = _model_request(env)
    assert record == {
        "user": [{"type": "input_text", "text": "look"}],
        "text_format": None,
        "reasoning_effort": "low",
    }


def test_the_image_data_url_counts_for_expect_history_contains(env: Any, tmp_path: Path) -> None:
    data = png()
    (env.cwd / "a.png").write_bytes(data)
    doc = {
        "schema_version": 1,
        "turns": [
            {
                "requests": [{"output": [{"type": "message", "text": "ok"}]}],
                "expect_history_contains": [base64.b64encode(data).decode()[:40], "[Image #1]"],
            }
        ],
    }
    scenario = tmp_path / "history.json"
    scenario.write_text(json.dumps(doc))
    argv = ["exec", *env.provider_args(False), *env.EXEC_FLAGS, "--image", "a.png", "--", "x"]
    result = env.run(argv, scenario=scenario)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("version", "effort"), [("0.150.1", "low"), ("0.169.0", "high")])
def test_a_config_override_after_resume_drops_those_before_it_on_0150_not_on_0169(
    env: Any, version: str, effort: str
) -> None:
    first = _run(env, "--", "-", version=version)
    thread = env.parse_jsonl(first.stdout)[0]["thread_id"]
    # the effort before `resume` is lost on 0.150 once any `-c` follows `resume`
    argv = ["-c", 'model_reasoning_effort="high"', "resume", "-c", "x=1", "--", thread, "-"]
    assert _run(env, *argv, version=version).returncode == 0
    assert _model_request(env)["reasoning_effort"] == effort
