"""The REAL codex (0.169.0) against a fake Responses server answering with HTTP errors, and against
no server at all: what the host is told for each, on the provider's own turn."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest

from fake_codex.responses.server import ResponsesServer
from fake_codex.testing.plugin import RealCodexInstalls
from fake_codex.testing.real_env import codex_env, provider_args
from plexum_openai_provider import ErrorEvent, HostConfig, TurnLimits, TurnRequest, run_turn

pytestmark = pytest.mark.e2e
VERSION = "0.169.0"
LIMITS = TurnLimits(kill_grace_s=1.0, post_exit_drain_s=0.5)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "codex-home"
    path.mkdir()
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in codex_env(path).items():
        monkeypatch.setenv(key, value)
    return path


def config_for(binary: Path, home: Path, base_url: str) -> HostConfig:
    return HostConfig(
        binary=str(binary),
        codex_home=str(home),
        idle_timeout_s=30,
        turn_timeout_s=60,
        supported_models=("codex", "wrong"),
        model_args={"wrong": "no-such-model"},
        extra_args=tuple(provider_args(base_url, VERSION)),
    )


CASES: dict[str, tuple[dict[str, Any], str, str, str]] = {
    # status → (reply, model id, expected code, a phrase the user must see)
    "400": (
        {
            "http_status": 400,
            "body": {
                "error": {
                    "message": "Your input exceeds the context window of this model.",
                    "type": "invalid_request_error",
                    "param": "input",
                    "code": "context_length_exceeded",
                }
            },
        },
        "codex",
        "turn_failed",
        "context window",
    ),
    "401": (
        {"http_status": 401, "body": {"error": {"message": "Incorrect API key provided"}}},
        "codex",
        "auth",
        "codex login",
    ),
    "404": (
        {
            "http_status": 404,
            "body": {
                "error": {
                    "message": "The model `no-such-model` does not exist",
                    "type": "invalid_request_error",
                    "code": "model_not_found",
                }
            },
        },
        "wrong",
        "model_rejected",
        "model_args",
    ),
    "429": (
        {"http_status": 429, "body": {"error": {"message": "Rate limit reached"}}},
        "codex",
        "turn_failed",
        "",
    ),
    "500": (
        {"http_status": 500, "body": "internal error"},
        "codex",
        "turn_failed",
        "",
    ),
}


@pytest.mark.parametrize("status", sorted(CASES))
async def test_an_http_error_from_the_model_server_ends_the_turn_with_one_clear_error(
    status: str, home: Path, tmp_path: Path, real_codex_installs: RealCodexInstalls
) -> None:
    reply, model, code, phrase = CASES[status]
    async with ResponsesServer([reply]) as server:
        config = config_for(real_codex_installs.binary(VERSION), home, server.base_url)
        request = TurnRequest(prompt="hi", workspace=tmp_path, model=model)
        events = await run_turn(config, request, LIMITS)
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code == code, end
    assert phrase in end.message
    assert [e.type for e in events].count("error") == 1


async def test_a_dead_network_ends_the_turn_with_one_error(
    home: Path, tmp_path: Path, real_codex_installs: RealCodexInstalls
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = config_for(real_codex_installs.binary(VERSION), home, f"http://127.0.0.1:{port}/v1")
    events = await run_turn(config, TurnRequest(prompt="hi", workspace=tmp_path), LIMITS)
    end = events[-1]
    assert isinstance(end, ErrorEvent) and end.code in ("turn_failed", "idle_timeout"), end
    assert [e.type for e in events].count("error") == 1
