"""docs/protocol.md and docs/protocol.schema.json agree with each other and with the code: the
schema is valid 2020-12, every example line of the page validates, every error code is listed."""

from __future__ import annotations

import json
import re
from pathlib import Path

from jsonschema import Draft202012Validator

from plexum_openai_provider import ERROR_CODES
from plexum_openai_provider.door import params
from plexum_openai_provider.door.version import PROTOCOL_VERSION
from plexum_openai_provider.jsonrpc import messages

DOCS = Path(__file__).parents[2] / "docs"
SCHEMA = json.loads((DOCS / "protocol.schema.json").read_text())
PAGE = (DOCS / "protocol.md").read_text()


def examples() -> list[tuple[str, dict[str, object]]]:
    out = []
    for line in PAGE.splitlines():
        if line.startswith(("--> ", "<-- ", "-!> ")):
            out.append((line[:3], json.loads(line[4:])))
    return out


def test_the_schema_is_valid_json_schema_2020_12() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_example_line_of_the_page_validates_in_its_direction() -> None:
    root = Draft202012Validator(SCHEMA)
    to_plugin = root.evolve(schema={"$ref": "#/$defs/toPlugin"})
    to_daemon = root.evolve(schema={"$ref": "#/$defs/toDaemon"})
    found = examples()
    assert len(found) >= 20
    for arrow, message in found:
        check = to_daemon if arrow == "<--" else to_plugin
        problems = [e.message for e in check.iter_errors(message)]
        if arrow == "-!>":
            assert problems, ("meant to be invalid", message)
        else:
            assert problems == [], (arrow, message)


def test_the_page_shows_every_method_and_the_reverse_request() -> None:
    methods = {m.get("method") for _, m in examples()}
    wanted = {"initialize", "turn", "turn/event", "cancel", "consume", "shutdown", "tools/call"}
    assert wanted <= methods


def test_every_error_code_of_the_code_is_in_the_page_table() -> None:
    codes = {
        v
        for module in (messages, params)
        for k, v in vars(module).items()
        if k.isupper() and isinstance(v, int) and k != "MAX_ID_CHARS"
    }
    table = {int(c) for c in re.findall(r"^\| (-32\d{3}) \|", PAGE, flags=re.MULTILINE)}
    assert codes == table


def test_the_schema_lists_exactly_the_canonical_error_codes_and_the_version() -> None:
    assert SCHEMA["$defs"]["errorEvent"]["properties"]["code"]["enum"] == list(ERROR_CODES)
    assert f"version {PROTOCOL_VERSION}" in SCHEMA["title"]
    assert f'(`"{PROTOCOL_VERSION}"`' in PAGE
