"""The tool calls codex runs for the model during a turn: shell (`exec_command`), `apply_patch`,
MCP tools (`tools/call` with codex's `_meta`) and 0.169's code-mode `exec`; each emits its exec
items and records its rollout lines; a name codex does not know gets `unsupported call: …`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fake_codex.core import events as ev
from fake_codex.core.scenario import CustomToolCallItem, FakeLimitation, FunctionCallItem

if TYPE_CHECKING:
    from fake_codex.agent.runner import TurnSetup
    from fake_codex.mcp.specs import ToolRef


class ToolCalls:
    """The calls of one turn; `available` is the MCP tool set of the current model request."""

    def __init__(self, setup: TurnSetup, ids: ev.ItemIds, item_ids: dict[str, str]) -> None:
        self.s = setup
        self.ids = ids
        self._item_ids = item_ids  # call_id -> response item id (fc_N / ctc_N), the runner's
        self.available: dict[tuple[str, str], ToolRef] = {}

    def run(self, call: FunctionCallItem | CustomToolCallItem) -> None:
        """Run one call the model made and record its output for the next request."""
        from fake_codex.agent.tools import PatchError, apply_patch, display_command, run_shell

        s, rec = self.s, self.s.recorder
        if isinstance(call, FunctionCallItem) and (
            call.namespace is not None or call.name.startswith("mcp__")
        ):
            ref = self.available.get((call.namespace, call.name)) if call.namespace else None
            if ref is None:
                # codex: `unsupported call: <namespace><name>` (sic, no separator), no exec item
                text = f"unsupported call: {call.namespace or ''}{call.name}"
                rec.tool_output("function_call_output", "fco", call.call_id, text)
                return
            self._mcp_call(ref, call.arguments, call.call_id, call.call_id, output=True)
        elif (
            isinstance(call, CustomToolCallItem)
            and call.name == "exec"
            and s.behaviour.code_mode
            and call.namespace in (None, "functions")
        ):
            self._code_mode(call)
        elif isinstance(call, FunctionCallItem) and call.name in ("exec_command", "shell"):
            cmd = call.arguments.get("cmd")
            if not isinstance(cmd, str):
                raise FakeLimitation(f"{s.label}: exec_command call {call.call_id!r} has no `cmd`")
            workdir = call.arguments.get("workdir")
            cwd = s.cwd / workdir if isinstance(workdir, str) else s.cwd
            display = display_command(cmd)
            item_id = self.ids.new()
            if s.tool_item is not None:
                s.tool_item(item_id, call.call_id, {})
            escalated = call.arguments.get("sandbox_permissions") == "require_escalated"
            if escalated and s.approve is not None:
                # The approver shows the item started, asks, and shows a declined one (real 0.171).
                reason = call.arguments.get("justification")
                if not s.approve(item_id, display, str(cwd), reason):
                    # codex: the command is not run and the model reads that it was rejected
                    rec.tool_output(
                        "function_call_output", "fco", call.call_id, "exec command rejected by user"
                    )
                    return
                started_ms = time.time_ns() // 1_000_000
                result = run_shell(cmd, cwd)
                done = ev.command(item_id, display, result.output, result.exit_code)
                s.emit(ev.item_completed({**done, "aggregated_output": None}))  # as real sends
                rec.shell_result(call.call_id, result, started_ms)
                return
            s.emit(ev.item_started(ev.command(item_id, display, "", None)))
            started_ms = time.time_ns() // 1_000_000
            result = run_shell(cmd, cwd)
            s.emit(ev.item_completed(ev.command(item_id, display, result.output, result.exit_code)))
            rec.shell_result(call.call_id, result, started_ms)
        elif isinstance(call, CustomToolCallItem) and call.name == "apply_patch":
            try:
                patch = apply_patch(call.input, s.cwd)
            except PatchError as exc:
                # codex shows nothing for a patch that fails verification; the model gets the error
                rec.patch_result(call.call_id, None, f"apply_patch verification failed: {exc}")
                return
            changes = [(path, kind) for path, kind, _ in patch.changes]
            item_id = self.ids.new()
            if s.tool_item is not None:
                s.tool_item(item_id, call.call_id, dict(zip(patch.paths, patch.diffs, strict=True)))
            s.emit(ev.item_started(ev.file_change(item_id, changes, done=False)))
            s.emit(ev.item_completed(ev.file_change(item_id, changes, done=True)))
            rec.patch_result(call.call_id, patch, patch.model_output)
        else:
            kind = "function_call_output" if isinstance(call, FunctionCallItem) else None
            kind = kind or "custom_tool_call_output"
            prefix = "fco" if isinstance(call, FunctionCallItem) else "ctco"
            rec.tool_output(kind, prefix, call.call_id, f"unsupported call: {call.name}")

    # -- MCP -------------------------------------------------------------------------------------
    def _meta(self, call_id: str, item_id: str) -> dict[str, Any]:
        """tools/call `_meta` like codex-samples/mcp_flow_gpt55.mcp_wire.jsonl."""
        s, t = self.s, self.s.recorder.t
        family = s.behaviour.family
        sandbox_mode = t.sandbox
        turn_meta: dict[str, Any] = {
            "session_id": t.thread_id,
            "thread_id": t.thread_id,
            "reasoning_effort": "medium",
            "turn_id": t.turn_id,
            "model": t.model,
            "thread_source": "user",
        }
        if family >= 169:
            turn_meta["turn_trigger"] = "exec"
        turn_meta["sandbox"] = "none" if sandbox_mode == "danger-full-access" else sandbox_mode
        if family >= 150:  # real 0.150.1 / 0.169.0 echo-server logs; 0.135.0 has none of these
            turn_meta.update(
                sandbox_mode=sandbox_mode,
                auto_review_enabled=False,
                node_repl_auto_review_required=False,
                node_repl_disabled=False,
            )
        turn_meta["turn_started_at_unix_ms"] = t.started_at_ms
        if family >= 169:
            turn_meta["codex_version"] = s.behaviour.version
        meta: dict[str, Any] = {}
        if family >= 150:
            meta["callId"] = call_id
        meta.update({"x-codex-turn-metadata": turn_meta, "threadId": t.thread_id})
        if family >= 169:
            meta.update(sessionId=t.thread_id, windowId=f"{t.thread_id}:0", itemId=item_id)
        return meta

    def _mcp_call(
        self, ref: ToolRef, arguments: Any, call_id: str, record_id: str, output: bool
    ) -> Any:
        """Run one MCP call: exec items, rollout lines; returns the JS view of the result."""
        from fake_codex.agent.tool_lines import McpCallRecord

        s = self.s
        assert s.mcp is not None
        item_id = self.ids.new()
        if s.tool_item is not None and output:
            s.tool_item(item_id, call_id, {})
        args = arguments if arguments is not None else {}
        s.emit(
            ev.item_started(
                ev.mcp_call(item_id, ref.server, ref.tool, args, None, None, "in_progress")
            )
        )
        started_ms = time.time_ns() // 1_000_000
        meta = self._meta(call_id, self._item_ids.get(call_id, call_id))
        outcome = s.mcp.call(ref, args, meta)
        record = McpCallRecord(
            ref.server, ref.tool, args, outcome.result, outcome.error, outcome.duration_ns
        )
        s.emit(
            ev.item_completed(
                ev.mcp_call(
                    item_id,
                    ref.server,
                    ref.tool,
                    args,
                    outcome.result,
                    outcome.error,
                    record.status,
                )
            )
        )
        s.recorder.mcp_result(record_id, record, started_ms, output=output)
        return record

    def _code_mode(self, call: CustomToolCallItem) -> None:
        """0.169's JavaScript `exec` tool, run by the pattern matcher of `codemode`."""
        from fake_codex.agent.codemode import CallStep, CodeModeError, evaluate_text, parse_script
        from fake_codex.agent.tool_lines import mcp_rollout_result
        from fake_codex.agent.tools import display_command, run_shell
        from fake_codex.core.ids import uuid7

        s = self.s
        try:
            steps = parse_script(call.input)
        except CodeModeError as exc:
            raise FakeLimitation(
                f"{s.label}: code-mode exec call {call.call_id!r}: {exc} (the fake reads the "
                "JavaScript with a pattern matcher, see docs/scenarios.md)"
            ) from None
        by_js = {ref.js_name: ref for ref in self.available.values()}
        scope: dict[str, Any] = {}
        texts: list[str] = []
        start = time.monotonic()
        failure: str | None = None
        for step in steps:
            if not isinstance(step, CallStep):
                texts.append(evaluate_text(step.expr, scope))
                continue
            values: list[Any] = []
            for js in step.calls:
                if js.func == "exec_command" and isinstance(js.args, dict):
                    cmd = str(js.args.get("cmd", ""))
                    item_id = self.ids.new()
                    display = display_command(cmd)
                    s.emit(ev.item_started(ev.command(item_id, display, "", None)))
                    started_ms = time.time_ns() // 1_000_000
                    result = run_shell(cmd, s.cwd)
                    s.emit(
                        ev.item_completed(
                            ev.command(item_id, display, result.output, result.exit_code)
                        )
                    )
                    s.recorder.shell_result(call.call_id, result, started_ms, f"exec-{uuid7()}")
                    values.append({"output": result.output, "exit_code": result.exit_code})
                    continue
                ref = by_js.get(js.func)
                if ref is None:
                    failure = f"TypeError: tools.{js.func} is not a function"
                    break
                record = self._mcp_call(ref, js.args, call.call_id, f"exec-{uuid7()}", False)
                if record.result is None:
                    failure = f"Error: {record.error}"
                    break
                values.append(mcp_rollout_result(record.result))
            if failure is not None:
                break
            if isinstance(step.target, tuple):
                scope.update(zip(step.target, values, strict=False))
            elif step.target is not None:
                scope[step.target] = values if step.is_all else (values[0] if values else None)
        wall = f"Wall time {time.monotonic() - start:.1f} seconds\nOutput:\n"
        status = "Script completed" if failure is None else "Script failed"
        parts = [{"type": "input_text", "text": f"{status}\n{wall}"}]
        parts += [{"type": "input_text", "text": t} for t in texts]
        if failure is not None:
            parts.append({"type": "input_text", "text": failure})
        s.recorder.tool_output("custom_tool_call_output", "ctco", call.call_id, parts)
