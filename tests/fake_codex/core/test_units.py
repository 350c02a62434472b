"""Pure parts of fake_codex/core, called directly: scenarios, config, versions, events, ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_codex.core.config import apply_override, settings_from
from fake_codex.core.events import Totals
from fake_codex.core.ids import is_uuid, uuid7
from fake_codex.core.invocation_log import redact_env
from fake_codex.core.output import encode
from fake_codex.core.scenario import ScenarioError, load_scenario, parse_scenario
from fake_codex.core.versions import behaviour_for

SCENARIOS = Path(__file__).parents[1] / "scenarios"


def test_every_test_scenario_file_parses() -> None:
    for path in SCENARIOS.glob("*.json"):
        assert load_scenario(path).turns, path


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        (
            {"turns": [{"requests": [{"output": [{"type": "mesage"}]}]}]},
            "$.turns[0].requests[0].output[0].type",
        ),
        ({"turns": [{"requests": [{"http_status": "500"}]}]}, "$.turns[0].requests[0].http_status"),
        ({"turns": [{"faults": {"crash_after": 1}}]}, "$.turns[0].faults"),
        ({"turns": [], "schema_version": 2}, "$.schema_version"),
        ({"turns": [{"requests": [{"end": "exploded"}]}]}, "$.turns[0].requests[0].end"),
    ],
)
def test_a_bad_scenario_names_the_file_and_the_json_path(doc: object, where: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(doc, "s.json")
    assert str(info.value).startswith(f"s.json: {where}: ")


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{nope")
    with pytest.raises(ScenarioError, match=r"broken\.json: \$: invalid JSON"):
        load_scenario(path)


def test_provider_overrides_parse_toml_inline_tables_and_dotted_keys() -> None:
    config: dict[str, object] = {}
    apply_override(config, "model_provider=mock")
    apply_override(config, 'model_providers.mock={base_url="http://h:1/v1/",stream_max_retries=0}')
    apply_override(config, "model_providers.mock.request_max_retries=0")
    s = settings_from(config, None)
    assert (s.url, s.stream_max_retries, s.request_max_retries) == ("http://h:1/v1/responses", 0, 0)


def test_without_a_provider_the_url_is_openai_and_retries_are_the_defaults() -> None:
    s = settings_from({}, "m")
    assert (s.url, s.stream_max_retries, s.model) == ("https://api.openai.com/v1/responses", 5, "m")


def test_a_non_toml_override_value_is_kept_as_a_string() -> None:
    config: dict[str, object] = {}
    apply_override(config, "model=gpt 5 with spaces")
    assert config["model"] == "gpt 5 with spaces"


def test_known_models_decide_compaction_and_the_metadata_warning() -> None:
    v150, v169 = behaviour_for("0.150.1"), behaviour_for("0.169.0")
    assert v150.compacts_on_switch("gpt-5.5", "gpt-5.6-sol")
    assert not v150.compacts_on_switch("gpt-5.5", "gpt-5.4")
    assert not v169.compacts_on_switch("gpt-5.4", "gpt-5.5")
    assert not behaviour_for("0.135.0").compacts_on_switch("gpt-5.5", "gpt-5.6-sol")
    # Real 0.150.1 warns too (for the gpt-6 models it has no metadata for); 0.135.0 never does.
    assert v169.model_metadata_warning and v150.model_metadata_warning
    assert not behaviour_for("0.135.0").model_metadata_warning
    assert behaviour_for("0.171.0").compacts_on_switch("gpt-6.1-sol", "gpt-6.2-sol")
    assert not v169.compacts_on_switch("gpt-6.1-sol", "gpt-6.2-sol")
    assert not v169.knows_model("gpt-5.4") and v169.knows_model("gpt-6.1-sol")


def test_versions_map_to_the_nearest_known_behaviour_below() -> None:
    assert behaviour_for("0.140.2").family == 135
    assert behaviour_for("0.168.0").family == 150
    assert behaviour_for("0.169.3").family == 169
    assert behaviour_for("0.170.9").family == 169
    assert behaviour_for("0.171.0").family == 171
    assert behaviour_for("0.171.4").version == "0.171.4"
    with pytest.raises(ValueError, match="unsupported"):
        behaviour_for("0.100.0")


@pytest.mark.parametrize(
    ("version", "nearest"),
    [
        ("0.135.0", "0.135.0"),
        ("0.149.99", "0.135.0"),
        ("0.150.1", "0.150.1"),
        ("0.150.0", "0.135.0"),
        ("0.170.0", "0.169.0"),
        ("0.171.0", "0.171.0"),
        ("0.180.2", "0.171.0"),
        ("1.0.0", "0.171.0"),
        ("0.100.0", "0.135.0"),
        ("not-a-version", "0.171.0"),
    ],
)
def test_the_nearest_known_version_is_the_newest_at_or_below_else_the_oldest(
    version: str, nearest: str
) -> None:
    from fake_codex.core.versions import nearest_known

    assert nearest_known(version) == nearest


@pytest.mark.parametrize(
    ("version", "nearest"), [("0.180.0", "0.171.0"), ("0.100.0", "0.135.0"), ("1.2.3", "0.171.0")]
)
def test_an_unknown_version_is_refused_naming_the_nearest_known_one(
    version: str, nearest: str
) -> None:
    with pytest.raises(ValueError) as caught:
        behaviour_for(version)
    message = str(caught.value)
    assert f"the nearest known version is {nearest}" in message
    assert "0.135.0, 0.150.1, 0.169.0, 0.171.0" in message
    assert "conformance/README.md" in message


def test_every_known_version_has_a_default_model_and_a_model_table() -> None:
    from fake_codex.core.versions import KNOWN_VERSIONS

    defaults = {v: behaviour_for(v).default_model for v in KNOWN_VERSIONS}
    assert defaults == {
        "0.135.0": "gpt-5.5",
        "0.150.1": "gpt-5.6-sol",
        "0.169.0": "gpt-6.1-sol",
        "0.171.0": "gpt-6.2-sol",
    }
    assert all(behaviour_for(v).knows_model(m) for v, m in defaults.items())


def test_web_search_items_keep_their_duplicate_id_key_raw() -> None:
    from fake_codex.core.events import web_search

    assert encode(web_search("item_3", "ws_1", "q")) == (
        '{"id":"item_3","type":"web_search","id":"ws_1","query":"q",'
        '"action":{"type":"search","query":"q"}}'
    )


def test_usage_objects_drop_cache_write_for_0_135() -> None:
    assert "cache_write_input_tokens" not in Totals(1, 2, 3, 4, 5).as_exec(cache_write=False)
    assert Totals(1, 2, 3, 4, 5).as_rollout(cache_write=True)["total_tokens"] == 5


def test_uuid7_ids_are_version_7_and_time_ordered() -> None:
    a, b = uuid7(1_000), uuid7(2_000)
    assert is_uuid(a) and a[14] == "7" and a < b


def test_secret_looking_environment_values_are_redacted() -> None:
    env = {
        "PLEXUM_TOKEN": "t",
        "PLEXUM_X": "sk-abc",
        "PLEXUM_Y": "ok",
        "PATH": "/bin",
        "OTHER": "x",
    }
    assert redact_env(env) == {
        "PATH": "/bin",
        "PLEXUM_TOKEN": "<redacted>",
        "PLEXUM_X": "<redacted>",
        "PLEXUM_Y": "ok",
    }
