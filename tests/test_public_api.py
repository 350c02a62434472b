"""The package root is the public API: every name in `__all__` resolves, and importing the root
alone stays light (it is on `mcp-host`'s path, which codex starts on every exec)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import plexum_openai_provider as pkg
from plexum_openai_provider import errors, events


@pytest.mark.parametrize("name", pkg.__all__)
def test_every_name_in_all_resolves_from_the_package_root(name: str) -> None:
    assert getattr(pkg, name) is not None
    assert name in dir(pkg)


def test_the_root_exports_the_turn_api_config_consume_and_every_event_and_error() -> None:
    wanted = {"open_turn", "run_turn", "TurnRequest", "TurnLimits", "Turn", "ToolSpec"}
    wanted |= {"ToolCallback", "load_config", "HostConfig", "consume_blocks", "ConsumeResult"}
    wanted |= {
        name
        for module in (events, errors)
        for name, value in vars(module).items()
        if isinstance(value, type)
        and value.__module__ == module.__name__
        and not name.startswith("_")
    }
    assert wanted <= set(pkg.__all__)


def test_every_error_the_package_raises_derives_from_provider_error() -> None:
    for name, value in vars(errors).items():
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, pkg.ProviderError), name


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = pkg.no_such_name  # type: ignore[attr-defined]


def test_importing_the_package_root_loads_neither_asyncio_nor_mcp() -> None:
    code = "import json, sys; import plexum_openai_provider;print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    loaded = set(json.loads(out))
    assert "asyncio" not in loaded
    assert not {m for m in loaded if m == "mcp" or m.startswith("mcp.")}
    assert {m for m in loaded if m.startswith("plexum_openai_provider")} == {
        "plexum_openai_provider",
        "plexum_openai_provider.version",
    }


@pytest.mark.parametrize(("name", "loads_asyncio"), [("open_turn", True), ("TurnRequest", False)])
def test_a_public_name_loads_its_module_on_first_use(name: str, loads_asyncio: bool) -> None:
    code = (
        f"import json, sys; from plexum_openai_provider import {name};"
        "print(json.dumps(['asyncio' in sys.modules, 'mcp' in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    # The turn needs asyncio, a request does not (a cold `say` builds one and starts codex before
    # asyncio loads); the `mcp` SDK is only for turns that offer tools.
    assert json.loads(out) == [loads_asyncio, False]
