"""The plugin in a test suite of its own (pytester): opt-in, skip vs fail, refusals, backends."""

from __future__ import annotations

from importlib.metadata import distribution

import pytest

ENABLE = 'pytest_plugins = ["fake_codex.testing.plugin"]\n'
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
REAL_TEST = """
def test_real(real_codex):
    assert real_codex.executable.exists()
"""


@pytest.fixture(autouse=True)
def quiet_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)  # pytest-asyncio warns about an unset loop scope otherwise


def test_the_plugin_is_never_auto_loaded() -> None:
    groups = {ep.group for ep in distribution("plexum-openai-provider").entry_points}
    assert "pytest11" not in groups


def test_without_enabling_it_the_fixtures_do_not_exist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(fake_codex):\n    pass\n")
    result = pytester.runpytest("-p", "no:fake_codex.testing.plugin")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'fake_codex' not found*"])


# A fixture that fails makes the test an error: a failure of the run, like a failed test.
@pytest.mark.parametrize(("choice", "outcome"), [("skip", "skipped"), ("fail", "errors")])
def test_a_real_codex_that_cannot_be_installed_skips_or_fails_as_asked(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, choice: str, outcome: str
) -> None:
    monkeypatch.setenv("PATH", str(pytester.path / "no-npm-here"))
    pytester.makeconftest(ENABLE)
    pytester.makepyfile(REAL_TEST)
    cache = pytester.path / "empty-cache"
    result = pytester.runpytest(
        "--codex-cache", str(cache), f"--real-codex-missing={choice}", "-rsf"
    )
    result.assert_outcomes(**{outcome: 1})
    result.stdout.fnmatch_lines(["*the real codex 0.171.0 cannot be installed*npm not found*"])


def test_failing_is_the_default_and_the_ini_can_choose_skip(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(pytester.path / "no-npm-here"))
    pytester.makeconftest(ENABLE)
    pytester.makepyfile(REAL_TEST)
    cache = str(pytester.path / "empty-cache")
    pytester.runpytest("--codex-cache", cache).assert_outcomes(errors=1)
    pytester.makeini(INI + "real_codex_missing = skip\n")
    pytester.runpytest("--codex-cache", cache).assert_outcomes(skipped=1)


def test_a_fixture_on_the_real_codex_home_refuses_to_touch_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = pytester.path / "user"
    (user / ".codex").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(user))
    pytester.makeconftest(
        ENABLE
        + "import pathlib, pytest\n"
        + "@pytest.fixture\n"
        + "def codex_home():\n"
        + "    return pathlib.Path.home() / '.codex'\n"
    )
    pytester.makepyfile("def test_x(fake_codex):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*UnsafeCodexHome: refusing to use*the real codex home*"])
    assert sorted(p.name for p in (user / ".codex").iterdir()) == []


def test_a_codex_test_runs_once_per_backend_and_the_real_one_is_marked(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(ENABLE)
    pytester.makepyfile(
        """
        import pytest

        def test_both(codex):
            pass

        @pytest.mark.codex_backends("real")
        def test_real_only(codex):
            pass
        """
    )
    result = pytester.runpytest("--collect-only", "-q", "-m", "not real_codex")
    result.stdout.fnmatch_lines(["*test_both[[]fake[]]", "*1/3 tests collected (2 deselected)*"])


def test_an_unknown_backend_name_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(ENABLE)
    pytester.makepyfile(
        "import pytest\n@pytest.mark.codex_backends('mock')\ndef test_x(codex):\n    pass\n"
    )
    result = pytester.runpytest("--collect-only")
    result.stdout.fnmatch_lines(["*codex_backends('mock',): choose among ('fake', 'real')*"])
