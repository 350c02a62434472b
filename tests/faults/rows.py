"""The fault matrix's rows: fault → expected user-facing result, each proven by one real test.

A row names an existing test by its pytest node id; `scripts/faults` runs exactly these and
fails when one is missing. Add a row here when the provider learns to hold a new fault.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    test: str  # the pytest node id
    fault: str
    expected: str
    timeout_s: float = 30.0  # the limit the fault is held to; past it + 5 s is a hang


H = "tests/integration/test_hardening.py::"
F = "tests/integration/test_faults.py::"
T = "tests/integration/test_turn.py::"
S = "tests/integration/test_cli_say.py::"
M = "tests/integration/test_mirror_consume.py::"
TF = "tests/integration/test_tools_fake.py::"
E = "tests/e2e/test_http_faults.py::"
SP = "tests/bridge/test_socket_path.py::"
RC = "tests/codex/rollout/test_consume_fault.py::"
SE = "tests/test_sessions.py::"
MH = "tests/bridge/test_mcp_host.py::"
P = "tests/integration/test_invariant.py::"
ONE_ERROR = "one error event, last; codex's group reaped; lock released"


def _h(test: str, fault: str, expected: str, timeout_s: float = 30.0) -> Row:
    return Row(H + test, fault, expected, timeout_s)


ROWS: tuple[Row, ...] = (
    # -- codex misbehaving (the fake stages it) ------------------------------------------------
    Row(
        F + "test_a_crash_without_a_terminal_event_reports_exit_code_and_stderr",
        "codex crashes mid-stream (exit 101)",
        "error{exit} with the code and stderr tail",
    ),
    Row(
        F + "test_a_child_ignoring_sigterm_is_killed",
        "codex hangs and ignores SIGTERM",
        "error{idle_timeout}; SIGKILL after the grace",
    ),
    Row(
        F + "test_idle_timeout_ends_a_silent_turn",
        "codex hangs silently",
        "error{idle_timeout} naming idle_timeout_s",
    ),
    Row(
        F + "test_total_timeout_ends_the_turn",
        "turn runs past turn_timeout_s",
        "error{timeout} naming turn_timeout_s",
    ),
    Row(
        F + "test_idle_timer_pauses_while_a_command_runs",
        "a long silent shell command",
        "no idle_timeout while it runs; message_end",
    ),
    Row(
        F + "test_a_grandchild_left_behind_is_reaped",
        "codex leaves a grandchild in its group",
        "message_end; grandchild killed",
    ),
    Row(
        F + "test_garbage_and_invalid_utf8_lines_lose_no_event",
        "garbage and invalid UTF-8 lines on stdout",
        "skipped; every other event delivered",
    ),
    Row(
        F + "test_writes_split_at_arbitrary_bytes_give_the_same_events",
        "stdout split at arbitrary bytes",
        "the same events as unsplit",
    ),
    Row(
        F + "test_a_missing_final_newline_still_ends_the_turn",
        "partial last line (no final newline)",
        "message_end",
    ),
    Row(F + "test_a_multi_mebibyte_line_is_delivered", "a 2 MiB event line", "delivered whole"),
    Row(
        F + "test_a_line_over_the_limit_is_dropped_with_one_warning",
        "a line over max_line_bytes",
        "one warning; the turn goes on",
    ),
    _h(
        "test_a_100_mb_line_is_dropped_with_one_warning_and_the_turn_goes_on",
        "a 100 MB line",
        "one warning; the turn goes on",
    ),
    _h(
        "test_unknown_event_types_are_skipped_without_losing_the_events_around_them",
        "unknown top-level event types",
        "skipped; surrounding events kept",
    ),
    _h(
        "test_turn_completed_without_thread_started_says_so",
        "turn.completed without thread.started",
        "error{protocol} saying thread.started is missing",
    ),
    _h(
        "test_a_path_like_thread_id_from_codex_is_never_stored",
        "codex reports a path-like thread id",
        "warning; never stored",
    ),
    _h(
        "test_codex_killed_by_a_realtime_signal_is_an_exit_error_naming_it",
        "codex killed by real-time signal 40",
        "error{exit} naming signal 40",
    ),
    Row(
        F + "test_turn_failed_is_an_error_even_with_exit_code_zero",
        "turn.failed with exit code 0",
        "one error{turn_failed}",
    ),
    Row(
        F + "test_error_lines_on_stderr_are_not_failures",
        "ERROR lines on codex's stderr",
        "ignored; message_end",
    ),
    _h(
        "test_a_plan_only_turn_gives_the_host_the_plan_text",
        "plan-only turn (codex 0.169+ schema)",
        "the plan as text_delta; message_end",
    ),
    _h(
        "test_unknown_item_types_reach_the_host_as_typed_items",
        "an item type newer than the mapper",
        "a typed item event",
    ),
    _h(
        "test_a_running_collab_tool_call_pauses_the_idle_timer",
        "a long sub-agent wait (collab_tool_call)",
        "no idle_timeout; only the total timeout",
    ),
    # -- the binary ------------------------------------------------------------------------------
    Row(
        F + "test_a_missing_binary_names_the_config_key_and_the_path_trap",
        "binary missing",
        "error{binary_not_found} naming `binary` and the systemd PATH",
    ),
    Row(
        F + "test_a_binary_that_is_not_executable_is_reported",
        "binary not executable",
        "error{binary_not_found}",
    ),
    _h(
        "test_a_binary_that_is_a_directory_is_reported_as_not_executable",
        "binary is a directory",
        "error{binary_not_found}",
    ),
    # -- the real codex and the network ------------------------------------------------------------
    *(
        Row(
            E + f"test_an_http_error_from_the_model_server_ends_the_turn_with_one_clear_error[{s}]",
            f"real codex 0.169.0, HTTP {s}",
            what,
        )
        for s, what in (
            ("400", "one error{turn_failed} in the server's words (context window)"),
            ("401", "one error{auth}: run `codex login`"),
            ("404", "one error{model_rejected} naming model_args"),
            ("429", "one error{turn_failed}"),
            ("500", "one error{turn_failed}"),
        )
    ),
    Row(
        E + "test_a_dead_network_ends_the_turn_with_one_error",
        "real codex 0.169.0, nothing listening (dead network)",
        "one error, no hang",
    ),
    *(
        _h(
            f"test_captured_http_failures_are_classified_by_what_the_body_says[{c}]",
            f"captured codex stream: {c}",
            what,
        )
        for c, what in (
            ("404-model-does-not-exist", "error{model_rejected} naming model_args"),
            ("400-bad-input", "error{turn_failed} HTTP 400, server's words"),
            ("400-plain-text", "error{turn_failed}"),
            ("401", "error{auth}: run `codex login`"),
        )
    ),
    _h(
        "test_a_400_about_input_length_mentioning_the_model_is_not_model_rejected",
        "HTTP 400 'exceeds the context window of this model'",
        "error{turn_failed}, not model_rejected",
    ),
    # -- prompts ---------------------------------------------------------------------------------
    _h(
        "test_a_non_utf8_prompt_is_a_config_error_before_codex_starts[stdin]",
        "non-UTF-8 prompt on stdin (say -)",
        "exit 2, error{config}; codex never started",
    ),
    _h(
        "test_a_non_utf8_prompt_is_a_config_error_before_codex_starts[argv]",
        "non-UTF-8 prompt in argv",
        "exit 2, error{config}; codex never started",
    ),
    _h(
        "test_a_library_prompt_with_lone_surrogates_ends_in_one_config_error",
        "library prompt with lone surrogates",
        "one error{config}; codex never started",
    ),
    _h(
        "test_an_empty_prompt_is_a_config_error_before_codex_starts[empty]",
        "empty prompt",
        "one error{config}; codex never started",
    ),
    _h(
        "test_an_empty_prompt_is_a_config_error_before_codex_starts[whitespace]",
        "whitespace-only prompt",
        "one error{config}; codex never started",
    ),
    Row(
        T + "test_prompts_that_look_like_flags_or_are_huge_reach_codex_intact",
        "prompts like `-`, `--help` and 200 KiB",
        "reach codex on stdin byte for byte",
    ),
    Row(
        S + "test_dash_reads_the_prompt_from_stdin",
        "`say -` prompt from stdin",
        "the stdin text reaches codex",
    ),
    _h(
        "test_a_reader_closing_says_stdout_mid_turn_gets_no_traceback",
        "reader closes say's stdout mid-turn",
        "turn cancelled quietly; no traceback; codex reaped",
    ),
    # -- the host cancelling ---------------------------------------------------------------------
    Row(
        F + "test_cancel_mid_stream_stops_codex_and_ends_with_cancelled",
        "turn.cancel() mid-stream",
        "error{cancelled}; group reaped",
    ),
    Row(
        F + "test_leaving_the_context_early_kills_codex",
        "caller leaves the async with early",
        "codex group killed",
    ),
    Row(
        F + "test_cancel_while_waiting_for_the_workspace_lock",
        "turn.cancel() while waiting for the lock",
        "error{cancelled} naming the other turn",
    ),
    _h(
        "test_cancelling_the_task_while_it_waits_for_the_lock_leaks_no_lock[task_cancel]",
        "task.cancel() while waiting for the lock",
        "no orphaned waiter; later turns get the lock",
    ),
    _h(
        "test_cancelling_the_task_while_it_waits_for_the_lock_leaks_no_lock[asyncio_timeout]",
        "asyncio.timeout around a waiting turn",
        "no orphaned waiter; later turns get the lock",
    ),
    *(
        Row(
            P + f"test_a_turn_holds_its_invariant_whatever_fails_at_any_seam[{seam}]",
            f"error/cancel injected at the turn's {seam} (hypothesis)",
            ONE_ERROR,
            120.0,
        )
        for seam in (
            "lock",
            "session_read",
            "session_write",
            "tool_offering",
            "spawn",
            "prompt_write",
            "stdout_line",
            "mirror",
            "teardown",
        )
    ),
    Row(
        P + "test_cancelling_a_turns_task_at_any_moment_leaves_nothing_behind",
        "task cancelled at random points of a turn (hypothesis)",
        "group reaped; lock released; no task left",
        120.0,
    ),
    *(
        Row(
            P + f"test_consume_holds_its_invariant_whatever_fails_at_any_seam[{seam}]",
            f"error/cancel injected at consume's {seam} (hypothesis)",
            "old or new rollout, never a mix; lock released",
            120.0,
        )
        for seam in (
            "lock",
            "session_read",
            "locate",
            "rewrite",
            "fsync",
            "rename",
            "session_write",
        )
    ),
    # -- concurrency -------------------------------------------------------------------------
    Row(
        T + "test_two_turns_on_one_workspace_run_one_after_the_other",
        "two turns on one workspace at once",
        "serialized; both message_end, one thread",
    ),
    Row(
        M + "test_consume_waits_for_a_running_turn_and_loses_no_line",
        "consume during a turn",
        "waits for the turn; no rollout line lost",
    ),
    *(
        Row(
            RC + f"test_an_external_kill_while_consuming_leaves_the_old_or_the_new_file[{n}]",
            f"kill -9 during consume (moment {n})",
            "the old or the new rollout, never a mix",
        )
        for n in range(4)
    ),
    # -- the workspace is hostile ---------------------------------------------------------------
    Row(
        F + "test_an_unreadable_session_file_is_a_clear_error",
        "session file unreadable (a directory)",
        "error{session_store}, file left alone",
    ),
    Row(
        SE + "test_corrupt_file_is_a_clear_error_and_is_left_untouched",
        "corrupt session file",
        "SessionStoreError naming the file; left untouched",
    ),
    Row(
        F + "test_a_session_file_that_cannot_be_written_costs_a_warning_not_the_turn",
        "session file write fails (disk full)",
        "a warning; message_end",
    ),
    Row(
        SE + "test_ids_that_are_not_plain_are_refused[../../etc/passwd]",
        "path-like thread id stored",
        "refused",
    ),
    *(
        _h(
            f"test_a_session_file_that_is_not_a_sane_regular_file_is_a_clear_error[{c}]",
            f"session file is {what}",
            "one error{session_store}; no hang; codex never started",
        )
        for c, what in (
            ("fifo", "a FIFO"),
            ("huge", "17 MiB"),
            ("symlink", "a symlink to another file"),
        )
    ),
    _h(
        "test_a_symlink_planted_at_the_lock_path_is_not_followed",
        "symlink planted at the lock path",
        "error{session_store} naming the lock; target untouched",
    ),
    _h(
        "test_a_forged_rollout_path_in_the_session_file_is_not_trusted",
        "forged rollout_path outside CODEX_HOME/sessions",
        "ignored by the mirror and by consume",
    ),
    *(
        _h(
            f"test_hostile_values_in_the_session_file_do_not_reach_codex_or_the_mirror[{c}]",
            f"session file: {c}",
            "ignored or a clear error; real calls mirrored",
        )
        for c in (
            "negative-offset",
            "huge-offset",
            "boolean-offset",
            "path-traversal",
            "nul-in-path",
            "usage-not-a-number",
            "negative-usage",
            "option-as-model",
        )
    ),
    _h(
        "test_a_rollout_that_shrank_does_not_poison_later_turns",
        "rollout shrank under the stored offset",
        "later turns mirror their calls again",
    ),
    _h(
        "test_a_rollout_read_error_is_recovered_on_the_next_turn",
        "stored offset not a line start",
        "later turns mirror their calls again",
    ),
    _h(
        "test_mcp_host_never_imports_modules_from_the_workspace",
        "json.py/select.py/socket.py/package in the workspace",
        "never imported by mcp-host",
    ),
    # -- tools, sockets, agents ------------------------------------------------------------------
    _h(
        "test_a_socket_dir_that_cannot_be_used_is_an_mcp_error[too_long]",
        "socket_dir too long for a socket path",
        "one error{mcp}",
    ),
    _h(
        "test_a_socket_dir_that_cannot_be_used_is_an_mcp_error[parent_is_a_file]",
        "socket_dir under a regular file",
        "one error{mcp}",
    ),
    Row(
        SP + "test_a_stale_socket_of_a_dead_process_is_replaced",
        "stale socket of a dead process",
        "replaced",
    ),
    Row(
        MH + "test_a_stale_socket_file_is_treated_like_no_listener",
        "mcp-host meets a stale socket",
        "serves an empty tool list",
    ),
    Row(
        SP + "test_a_live_listener_of_another_process_is_a_clear_error_naming_the_path",
        "another live listener on the agent's socket",
        "SocketInUseError naming the path",
    ),
    Row(
        SP + "test_a_socket_dir_owned_by_another_user_is_refused",
        "socket dir owned by another user (unprivileged subject)",
        "UnsafeSocketDirError",
    ),
    Row(
        SP + "test_a_socket_dir_open_to_group_or_other_is_refused",
        "socket dir world-writable (unprivileged subject)",
        "UnsafeSocketDirError",
    ),
    Row(
        SP + "test_a_symlinked_socket_dir_is_refused",
        "socket dir is a symlink (unprivileged subject)",
        "UnsafeSocketDirError",
    ),
    *(
        _h(
            f"test_hostile_agent_ids_get_a_safe_socket_and_working_tools[{c}]",
            f"hostile agent id: {c}",
            "socket inside socket_dir; tools work; argv intact",
        )
        for c in ("traversal", "quotes-newline", "1000-chars", "unicode-slash", "option-like")
    ),
    Row(
        TF + "test_an_agent_cannot_reach_another_agents_tools",
        "another agent's codex calls this agent's tools",
        "refused; the tools stay apart",
    ),
    _h(
        "test_codex_mcp_get_that_hangs_is_stopped_with_its_whole_group[timeout]",
        "`codex mcp get` hangs with a child (timeout)",
        "error{mcp}; whole group killed",
    ),
    _h(
        "test_codex_mcp_get_that_hangs_is_stopped_with_its_whole_group[cancel]",
        "`codex mcp get` hangs with a child (task cancelled)",
        "whole group killed",
    ),
    # -- config and logs ---------------------------------------------------------------------------
    *(
        _h(
            f"test_non_finite_numbers_in_the_config_are_rejected[turn_timeout_s-{v}]",
            f"turn_timeout_s = {v}",
            "ConfigError naming the key",
        )
        for v in ("NaN", "Infinity", "1e999")
    ),
    _h(
        "test_non_finite_numbers_in_the_config_are_rejected[idle_timeout_s-NaN]",
        "idle_timeout_s = NaN",
        "ConfigError naming the key",
    ),
    _h(
        "test_relative_paths_in_the_config_are_resolved_against_its_folder",
        "relative codex_home / socket_dir",
        "resolved against the config file's folder",
    ),
    Row(
        S + "test_a_config_error_exits_2_with_the_key",
        "invalid config value",
        "exit 2 naming the key",
    ),
    Row(
        T + "test_nothing_secret_reaches_logs_or_events",
        "API keys in env and -c",
        "never in logs or events",
    ),
    _h(
        "test_the_debug_log_masks_every_form_of_secret_and_hides_the_prompt",
        "secrets in --config=, -ck=v, inline tables; the prompt",
        "masked; prompt as length+digest",
    ),
    _h(
        "test_a_skipped_malformed_line_is_logged_with_the_project_prefix",
        "malformed line log message",
        "carries the plexum-openai-provider: prefix",
    ),
)

SV = "tests/integration/test_serve.py::"
SM = "tests/integration/test_serve_malformed.py::"

# The daemon protocol (`serve`): malformed input and a host that misbehaves.
DAEMON: tuple[Row, ...] = (
    Row(
        SM + "test_every_kind_of_bad_input_gets_an_actionable_error_and_the_plugin_goes_on",
        "daemon: 21 kinds of bad input (not JSON, invalid UTF-8, NaN, batch, bad id/method/"
        "params, relative workspace, bad tool schema, lone surrogate, overlong line, turn "
        "before initialize, duplicate turn id)",
        "a JSON-RPC error naming the field; serve goes on",
        120.0,
    ),
    Row(
        SM + "test_fuzzed_lines_never_stop_serve_from_answering_well_formed_requests",
        "daemon: fuzzed request-shaped lines (hypothesis)",
        "serve keeps answering well-formed requests",
        120.0,
    ),
    *(
        Row(
            SV
            + "test_a_tools_call_answered_badly_gives_codex_an_error_result_and_the_turn_goes_on"
            + f"[{how}]",
            f"daemon: the host answers tools/call {how}",
            "codex gets an error result; the turn goes on",
            60.0,
        )
        for how in ("slow", "failing", "garbage")
    ),
    *(
        Row(
            SV + f"test_eof_mid_turn_stops_codex_and_exits_0_within_the_kill_grace[{flag}]",
            f"daemon: the host closes stdin mid-turn ({flag})",
            "codex stopped; serve exits 0 within the kill grace",
            60.0,
        )
        for flag in ("False", "True")
    ),
    Row(
        SV + "test_sigterm_mid_turn_stops_codex_and_exits_0",
        "daemon: SIGTERM mid-turn",
        "codex stopped; serve exits 0",
        60.0,
    ),
    Row(
        SV + "test_shutdown_cancels_running_turns_reaps_codex_then_answers",
        "daemon: shutdown during running turns",
        "turns cancelled, codex reaped, then the answer",
        60.0,
    ),
    Row(
        SV + "test_a_turn_waiting_behind_another_turn_of_its_agent_can_be_cancelled",
        "daemon: cancel of a turn queued behind its agent's turn",
        "cancelled; nothing left waiting",
        60.0,
    ),
    Row(
        SV + "test_serve_refuses_an_invalid_config_before_any_protocol_message",
        "daemon: invalid config.json",
        "refused before any protocol message",
        60.0,
    ),
)
ROWS = ROWS + DAEMON

# Hardening II: a hostile daemon, and a `serve` that dies or is stopped the hard ways.
SH = "tests/integration/test_serve_hostile.py::"
SL = "tests/integration/test_serve_lifetime.py::"
DH = "tests/door/test_dispatch_hardening.py::"
HOSTILE_DAEMON: tuple[Row, ...] = (
    Row(
        SH + "test_bad_framing_is_read_line_by_line_and_every_request_answered",
        "daemon: bad framing (a byte per write, two requests per write, CRLF, blank and NUL "
        "lines, a last request without newline before EOF)",
        "every line read and answered, the last one too; NUL line -32700; exit 0",
        60.0,
    ),
    Row(
        SH + "test_bad_json_rpc_shapes_get_errors_and_responses_are_never_answered",
        "daemon: responses with null/fractional ids or both members; a fractional request id; "
        "a lone surrogate in a tool schema and in a tools/call answer",
        "responses never answered (no ping-pong); the id echoed; -32602 naming the field; "
        "codex gets an error result and the turn goes on",
        60.0,
    ),
    Row(
        SH + "test_lifecycle_abuse_gets_clear_errors_and_never_a_second_answer",
        "daemon: consume before initialize, initialize twice, a running turn's id again, two "
        "requests on one line, shutdown twice with a turn behind it in one write",
        "-32001, -32002, -32700, -32005 once each; one shutdown answer; turn cancelled; exit 0",
        60.0,
    ),
    *(
        Row(
            SH + "test_a_tools_call_answered_late_or_twice_counts_once_and_the_turn_goes_on"
            f"[{how}]",
            f"daemon: the host answers tools/call {how}",
            what,
            60.0,
        )
        for how, what in (
            ("late", "the late answer ignored; codex got the timeout result; the next turn works"),
            ("twice", "the second answer ignored; the turn goes on"),
        )
    ),
    Row(
        SH + "test_a_daemon_that_stops_reading_or_closes_its_end_cannot_hold_serve_up"
        "[stops_reading]",
        "daemon: stops reading stdout mid-turn (serve blocked on a 2 MiB line), then EOF",
        "the blocked write abandoned; exit 0 within the kill grace; codex reaped",
        60.0,
    ),
    Row(
        SH + "test_a_daemon_that_stops_reading_or_closes_its_end_cannot_hold_serve_up"
        "[closes_its_end]",
        "daemon: closes its end of serve's stdout mid-turn, then EOF",
        "serve goes on without a traceback; exit 0; codex reaped",
        60.0,
    ),
    *(
        Row(
            SV + f"test_sighup_or_sigint_mid_turn_is_handled_like_sigterm[{sig}]",
            f"daemon: {sig} mid-turn",
            "like SIGTERM: turn cancelled, codex reaped, exit 0, session file whole",
            60.0,
        )
        for sig in ("SIGHUP", "SIGINT")
    ),
    Row(
        SL + "test_serve_killed_with_sigkill_takes_codex_along_and_the_next_serve_ends_the_rest",
        "daemon: serve killed with SIGKILL mid-turn (codex left a grandchild)",
        "codex dies with serve; the next serve ends the rest before it answers; a live "
        "serve's codex untouched",
        60.0,
    ),
    Row(
        SL + "test_reaping_a_child_ends_what_it_started_outside_its_group",
        "codex's command escaped its process group (a session of its own, as real codex runs "
        "shell commands)",
        "ended, by its owner marker, when codex is reaped",
    ),
    Row(
        DH + "test_a_workspace_that_cannot_be_stat_ed_gets_an_answer_to_consume_and_config_on_turn",
        "daemon: a workspace whose stat() fails (ENAMETOOLONG)",
        "consume answered -32602 naming the field; turn ends error{config}",
    ),
    Row(
        "tests/test_sessions_fairness.py::"
        "test_a_consume_gets_the_lock_under_steady_turns_of_another_process",
        "consume while another process runs turn after turn on the workspace",
        "gets the lock (a fair turnstile), well within consume_wait_s",
    ),
    Row(
        "tests/test_sessions.py::"
        "test_stale_temp_files_of_the_store_are_removed_on_the_next_write_and_nothing_else",
        "a half-written session temp file left by a killed serve",
        "removed on the next write; planted symlinks, folders, other names untouched",
    ),
)
ROWS = (
    ROWS
    + HOSTILE_DAEMON
    + (
        _h(
            "test_a_model_the_config_does_not_allow_never_reaches_codex_from_the_session_file",
            "session file: model_arg o1-pro, not in config.json",
            "a warning; ignored, the requested model used; the thread resumed",
        ),
    )
)

# The same faults on backend `app-server` (docs/app-server.md), and its own.
AS = "tests/integration/test_app_server_backend.py::"
ASR = "tests/turn/app_server/test_rpc_client.py::"
AH = "tests/integration/test_app_server_hardening.py::"
APP_SERVER: tuple[Row, ...] = (
    Row(
        AS + "test_a_crash_mid_turn_ends_that_turn_with_a_clear_error_and_the_next_turn_works",
        "app-server: the warm process killed mid-turn",
        "error{exit} saying the next turn starts a new one; the next turn completes",
    ),
    Row(
        AS + "test_the_server_dying_between_turns_costs_nothing_but_a_restart",
        "app-server: the warm process dies between turns",
        "the next turn starts a new one and resumes the thread",
    ),
    Row(
        AS + "test_a_hung_server_times_out_is_ended_and_the_next_turn_starts_a_new_one",
        "app-server: hangs, ignores turn/interrupt and thread/resume",
        "error{idle_timeout}; the process ended, each time",
    ),
    Row(
        AS + "test_cancel_interrupts_the_turn_and_keeps_the_process",
        "app-server: cancel mid-turn",
        "error{cancelled} via turn/interrupt; the warm process kept",
    ),
    Row(
        AS + "test_an_idle_turn_times_out_and_the_next_turn_works",
        "app-server: the model goes silent",
        "error{idle_timeout}; the next turn completes",
    ),
    Row(
        AS + "test_retry_notices_do_not_keep_an_idle_turn_alive",
        "app-server: a dead network (codex retries on)",
        "error{idle_timeout}: retry notices are warnings, not progress",
    ),
    Row(
        AS + "test_a_required_mcp_server_that_fails_ends_the_turn_with_an_mcp_error",
        "app-server: the turn's required MCP server fails at thread start",
        "one error{mcp} naming codex's reason",
    ),
    Row(
        AS + "test_a_session_whose_thread_is_gone_continues_on_a_new_thread",
        "app-server: the session's thread cannot be resumed",
        "a warning, then the turn on a new thread",
    ),
    Row(
        AS + "test_consume_from_another_process_refuses_a_thread_loaded_in_the_warm_server",
        "app-server: consume from another process while the thread is loaded",
        "refused with the reason; the rollout untouched",
    ),
    Row(
        ASR + "test_garbage_and_long_lines_are_skipped_and_notifications_reach_their_thread",
        "app-server: garbage and over-long lines on its stdout",
        "skipped; the lines around them kept",
    ),
    Row(
        ASR + "test_the_child_exiting_wakes_the_pending_request_and_every_queue",
        "app-server: exits while a request waits",
        "the request and every waiting turn woken, none hangs",
    ),
    Row(
        ASR + "test_a_reply_over_the_line_limit_fails_its_request_at_once",
        "app-server: a reply over the line limit",
        "that request fails at once (its id read from the line); the client goes on",
    ),
    # Hardening II: the stand-in (tests/integration/app_server_stand_in.py) drops, refuses or
    # pads one request of the real process underneath, so each race window is wide open.
    Row(
        AH + "test_a_cancel_while_the_reload_waits_for_archive_leaves_the_thread_usable",
        "app-server: cancel while thread/archive's reply is lost (a reload)",
        "error{cancelled}; unarchive still sent; the next turn continues the same thread",
    ),
    Row(
        AH
        + "test_consume_with_the_server_killed_between_archive_and_unarchive_recovers_the_thread",
        "app-server: killed between thread/archive and thread/unarchive (consume)",
        "the thread unarchived by a new process; consume and the next turn go on",
    ),
    Row(
        AH + "test_a_consume_whose_unarchive_goes_unanswered_says_the_thread_is_left_archived",
        "app-server: archive's reply lost and unarchive unanswered (consume)",
        "ConsumeError says the thread is left archived; the next turn unarchives it",
    ),
    Row(
        AH + "test_a_cancel_during_resume_still_makes_consume_unload_the_thread_codex_loaded",
        "app-server: cancel during thread/resume (codex loads the thread anyway)",
        "the thread stays marked; consume unloads it before the rewrite",
    ),
    Row(
        AH + "test_a_cancel_during_turn_start_interrupts_the_turn_codex_started",
        "app-server: cancel before turn/start's reply",
        "the turn is named by turn/started and interrupted; nothing runs on",
    ),
    *(
        Row(
            AH + f"test_a_failed_interrupt_stops_only_its_own_thread[{fault}]",
            f"app-server: turn/interrupt {how}",
            "that thread is unloaded; another turn of the process completes",
        )
        for fault, how in (("error", "refused (RpcError)"), ("drop", "left unanswered"))
    ),
    *(
        Row(
            AH + f"test_serve_exits_within_the_kill_grace_while_a_consume_waits[{waits}]",
            f"daemon EOF while a consume waits for {waits}",
            "the consume answered with an error; serve exits within the kill grace + 1 s",
            60.0,
        )
        for waits in ("thread/archive", "the workspace lock")
    ),
    Row(
        AH + "test_a_resume_reply_over_the_line_limit_still_resumes_the_thread",
        "app-server: thread/resume's reply over the line limit",
        "no wait for idle_timeout_s: the thread counts as loaded and the turn completes",
    ),
    *(
        Row(
            AH + f"test_another_agents_shell_cannot_call_this_agents_tools[{backend}]",
            f"{backend}: another agent's shell dials this agent's tool socket",
            "refused; the host never sees the call",
        )
        for backend in ("app-server", "exec")
    ),
)
ROWS = ROWS + APP_SERVER

# Faults the matrix cannot hold yet, and why.
PENDING: tuple[tuple[str, str], ...] = ()
