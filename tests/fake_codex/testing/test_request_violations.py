"""The plugin fails a suite that sent a request the API would reject (tool-call pairing), loudly:
the test during which it happened and the session; a test marked as breaking it on purpose
does not."""

from __future__ import annotations

import pytest

ENABLE = 'pytest_plugins = ["fake_codex.testing.plugin"]\n'
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
BROKEN = """
import json, urllib.error, urllib.request

import pytest

def send_orphan_output(server, tmp_path):
    server.write_scenario(tmp_path / "scenario.json", {"schema_version": 1, "turns": [
        {"requests": [{"output": [{"type": "message", "text": "x"}]}]}]})
    body = {"model": "m", "input": [
        {"type": "function_call_output", "call_id": "call_lost", "output": "x"}]}
    request = urllib.request.Request(server.base_url + "/responses",
        data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200

MARK

def test_sends_a_broken_request(codex_responses_server, tmp_path):
    assert send_orphan_output(codex_responses_server, tmp_path) == 400

def test_after_it_passes():
    pass
"""


@pytest.fixture(autouse=True)
def enable(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makeconftest(ENABLE)


def test_a_request_the_api_would_reject_fails_its_test_and_the_session(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(BROKEN.replace("MARK", ""))
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*requests the OpenAI API would reject (HTTP 400)*",
            "fake Responses server: No tool call found for function call output with call_id "
            "call_lost.",
            "*ERROR at teardown of test_sends_a_broken_request*",
            "a request the OpenAI API would reject with HTTP 400: fake Responses server: "
            "No tool call found for function call output with call_id call_lost.",
        ]
    )


def test_under_xdist_the_controller_reports_what_a_worker_found(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(BROKEN.replace("MARK", ""))
    result = pytester.runpytest_subprocess("-n", "1", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*requests the OpenAI API would reject (HTTP 400)*",
            "fake Responses server: No tool call found for function call output with call_id "
            "call_lost.",
        ]
    )


def test_a_test_marked_as_breaking_it_on_purpose_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(BROKEN.replace("MARK", "pytestmark = pytest.mark.codex_request_violations"))
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    assert "would reject" not in result.stdout.str()
