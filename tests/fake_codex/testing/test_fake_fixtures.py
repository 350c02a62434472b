"""The plugin's fake-codex fixtures, used as a wrapper's test suite would use them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fake_codex.core.scenario import ScenarioError
from fake_codex.testing.fakes import FakeCodex, answer
from fake_codex.testing.homes import UnsafeCodexHome, isolated_home


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`codex ARGS` as the code under test would start it: from PATH, with os.environ."""
    return subprocess.run(
        ["codex", *args], input=stdin, capture_output=True, text=True, timeout=30, check=False
    )


def test_the_fake_is_codex_first_on_path_with_a_throwaway_home(
    fake_codex: FakeCodex, codex_home: Path
) -> None:
    assert shutil.which("codex") == str(fake_codex.executable)
    assert fake_codex.executable.is_absolute()
    assert os.environ["CODEX_HOME"] == str(codex_home) == str(fake_codex.home)
    assert run("--version").stdout == "codex-cli 0.169.0\n"


def test_a_scenario_written_from_python_is_what_codex_plays(fake_codex: FakeCodex) -> None:
    fake_codex.write_scenario([{"expect_prompt": "hi", "requests": [answer("hello back")]}])
    result = run("exec", "--json", "--skip-git-repo-check", "--", "hi")
    assert result.returncode == 0, result.stderr
    assert '"text":"hello back"' in result.stdout


def test_the_invocation_log_comes_back_as_objects(fake_codex: FakeCodex) -> None:
    run("exec", "--json", "--skip-git-repo-check", "--", "one")
    run("exec", "--bogus-flag")
    first, second = fake_codex.invocations()
    assert first.argv == ["codex", "exec", "--json", "--skip-git-repo-check", "--", "one"]
    assert (first.exit_code, second.exit_code) == (0, 2)
    assert first.env["CODEX_HOME"] == str(fake_codex.home)
    assert first.pid != second.pid


def test_the_threads_rollout_is_readable_by_thread_id(fake_codex: FakeCodex) -> None:
    fake_codex.write_scenario([{"requests": [answer("a")]}])
    out = run("exec", "--json", "--skip-git-repo-check", "--", "x").stdout
    thread = out.split('"thread_id":"')[1].split('"')[0]
    lines = fake_codex.rollout(thread)
    assert lines == fake_codex.rollout()
    assert lines[0]["type"] == "session_meta" and lines[0]["payload"]["id"] == thread
    with pytest.raises(LookupError, match="no single rollout"):
        fake_codex.rollout("01a20000-0000-7000-8000-000000000000")


def test_a_scenario_that_does_not_validate_is_rejected_when_written_with_the_field_path(
    fake_codex: FakeCodex,
) -> None:
    bad = [{"requests": [{"output": [{"type": "message", "txt": "typo"}]}]}]
    with pytest.raises(ScenarioError, match=r"\$\.turns\[0\]\.requests\[0\]\.output\[0\]"):
        fake_codex.write_scenario(bad)
    assert fake_codex.scenario_path is None and "FAKE_CODEX_SCENARIO" not in os.environ
    with pytest.raises(ScenarioError, match=r"\$\.codex_version"):
        fake_codex.write_scenario(document={"codex_version": "0.180.0", "turns": []})


def test_an_unmet_prompt_expectation_shows_up_in_problems(fake_codex: FakeCodex) -> None:
    fake_codex.write_scenario([{"expect_prompt": "hello", "requests": [answer("a")]}])
    result = run("exec", "--json", "--skip-git-repo-check", "--", "-", stdin="hi\n")
    assert result.returncode == 70
    assert "expected 'hello', got 'hi\\n'" in result.stderr
    (problem,) = fake_codex.problems()
    assert "exited 70" in problem


def test_the_home_guard_refuses_the_real_codex_home_and_homes_a_codex_used(
    tmp_path: Path,
) -> None:
    user = tmp_path / "user"
    (user / ".codex").mkdir(parents=True)
    for unsafe in (user / ".codex", user / ".codex" / "sub", user):
        with pytest.raises(UnsafeCodexHome, match="the real codex home"):
            isolated_home(unsafe, user_home=user / ".codex")
    used = tmp_path / "used"
    (used / "sessions").mkdir(parents=True)
    with pytest.raises(UnsafeCodexHome, match="holds sessions"):
        isolated_home(used, user_home=user / ".codex")
    assert isolated_home(tmp_path / "fresh", user_home=user / ".codex") == tmp_path / "fresh"


def test_a_fake_on_the_real_codex_home_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(UnsafeCodexHome):
        FakeCodex.create(tmp_path, tmp_path / ".codex")
    assert not (tmp_path / ".codex").exists()


def test_log_and_rollout_lines_split_only_on_newlines(fake_codex: FakeCodex) -> None:
    prompt = "a\u2028b\x1ec\x85d"  # str.splitlines() would cut each of these
    fake_codex.write_scenario([{"expect_prompt": prompt, "requests": [answer("e\u2029f")]}])
    result = run("exec", "--json", "--skip-git-repo-check", "--", "-", stdin=prompt)
    assert result.returncode == 0, result.stderr
    (invocation,) = fake_codex.invocations()
    assert invocation.stdin == prompt
    texts = [json.dumps(line) for line in fake_codex.rollout()]
    assert any("e\\u2029f" in text for text in texts)


def test_the_shipped_harness_imports_only_the_standard_library() -> None:
    """fake_codex stays stdlib-only: the plugin module alone may import pytest (pytest loads it)."""
    import sys

    code = (
        "import importlib, pkgutil, sys; before = set(sys.modules)\n"
        "import fake_codex\n"
        "for m in pkgutil.walk_packages(fake_codex.__path__, 'fake_codex.'):\n"
        "    if m.name not in ('fake_codex.testing.plugin', 'fake_codex.__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(sorted(n for n in new if n not in sys.stdlib_module_names))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert out.stdout.strip() == "['fake_codex']"
