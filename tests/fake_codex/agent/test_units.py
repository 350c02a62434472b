"""Pure parts of fake_codex/agent, called directly: error texts, patches, history checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_codex.agent.model_errors import describe_failure
from fake_codex.agent.tools import PatchError, apply_patch
from fake_codex.core.scenario import Reply
from fake_codex.core.versions import behaviour_for

SCENARIOS = Path(__file__).parents[1] / "scenarios"


@pytest.mark.parametrize(
    ("version", "apostrophe"), [("0.169.0", "’"), ("0.150.1", "'"), ("0.135.0", "'")]
)
def test_the_http_500_text_uses_the_apostrophe_of_each_version(
    version: str, apostrophe: str
) -> None:
    failure = describe_failure(
        Reply(end="http_error", http_status=500, body="x"), behaviour_for(version), "u"
    )
    assert failure is not None
    assert failure.message.startswith(f"We{apostrophe}re currently")


@pytest.mark.parametrize(
    ("reply", "old", "new"),
    [
        (
            Reply(end="failed", error_code="rate_limit_exceeded", error_message="Slow down."),
            "stream disconnected before completion: Slow down.",
            "rate limit exceeded: Slow down.",
        ),
        (
            Reply(end="incomplete", incomplete_reason="max_output_tokens"),
            "stream disconnected before completion: Incomplete response returned, reason: "
            "max_output_tokens",
            "Incomplete response returned, reason: max_output_tokens",
        ),
        (
            Reply(
                end="http_error",
                http_status=404,
                body={"error": {"message": "No model", "code": "model_not_found"}},
            ),
            "unexpected status 404 Not Found: No model, url: u",
            "No model",
        ),
        (
            Reply(
                end="http_error", http_status=429, body={"error": {"code": "insufficient_quota"}}
            ),
            "exceeded retry limit, last status: 429 Too Many Requests",
            "Quota exceeded. Check your plan and billing details.",
        ),
    ],
)
def test_error_texts_changed_in_0_169(reply: Reply, old: str, new: str) -> None:
    """Real 0.135.0 / 0.150.1 vs 0.169.0 (conformance err_* scenarios)."""
    for version, want in [("0.135.0", old), ("0.150.1", old), ("0.169.0", new)]:
        failure = describe_failure(reply, behaviour_for(version), "u")
        assert failure is not None and failure.message == want, version


def test_apply_patch_adds_updates_and_deletes_files(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("one\ntwo\nthree\n")
    (tmp_path / "gone.txt").write_text("bye\n")
    patch = (
        "*** Begin Patch\n*** Add File: new/hello.txt\n+hello\n"
        "*** Update File: old.txt\n@@\n one\n-two\n+TWO\n three\n"
        "*** Delete File: gone.txt\n*** End Patch\n"
    )
    result = apply_patch(patch, tmp_path)
    assert (tmp_path / "new/hello.txt").read_text() == "hello\n"
    assert (tmp_path / "old.txt").read_text() == "one\nTWO\nthree\n"
    assert not (tmp_path / "gone.txt").exists()
    assert [kind for _, kind, _ in result.changes] == ["add", "update", "delete"]
    assert result.summary == (
        "Success. Updated the following files:\nA new/hello.txt\nM old.txt\nD gone.txt\n"
    )


def test_a_patch_that_fails_verification_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x\n")
    patch = (
        "*** Begin Patch\n*** Add File: b.txt\n+b\n"
        "*** Update File: a.txt\n@@\n-nope\n+y\n*** End Patch"
    )
    with pytest.raises(PatchError):
        apply_patch(patch, tmp_path)
    assert not (tmp_path / "b.txt").exists()


def test_history_mismatches_say_what_was_expected_and_what_the_history_holds() -> None:
    from fake_codex.agent.history import check_history

    lacks = check_history("user: hi\nassistant: yo", ("payload",), ())
    expected = "the history lacks 'payload'; it holds 'user: hi\\nassistant: yo'"
    assert lacks == f"expect_history_contains: {expected}"
    text = "a" * 500 + " secret payload " + "b" * 500
    holds = check_history(text, (), ("payload",))
    assert holds is not None and holds.startswith(
        "expect_history_excludes: the history contains 'payload', here: '"
    )
    assert "secret payload" in holds and len(holds) < 400
    assert check_history("fine", ("fine",), ("bad",)) is None


# -- codex's pairing repair before each request (history.for_prompt), as the real binaries do ---

_FC = {"type": "function_call", "name": "exec_command", "arguments": "{}", "call_id": "c1"}
_CTC = {"type": "custom_tool_call", "name": "exec", "input": "text(1)", "call_id": "c2"}
_SAID = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "x"}]}


def test_a_call_without_output_gets_aborted_right_after_it_and_its_id_from_0_150() -> None:
    from fake_codex.agent.history import for_prompt

    old = for_prompt([_FC, _SAID, _CTC], 135)
    assert old == [
        _FC,
        {"type": "function_call_output", "call_id": "c1", "output": "aborted"},
        _SAID,
        _CTC,
        {"type": "custom_tool_call_output", "call_id": "c2", "output": "aborted"},
    ]
    new = for_prompt([_FC, _SAID, _CTC], 171)
    assert new[1]["id"].startswith("fco_") and new[4]["id"].startswith("ctco_")
    assert list(new[1]) == ["type", "id", "call_id", "output"]
    assert for_prompt([_FC], 171)[1]["id"] == new[1]["id"], "fixed per call, like codex's"


def test_an_output_without_its_call_kind_is_dropped_and_order_is_not_repaired() -> None:
    from fake_codex.agent.history import for_prompt
    from fake_codex.core.pairing import violations

    orphan = {"type": "function_call_output", "call_id": "gone", "output": "x"}
    wrong_kind = {"type": "custom_tool_call_output", "call_id": "c1", "output": "y"}
    answer = {"type": "function_call_output", "call_id": "c1", "output": "z"}
    assert for_prompt([orphan, _FC, wrong_kind, answer], 150) == [_FC, answer]
    early = [answer, _FC]  # an output before its call: codex sends it, the API says 400
    assert for_prompt(early, 169) == early
    assert violations(for_prompt(early, 169))
