"""`codex exec` and `codex exec resume`: argv → prompt → scenario turn → events + rollout.

The order follows the real binary: clap errors first; a resume of an unknown UUID fails before
any prompt is read or any turn is used; only then is stdin read and a turn claimed.
With no `FAKE_CODEX_SCENARIO`, every prompt gets the fixed answer of `scenario.default_turn`.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fake_codex.agent.images import ImageLimitation, ImageParts, image_parts
from fake_codex.agent.lines import TurnInfo
from fake_codex.agent.recorder import Recorder
from fake_codex.agent.rollout import RolloutWriter, ThreadHistory, read_history, rollout_path
from fake_codex.agent.runner import TurnRunner, TurnSetup
from fake_codex.core import events as ev
from fake_codex.core import gates, writer_lock
from fake_codex.core.config import ConfigError, check_enums, load_config, settings_from
from fake_codex.core.home import (
    HomeRefused,
    claim_turn,
    find_rollout,
    home_for_writing,
    latest_rollout,
)
from fake_codex.core.ids import is_uuid, uuid7
from fake_codex.core.invocation_log import Invocation
from fake_codex.core.output import StdoutStream, encode, rust_backtrace, write_stderr
from fake_codex.core.scenario import (
    FakeLimitation,
    Scenario,
    Turn,
    default_turn,
)
from fake_codex.core.versions import Behaviour
from fake_codex.core.writer_lock import ThreadLock, WriterConflict
from fake_codex.core.writer_lock import acquire as acquire_writer_lock
from fake_codex.exec.args import ExecArgs, HelpRequested, VersionRequested, parse_exec_args
from fake_codex.exec.model_request import (
    SchemaFileError,
    load_output_schema,
    reasoning_effort,
    request_record,
)
from fake_codex.exec.prompt import Prompt, PromptError, resolve_prompt

if TYPE_CHECKING:
    from fake_codex.mcp.client import McpManager

EX_SOFTWARE = 70
EX_CONFIG = 78
# Public reports of codex 0.104 … 0.149 (not in codex-facts): rc 1, before any model request.
NOT_TRUSTED = "Not inside a trusted directory and --skip-git-repo-check was not specified.\n"


class ExitNow(Exception):
    def __init__(self, code: int, stderr: str = "") -> None:
        super().__init__(stderr)
        self.code = code
        self.stderr = stderr


def _inside_git_worktree(cwd: Path) -> bool:
    return any((d / ".git").exists() for d in (cwd, *cwd.parents))


def _backtrace(environ: Mapping[str, str]) -> str:
    return rust_backtrace(environ)


def _model_input(rollout: Path | None, family: int) -> list[dict[str, Any]]:
    """What the next model request carries: the history codex replays from the rollout, its
    pairing repaired as codex does (`history.for_prompt`; an ephemeral exec writes none, so its
    requests go unchecked)."""
    from fake_codex.agent.history import for_prompt, history_items

    return for_prompt(history_items(rollout), family) if rollout is not None else []


def _pick_turn(
    scenario: Scenario | None,
    home: Path,
    prompt: str,
    switched: bool,
    rollout: Path | None,
    family: int,
    new_parts: tuple[str, ...] = (),
) -> Turn:
    if scenario is None:
        return default_turn(prompt, switched)
    index = claim_turn(home, str(Path(scenario.source).resolve()))
    if index >= len(scenario.turns):
        raise ExitNow(
            EX_SOFTWARE,
            f"fake-codex: scenario {scenario.source} has {len(scenario.turns)} turn(s), but this "
            f"is invocation #{index + 1} with it (counted in $CODEX_HOME/fake-codex-state.json)\n",
        )
    turn = scenario.turns[index]
    where = f"fake-codex: scenario {scenario.source}, turn {index}"
    if turn.expect_prompt is not None and prompt != turn.expect_prompt:
        from fake_codex.agent.history import shown

        raise ExitNow(
            EX_SOFTWARE,
            f"{where}: expect_prompt: expected {shown(turn.expect_prompt)}, got {shown(prompt)}\n",
        )
    if turn.expect_prompt_contains is not None and turn.expect_prompt_contains not in prompt:
        from fake_codex.agent.history import shown

        raise ExitNow(
            EX_SOFTWARE,
            f"{where}: expect_prompt_contains: expected a prompt containing "
            f"{shown(turn.expect_prompt_contains)}, got {shown(prompt)}\n",
        )
    if turn.expect_history_contains or turn.expect_history_excludes:
        from fake_codex.agent.history import check_history, history_text

        items = _model_input(rollout, family)
        # The new user message: its image parts (tags, data URLs), then the prompt.
        text = history_text(items, "\n".join((*new_parts, prompt)))
        problem = check_history(text, turn.expect_history_contains, turn.expect_history_excludes)
        if problem is not None:
            raise ExitNow(EX_SOFTWARE, f"{where}: {problem}\n")
    return turn


def _part_strings(parts: list[dict[str, Any]]) -> list[str]:
    return [str(p.get("text", p.get("image_url", ""))) for p in parts]


def _start_grandchild(inv: Invocation) -> None:
    import subprocess

    # Same process group, stdio detached: like a leftover `git` that outlives codex.
    child = subprocess.Popen(
        ["sleep", "300"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    inv.extra["grandchild_pid"] = child.pid


def _big_line(item_id: str) -> Any:
    def make(size: int) -> str:
        output = "x" * size
        return encode(ev.item_completed(ev.command(item_id, "/bin/bash -lc 'fake big'", output, 0)))

    return make


class ExecRun:
    def __init__(
        self, args: ExecArgs, scenario: Scenario | None, behaviour: Behaviour, inv: Invocation
    ) -> None:
        self.args = args
        self.scenario = scenario
        self.b = behaviour
        self.inv = inv
        self._mcp: McpManager | None = None
        self._lock: ThreadLock | None = None

    def _crash(self, code: int) -> None:
        write_stderr(
            "\nthread 'main' panicked at exec/src/lib.rs:1:1:\n"
            "fake-codex: injected crash (fault crash_after_lines)\n"
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n"
        )
        self.inv.write(code)
        os._exit(code)

    def _prompt(self) -> Prompt:
        try:
            prompt = resolve_prompt(self.args.prompt, read_extra_stdin=not self.args.resume)
        except PromptError as exc:
            raise ExitNow(1, f"{exc}\n") from None
        self.inv.stdin = prompt.stdin_text
        return prompt

    def _images(self) -> ImageParts | None:
        if not self.args.images:
            return None
        try:
            return image_parts(self.args.images, self.b.family, Path.cwd())
        except ImageLimitation as exc:
            raise ExitNow(EX_SOFTWARE, f"{exc}\n") from None

    def _locate(self, home: Path, cwd: Path) -> tuple[str, Path | None, ThreadHistory | None]:
        a = self.args
        path: Path | None = None
        if a.resume and a.session_id is not None and is_uuid(a.session_id):
            path = find_rollout(home, a.session_id)
            if path is None:
                raise ExitNow(
                    1,
                    "Error: thread/resume: thread/resume failed: no rollout found for thread id "
                    f"{a.session_id} (code -32600)\n" + _backtrace(self.inv.environ),
                )
            return a.session_id.lower(), path, read_history(path)
        if a.resume and a.last:
            path = latest_rollout(home, None if a.all else cwd)
            if path is not None:
                return path.stem[-36:], path, read_history(path)
        # A non-UUID id that names no thread silently starts a new thread (codex-facts §3).
        return uuid7(), None, None

    def _record_model_input(
        self, rollout: Path | None, prompt: str, images: ImageParts | None
    ) -> None:
        """Log what the turn's first model request carries: the history codex replays from the
        rollout, then the new user message (only with FAKE_CODEX_LOG: it costs a rollout read)."""
        if not self.inv.environ.get("FAKE_CODEX_LOG"):
            return
        items = _model_input(rollout, self.b.family)
        parts = [*(images.request if images else []), {"type": "input_text", "text": prompt}]
        user = {"type": "message", "role": "user", "content": parts}
        self.inv.extra["model_input"] = [*items, user]

    def _start_mcp(self, config: dict[str, Any], cwd: Path) -> McpManager | None:
        """Start the configured MCP servers; a failing `required` one ends exec (rc 1)."""
        if not isinstance(config.get("mcp_servers"), dict):
            return None  # the usual case: no need to import the client (subprocess, threads)
        from fake_codex.mcp.client import McpStartupError, start_configured

        try:
            self._mcp = start_configured(config, self.b.version, cwd, self.inv.environ)
        except McpStartupError as exc:
            raise ExitNow(1, f"Error: {exc}\n" + _backtrace(self.inv.environ)) from None
        return self._mcp

    def run(self) -> int:
        try:
            return self._run()
        finally:
            if self._mcp is not None:
                self._mcp.stop()
            if self._lock is not None:
                self._lock.release()  # as codex does on exit: the file goes with the lock

    def _run(self) -> int:
        a, environ = self.args, self.inv.environ
        try:
            home = home_for_writing(environ)
        except HomeRefused as exc:
            raise ExitNow(EX_CONFIG, str(exc)) from None
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` kills codex the same way
        cwd = Path(a.cd).resolve() if a.cd else Path.cwd()
        if not cwd.is_dir():
            raise ExitNow(1, f"Error: No such file or directory (os error 2): {cwd}\n")
        overrides = a.config
        if a.config_after_resume and self.b.family < 169:
            # 0.135/0.150: the resume subcommand's own `-c` replace the ones given on `exec`
            # (real 0.135.0 and 0.150.1 then talk to the default provider; 0.169 merges them)
            overrides = a.config_after_resume
        try:
            config = load_config(home, overrides)
            check_enums(config, self.b.family)
            settings = settings_from(config, a.model)
        except ConfigError as exc:
            raise ExitNow(1, f"{exc}\n") from None
        schema = None
        if a.output_schema is not None:
            try:
                schema = load_output_schema(a.output_schema, Path.cwd())
            except SchemaFileError as exc:
                raise ExitNow(1, f"{exc}\n") from None
        prompt = None if a.resume else self._prompt()  # exec reads stdin before the git check
        if not a.skip_git_repo_check and not _inside_git_worktree(cwd):
            raise ExitNow(1, NOT_TRUSTED)
        thread_id, path, history = self._locate(home, cwd)
        if not a.ephemeral:
            # Before any model request (no scenario turn is claimed): real 0.150+ refuses here.
            try:
                self._lock = acquire_writer_lock(home, thread_id, self.b.family)
            except WriterConflict:
                text = "".join(f"{ln}\n" for ln in writer_lock.exec_stderr_lines(thread_id))
                raise ExitNow(writer_lock.EXEC_EXIT_CODE, text) from None
        prompt = prompt or self._prompt()
        model = settings.model or self.b.default_model
        switched = history.last_model if history and history.last_model != model else None
        if self.b.family < 150:
            switched = None  # 0.135 neither warns nor compacts (real 0.135.0)
        images = self._images()
        mcp = self._start_mcp(config, cwd)
        compacts = switched is not None and self.b.compacts_on_switch(switched, model)
        new_parts = tuple(_part_strings(images.request)) if images else ()
        self._record_model_input(path, prompt.text, images)
        turn = _pick_turn(
            self.scenario, home, prompt.text, compacts, path, self.b.family, new_parts
        )
        faults = turn.faults
        if faults.stderr:
            write_stderr(faults.stderr if faults.stderr.endswith("\n") else faults.stderr + "\n")
        if faults.ignore_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if faults.grandchild:
            _start_grandchild(self.inv)
        if faults.hang_after_lines is not None:
            # A hanging fake never exits: log it now, before any stdout line can be seen.
            self.inv.write(None)

        if a.ephemeral:
            writer = RolloutWriter(None, self.b.has_ordinal)
        elif path is not None and history is not None:
            writer = RolloutWriter(path, self.b.has_ordinal, history.valid_lines)
        else:
            writer = RolloutWriter(rollout_path(home, thread_id), self.b.has_ordinal)
        bypass = a.bypass or a.sandbox == "danger-full-access"
        user = [*(images.request if images else []), {"type": "input_text", "text": prompt.text}]
        effort = config.get("model_reasoning_effort")
        self.inv.extra["model_request"] = request_record(
            user, schema, a.output_schema is not None, reasoning_effort(config, self.b.family)
        )
        info = TurnInfo(
            thread_id=thread_id,
            cwd=str(cwd),
            model=model,
            provider_id=settings.provider_id,
            approval_policy="never",
            sandbox="danger-full-access" if bypass else (a.sandbox or "read-only"),
            effort=effort if isinstance(effort, str) else None,
        )
        recorder = Recorder(writer, self.b, info)
        if history is None:
            recorder.session_meta()
        else:
            recorder.restore_last(history.last)
        stream = StdoutStream(
            faults, _big_line("item_1000000"), self._crash, lambda: self.inv.write(None)
        )
        emit = stream.emit if a.json else (lambda event: None)
        emit(ev.thread_started(thread_id))
        setup = TurnSetup(
            turn=turn,
            behaviour=self.b,
            settings=settings,
            cwd=cwd,
            prompt=prompt.text,
            images=images,
            effort_changed=history is not None and history.last_effort != info.effort,
            emit=emit,
            recorder=recorder,
            thread_totals=history.totals if history else ev.Totals(),
            switched_from=switched,
            first_turn=history is None,
            label=f"fake-codex: scenario {self.scenario.source}" if self.scenario else "fake-codex",
            mcp=mcp,
            history=lambda: _model_input(writer.path, self.b.family),
            hold=lambda name: gates.hold(home, name),
        )
        try:
            outcome = TurnRunner(setup).run()
        except FakeLimitation as exc:
            raise ExitNow(EX_SOFTWARE, f"{exc}\n") from None
        finally:
            writer.close()
            if mcp is not None:
                mcp.stop()
        stream.close()
        if a.output_last_message:
            Path(a.output_last_message).write_text(outcome.last_message or "", encoding="utf-8")
        if not a.json:
            if outcome.failure is None and outcome.last_message is not None:
                sys.stdout.write(outcome.last_message + "\n")
                sys.stdout.flush()
            elif outcome.failure is not None:
                write_stderr(f"ERROR: {outcome.failure.message}\n")
        code = 1 if outcome.failure else 0
        return code if faults.exit_code is None else faults.exit_code


def run_exec(
    argv: list[str], scenario: Scenario | None, behaviour: Behaviour, inv: Invocation
) -> int:
    """Entry for `exec …`; raises `clap.UsageError` for bad argv, returns the exit code."""
    parsed = parse_exec_args(argv)
    if isinstance(parsed, HelpRequested):
        sys.stdout.write(parsed.text)
        return 0
    if isinstance(parsed, VersionRequested):
        sys.stdout.write(f"codex-cli-exec {behaviour.version}\n")
        return 0
    try:
        return ExecRun(parsed, scenario, behaviour, inv).run()
    except ExitNow as exc:
        write_stderr(exc.stderr)
        return exc.code
