"""pytest fixtures to test a codex wrapper on the fake codex and on a real, pinned codex.

Opt-in, never auto-loaded: `pytest_plugins = ["fake_codex.testing.plugin"]` or `-p
fake_codex.testing.plugin` (docs/testing-with-fake-codex.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_codex.core.versions import KNOWN_VERSIONS
from fake_codex.testing import real_codex as installer
from fake_codex.testing.fakes import FakeCodex, FakeResponsesServer, RealCodex
from fake_codex.testing.homes import isolated_home
from fake_codex.testing.violations import Violations, describe

BACKENDS = ("fake", "real")
_VIOLATIONS = pytest.StashKey[Violations]()
_MISSING = ("fail", "skip")
_RELAY = "fake_codex_violations"  # key of a worker's findings in xdist's workeroutput


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fake_codex", "codex wrapper tests (fake_codex.testing.plugin)")
    group.addoption(
        "--real-codex-missing",
        choices=_MISSING,
        default=None,
        help="when the real codex cannot be installed: fail the test (default) or skip it",
    )
    group.addoption("--real-codex-version", default=None, help="the real codex version to use")
    group.addoption("--codex-cache", default=None, help="where real codex versions are installed")
    parser.addini("real_codex_missing", "fail or skip (see --real-codex-missing)", default="fail")
    parser.addini("real_codex_version", "the real codex version to use", default=KNOWN_VERSIONS[-1])
    parser.addini(
        "codex_cache", "real codex cache folder (default: <rootdir>/.codex-cache)", default=""
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "codex_backends(*names): run a `codex` test only on these of fake, real"
    )
    config.addinivalue_line("markers", "real_codex: the test runs the real codex binary")
    config.addinivalue_line(
        "markers",
        "codex_request_violations: the test breaks the tool-call pairing on purpose (the API's "
        "400 is what it checks), so its violations do not fail it or the session",
    )
    config.stash[_VIOLATIONS] = Violations()
    missing = config.getoption("--real-codex-missing") or config.getini("real_codex_missing")
    if missing not in _MISSING:
        raise pytest.UsageError(f"real_codex_missing = {missing!r}: use fail or skip")


def pytest_unconfigure(config: pytest.Config) -> None:
    violations = config.stash.get(_VIOLATIONS, None)
    if violations is not None:
        violations.close()


@pytest.fixture(autouse=True)
def _codex_requests_well_formed(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails the test during which a codex request broke the API's tool-call pairing."""
    violations = request.config.stash[_VIOLATIONS]
    start = violations.mark()
    yield
    found = violations.since(start)
    if found and request.node.get_closest_marker("codex_request_violations") is not None:
        violations.expected += len(found)
    elif found:
        violations.unexpected.extend(found)
        pytest.fail(
            f"a request the OpenAI API would reject with HTTP 400: {describe(found)}",
            pytrace=False,
        )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """A suite that produced a request the API rejects fails as a whole, loudly (under xdist:
    each worker hands its findings to the controller, which reports them)."""
    violations = session.config.stash.get(_VIOLATIONS, None)
    if violations is None:
        return
    outside = len(violations.since(0)) - violations.expected - len(violations.unexpected)
    if hasattr(session.config, "workerinput"):
        output: dict[str, Any] = session.config.workeroutput  # type: ignore[attr-defined]
        output[_RELAY] = {"unexpected": violations.unexpected, "outside": outside}
        return
    unexpected = violations.unexpected + violations.relayed_unexpected
    outside += violations.relayed_outside
    if not unexpected and outside <= 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", "requests the OpenAI API would reject (HTTP 400)", red=True)
        for found in unexpected:
            reporter.write_line(describe([found]), red=True)
        if outside > 0:
            reporter.write_line(f"{outside} more outside any test (fixtures, teardown)", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller: what a worker found (its own report file, its own tests)."""
    relayed = getattr(node, "workeroutput", {}).get(_RELAY)
    violations = node.config.stash.get(_VIOLATIONS, None)
    if relayed is not None and violations is not None:
        violations.relayed_unexpected.extend(relayed["unexpected"])
        violations.relayed_outside += max(0, relayed["outside"])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`codex` tests run once per backend: ids `[fake]` and `[real]`."""
    if "codex" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        if "codex_backend" in str(mark.args[0]):
            return  # the test chose its backends itself
    marker = metafunc.definition.get_closest_marker("codex_backends")
    names = tuple(marker.args) if marker is not None else BACKENDS
    unknown = set(names) - set(BACKENDS)
    if unknown or not names:
        raise pytest.UsageError(f"codex_backends{names}: choose among {BACKENDS}")
    params = [
        pytest.param(n, id=n, marks=[pytest.mark.real_codex] if n == "real" else []) for n in names
    ]
    metafunc.parametrize("codex_backend", params, scope="function")


@pytest.hookimpl(tryfirst=True)  # before conftests and -m look at the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "real_codex" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real_codex)


def _cache_dir(config: pytest.Config) -> Path:
    chosen = config.getoption("--codex-cache") or config.getini("codex_cache")
    if chosen:
        return Path(chosen).absolute()
    if os.environ.get(installer.CACHE_ENV):
        return installer.default_cache_dir()
    return Path(config.rootpath) / ".codex-cache"


class RealCodexInstalls:
    """Installs each asked-for version once per session (`fake_codex.testing.real_codex`)."""

    def __init__(self, cache_dir: Path, missing: str) -> None:
        self.cache_dir = cache_dir
        self.missing = missing
        self._binaries: dict[str, Path] = {}
        self._errors: dict[str, str] = {}

    def binary(self, version: str) -> Path:
        if version not in self._binaries and version not in self._errors:
            try:
                self._binaries[version] = installer.install(version, self.cache_dir)
            except installer.InstallError as exc:
                self._errors[version] = str(exc)
        if version in self._errors:
            message = (
                f"the real codex {version} cannot be installed into {self.cache_dir}: "
                f"{self._errors[version]}"
            )
            if self.missing == "skip":
                pytest.skip(message)
            pytest.fail(f"{message}\n(--real-codex-missing=skip skips instead)", pytrace=False)
        return self._binaries[version]


@pytest.fixture(scope="session")
def real_codex_installs(pytestconfig: pytest.Config) -> RealCodexInstalls:
    missing = pytestconfig.getoption("--real-codex-missing") or pytestconfig.getini(
        "real_codex_missing"
    )
    return RealCodexInstalls(_cache_dir(pytestconfig), str(missing))


@pytest.fixture
def real_codex_version(pytestconfig: pytest.Config) -> str:
    """The real codex version (and the version the fake emulates in `codex` tests); override
    with `--real-codex-version`, the ini `real_codex_version`, or parametrize this fixture."""
    chosen = pytestconfig.getoption("--real-codex-version") or pytestconfig.getini(
        "real_codex_version"
    )
    return str(chosen)


@pytest.fixture
def codex_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway CODEX_HOME, also set in os.environ for the test."""
    home = isolated_home(tmp_path / "codex-home")
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("CODEX_HOME", str(home))
    return home


def _use(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        if os.environ.get(key) != value:
            monkeypatch.setenv(key, value)


@pytest.fixture
def fake_codex(
    tmp_path: Path, codex_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeCodex]:
    """The fake codex first on PATH as `codex`, on `codex_home`, logging every invocation.
    `fake_codex.write_scenario(turns)` validates, writes and selects a scenario."""
    fake = FakeCodex.create(tmp_path, codex_home)
    monkeypatch.delenv("FAKE_CODEX_SCENARIO", raising=False)
    _use(monkeypatch, fake.environ())
    # A scenario written later is the one a `codex` started by the code under test plays.
    fake.on_scenario = lambda path: monkeypatch.setenv("FAKE_CODEX_SCENARIO", str(path))
    yield fake


@pytest.fixture
def codex_responses_server() -> Iterator[FakeResponsesServer]:
    """The fake OpenAI Responses server on 127.0.0.1 (stdlib, SSE): `write_scenario(path,
    document=...)` serves a scenario, `config_args(version)` point a codex at it."""
    server = FakeResponsesServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def real_codex(
    tmp_path: Path,
    codex_home: Path,
    real_codex_version: str,
    real_codex_installs: RealCodexInstalls,
    codex_responses_server: FakeResponsesServer,
    monkeypatch: pytest.MonkeyPatch,
) -> RealCodex:
    """The real codex `real_codex_version` first on PATH as `codex`, on `codex_home`, pointed
    at `codex_responses_server`, which plays `real_codex.write_scenario(turns)`."""
    binary = real_codex_installs.binary(real_codex_version)
    real = RealCodex.create(
        tmp_path, codex_home, real_codex_version, binary, codex_responses_server
    )
    _use(monkeypatch, real.environ())
    return real


@pytest.fixture
def codex_backend() -> str:
    """Which backend a `codex` test runs on (parametrized by the plugin)."""
    return "fake"


@pytest.fixture
def codex(
    request: pytest.FixtureRequest, codex_backend: str, real_codex_version: str
) -> FakeCodex | RealCodex:
    """`fake_codex` (emulating `real_codex_version`) or `real_codex`: one test body, both."""
    if codex_backend == "real":
        real: RealCodex = request.getfixturevalue("real_codex")
        return real
    fake: FakeCodex = request.getfixturevalue("fake_codex")
    fake.codex_version = real_codex_version
    return fake
