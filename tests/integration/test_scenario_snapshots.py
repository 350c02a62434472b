"""The canonical events of every fake-codex scenario, snapshotted (ids and paths normalised).

Each scenario runs turn by turn through the real runner and the fake codex, with retries off the
way the conformance harness configures codex, so a change in the fake or the mapping shows here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from .conftest import ProviderOnFake

SCENARIO_DIR = Path(__file__).parents[1] / "fake_codex" / "scenarios"
SCENARIOS = sorted(SCENARIO_DIR.glob("*.json"))
NO_RETRIES = (
    "-c",
    "model_provider=mock",
    "-c",
    'model_providers.mock={name="mock",base_url="http://127.0.0.1:9/v1",'
    'wire_api="responses",request_max_retries=0,stream_max_retries=0}',
)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Tool outputs carry a random chunk id and a measured wall time.
VOLATILE = [
    (re.compile(r"Chunk ID: [0-9a-f]+"), "Chunk ID: <chunk>"),
    (re.compile(r"Wall time:? [0-9.]+ seconds"), "Wall time: <t> seconds"),
]


def normalise(value: Any, root: str, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: normalise(v, root, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, root, ids) for v in value]
    if isinstance(value, str):
        value = value.replace(root, "<tmp>")
        for pattern, replacement in VOLATILE:
            value = pattern.sub(replacement, value)
        return UUID.sub(lambda m: ids.setdefault(m.group(0), f"<thread:{len(ids) + 1}>"), value)
    return value


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


def test_there_are_scenarios_to_snapshot() -> None:
    assert len(SCENARIOS) >= 10


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
async def test_canonical_events_of_each_fake_scenario(
    path: Path, provider: ProviderOnFake, snapshot_json: SnapshotAssertion
) -> None:
    scenario = json.loads(path.read_text())
    provider.monkeypatch.setenv("FAKE_CODEX_SCENARIO", str(path))
    # `*_defaultretries` scenarios show codex's own retries; the others run with retries off.
    retries = () if path.stem.endswith("_defaultretries") else NO_RETRIES
    config = provider.with_config(extra_args=retries)
    ids: dict[str, str] = {}
    turns = []
    for index, turn in enumerate(scenario["turns"]):
        prompt = turn.get("expect_prompt", f"turn {index}")
        events = await provider.turn(prompt, config=config)
        turns.append([normalise(e.to_json(), str(provider.root), ids) for e in events])
    assert turns == snapshot_json
