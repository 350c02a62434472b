"""What one turn writes into the rollout, line by line, in the shape of the emulated version.

0.169: `item_completed{item:{type:AgentMessage|...}}` events, `token_usage_record`, ids on
response items and `metadata`; 0.135: `user_message`/`agent_message`/`agent_reasoning`/
`patch_apply_end`/`web_search_end` events and bare response items. Key sets follow
codex-samples/rollout_schema_*.txt (checked by tests/fake_codex/agent/test_rollout.py).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fake_codex.agent.model_errors import Failure
from fake_codex.agent.rollout import utc_timestamp
from fake_codex.agent.tool_lines import ToolLines
from fake_codex.core.events import Totals
from fake_codex.core.ids import uuid7

if TYPE_CHECKING:
    from fake_codex.agent.images import ImageParts

BASE_INSTRUCTIONS = "You are Codex (fake-codex stand-in: no real model behind this thread)."
_RATE_LIMITS_169 = {
    "limit_id": "codex",
    "limit_name": None,
    "primary": None,
    "secondary": None,
    "credits": None,
    "individual_limit": None,
    "spend_control_reached": None,
    "plan_type": None,
    "rate_limit_reached_type": None,
}
_RATE_LIMITS_135 = {
    k: v
    for k, v in _RATE_LIMITS_169.items()
    if k not in ("individual_limit", "spend_control_reached")
}


class Recorder(ToolLines):
    """Every line one turn writes: the thread and turn framing, messages, usage, compaction."""

    # -- thread and turn framing ---------------------------------------------------------------
    def session_meta(self) -> None:
        t = self.t
        payload: dict[str, Any] = {"id": t.thread_id, "timestamp": utc_timestamp(), "cwd": t.cwd}
        if self.b.family >= 150:
            payload = {"session_id": t.thread_id, **payload}
        if self.b.family >= 169:
            payload = {"account_scoped": True, **payload, "runtime_workspace_roots": [t.cwd]}
        payload.update(
            originator="codex_exec",
            cli_version=self.b.version,
            source="exec",
            thread_source="user",
            model_provider=t.provider_id,
            base_instructions={"text": BASE_INSTRUCTIONS},
        )
        if self.b.family >= 150:
            payload["history_mode"] = "paginated"
            payload["context_window"] = {"window_id": uuid7()}
        self.w.write("session_meta", payload)

    def task_started(self) -> None:
        t = self.t
        payload: dict[str, Any] = {"type": "task_started"}
        if self.b.family >= 169:
            payload["turn_attribution"] = {
                "turn_id": t.turn_id,
                "turn_trigger": "exec",
                "parent_turn_id": None,
                "initiating_agent_path": None,
                "root_turn_id": t.turn_id,
            }
        payload["turn_id"] = t.turn_id
        if self.b.family >= 169:
            payload["root_turn_id"] = t.turn_id
        payload.update(
            started_at=t.started_at,
            model_context_window=self._window,
            collaboration_mode_kind="default",
        )
        self.w.write("event_msg", payload)

    @property
    def _window(self) -> int:
        return self.b.context_window(self.t.model)

    def _collab(self) -> dict[str, Any]:
        settings = {"model": self.t.model, "reasoning_effort": None, "developer_instructions": None}
        return {"mode": "default", "settings": settings}

    def _permission(self) -> dict[str, str]:
        return {"type": "disabled" if self.t.sandbox == "danger-full-access" else "managed"}

    def thread_settings(self) -> None:
        """`thread_settings_applied`: 0.169 after the first turn_context; 0.150.1 and 0.169
        before `task_started` of every resumed turn (0.150.1's shape has no thread id)."""
        t = self.t
        if self.b.family < 150:
            return
        if self.b.family == 150:
            settings150 = {
                "model": t.model,
                "model_provider_id": t.provider_id,
                "approval_policy": t.approval_policy,
                "approvals_reviewer": "user",
                "permission_profile": self._permission(),
                "cwd": t.cwd,
                "personality": "pragmatic",
                "collaboration_mode": self._collab(),
            }
            self.w.write(
                "event_msg", {"type": "thread_settings_applied", "thread_settings": settings150}
            )
            return
        settings = {
            "model": t.model,
            "model_provider_id": t.provider_id,
            "approval_policy": t.approval_policy,
            "approvals_reviewer": "user",
            "requested_approvals_reviewer": "user",
            "permission_profile": self._permission(),
            "cwd": t.cwd,
            "runtime_workspace_roots": [t.cwd],
            "collaboration_mode": self._collab(),
            "disabled_plugin_ids": [],
        }
        payload = {"type": "thread_settings_applied", "thread_id": t.thread_id}
        self.w.write("event_msg", {**payload, "thread_settings": settings})

    def context(self, env: bool, world: bool | None = None, settings: bool | None = None) -> None:
        """The environment context message (`env`: a new thread, 0.150's compaction),
        world_state (0.150+, default `env`: also after a compaction or a model switch),
        turn_context, then (0.169, default `env`) thread_settings_applied."""
        t = self.t
        full = env if world is None else world
        with_settings = env if settings is None else settings
        if env:
            text = f"<environment_context>\n  <cwd>{t.cwd}</cwd>\n  <shell>bash</shell>\n"
            text += f"  <current_date>{time.strftime('%Y-%m-%d')}</current_date>\n"
            text += "</environment_context>"
            self._response_item(
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
                passthrough=self._input(
                    "environments.environment_context", {"type": "harness", "hook": False}
                ),
            )
        if self.b.family >= 150 and full:
            self.w.write("world_state", {"full": True, "state": {"model": {"model": t.model}}})
        collab = self._collab()
        sandbox = {"type": t.sandbox}
        permission = self._permission()
        tc: dict[str, Any] = {"turn_id": t.turn_id}
        if self.b.family >= 169:
            tc.update(root_turn_id=t.turn_id, disabled_plugin_ids=[])
        tc["cwd"] = t.cwd
        if self.b.family < 169:
            tc.update(current_date=time.strftime("%Y-%m-%d"), timezone="Etc/UTC")
        if self.b.family == 150:
            tc["workspace_roots"] = [t.cwd]
        tc["approval_policy"] = t.approval_policy
        if self.b.family >= 150:
            tc["approvals_reviewer"] = "user"
        tc.update(sandbox_policy=sandbox, permission_profile=permission, model=t.model)
        if self.b.family < 169:
            tc["personality"] = "pragmatic"
        if self.b.family >= 150:
            tc["comp_hash"] = "3000"
            tc["multi_agent_version"] = "v2"
        tc.update(collaboration_mode=collab, realtime_active=False)
        if t.effort is not None:
            tc["effort"] = t.effort
        tc["summary"] = "none"
        self.w.write("turn_context", tc)
        if self.b.thread_settings_applied and with_settings:
            self.thread_settings()

    def user_message(self, text: str, images: ImageParts | None = None) -> None:
        """The user message: image parts (rollout form) first, then the prompt text."""
        content = [*(images.rollout if images else []), {"type": "input_text", "text": text}]
        kinds = ["user.image" if p["type"] == "input_image" else "user.text" for p in content]
        meta = {**self._created(), "content_item_kinds": kinds}
        if self.b.family >= 169:
            meta["content_item_metadata"] = [{"provenance": {"type": "user"}} for _ in kinds]
        self._response_item({"type": "message", "role": "user", "content": content}, None, meta)
        local = images.local_images if images else []
        if self.b.item_completed_events:
            parts: list[dict[str, Any]] = [{"type": "local_image", "path": p} for p in local]
            parts.append({"type": "text", "text": text, "text_elements": []})
            self._item_completed({"type": "UserMessage", "id": uuid7(), "content": parts})
        else:
            event = {"type": "user_message", "message": text, "images": [], "local_images": local}
            self.w.write("event_msg", {**event, "text_elements": []})

    # -- model output --------------------------------------------------------------------------
    def agent_message(self, msg_id: str, text: str) -> None:
        if self.b.item_completed_events:
            content = [{"type": "Text", "text": text}]
            self._item_completed({"type": "AgentMessage", "id": msg_id, "content": content})
        else:
            event = {"type": "agent_message", "message": text, "phase": None}
            self.w.write("event_msg", {**event, "memory_citation": None})
        self.assistant_item(msg_id, text)

    def assistant_item(self, msg_id: str, text: str) -> None:
        """The assistant message as a response item (0.169: `status`, `annotations`)."""
        part: dict[str, Any] = {"type": "output_text", "text": text}
        payload: dict[str, Any] = {"type": "message"}
        if self.b.family >= 169:
            part["annotations"] = []
            payload["status"] = "completed"
        payload.update(role="assistant", content=[part])
        meta = {"turn_id": self.t.turn_id, "content_item_kinds": ["unknown"]}
        self._response_item(payload, msg_id, meta, status_first=True)

    def reasoning(self, rs_id: str, summary: tuple[str, ...]) -> None:
        if self.b.item_completed_events:
            item = {"type": "Reasoning", "id": rs_id, "summary_text": list(summary)}
            self._item_completed({**item, "raw_content": []})
        elif summary:
            self.w.write("event_msg", {"type": "agent_reasoning", "text": "\n".join(summary)})
        parts = [{"type": "summary_text", "text": s} for s in summary]
        payload = {
            "type": "reasoning",
            "summary": parts,
            "content": None,
            "encrypted_content": None,
        }
        self._response_item(payload, rs_id)

    # -- usage and the end of the turn ---------------------------------------------------------
    def usage_record(self, response_id: str, last: Totals, thread: Totals) -> None:
        self._turn.add(last)
        if not self.b.token_usage_records:
            return
        t = self.t
        payload: dict[str, Any] = {"thread_id": t.thread_id, "turn_id": t.turn_id}
        payload["session_id"] = t.thread_id
        payload.update(root_turn_id=t.turn_id, response_id=response_id)
        payload.update(
            usage=self._usage(last),
            turn_token_usage=self._usage(self._turn),
            thread_token_usage=self._usage(thread),
        )
        self.w.write("token_usage_record", payload)

    def restore_last(self, last: Totals) -> None:
        """The last request's usage of a resumed thread (from its rollout)."""
        self._last = last

    def token_count(
        self, last: Totals | None, thread: Totals, reasoning_flag: bool | None = False
    ) -> None:
        """`last` None: the info-less count codex writes when a stream fails (null before the
        thread has any usage). `reasoning_flag` None: no `last_usage_includes_reasoning`."""
        info: dict[str, Any] | None = None
        if last is not None or thread != Totals():
            info = {
                "total_token_usage": self._usage(thread),
                "last_token_usage": self._usage(last if last is not None else self._last),
            }
            if self.b.family >= 169 and reasoning_flag is not None:
                info["last_usage_includes_reasoning"] = reasoning_flag
            info["model_context_window"] = self._window
        if last is not None:
            self._last = last
        limits = _RATE_LIMITS_169 if self.b.family >= 150 else _RATE_LIMITS_135
        self.w.write("event_msg", {"type": "token_count", "info": info, "rate_limits": limits})

    def context_full(self) -> None:
        """After context_length_exceeded codex marks the window full: usage zero, total the
        whole window (no `last_usage_includes_reasoning`)."""
        usage = {**self._usage(Totals()), "total_tokens": self._window}
        info = {
            "total_token_usage": usage,
            "last_token_usage": dict(usage),
            "model_context_window": self._window,
        }
        limits = _RATE_LIMITS_169 if self.b.family >= 150 else _RATE_LIMITS_135
        self.w.write("event_msg", {"type": "token_count", "info": info, "rate_limits": limits})

    def compaction_estimate(self, thread: Totals, estimate: int) -> None:
        """After a compaction: the thread total, and a `last` of zeros whose total is codex's
        estimate of the new history (0.169 flags it as including reasoning)."""
        last = {**self._usage(Totals()), "total_tokens": estimate}
        info: dict[str, Any] = {"total_token_usage": self._usage(thread), "last_token_usage": last}
        if self.b.family >= 169:
            info["last_usage_includes_reasoning"] = True
        info["model_context_window"] = self._window
        limits = _RATE_LIMITS_169 if self.b.family >= 150 else _RATE_LIMITS_135
        self.w.write("event_msg", {"type": "token_count", "info": info, "rate_limits": limits})

    def compacted(self, summary: str) -> None:
        window = uuid7()
        payload: dict[str, Any] = {
            "message": summary,
            "replacement_history": [],
            "replacement_history_metadata": [],
            "retained_context": None,
            "resume_metadata": None,
            "compaction_response_id": None,
            "latest_token_usage_record": None,
            "first_window_id": window,
            "previous_window_id": None,
            "window_id": window,
            "window_number": 1,
        }
        self.w.write("compacted", payload)

    def auto_compacted(self, message: str, replacement: list[dict[str, Any]]) -> None:
        """The `compacted` line of an automatic compaction, keyed like the emulated version
        (real 0.135.0 / 0.150.1 / 0.169.0 / 0.171.0 rollouts, `model_auto_compact_token_limit`)."""
        payload: dict[str, Any] = {"message": message, "replacement_history": replacement}
        window = uuid7()
        if self.b.family >= 169:
            meta: dict[str, Any] = {"sampled_through_sequence": 0, "client_authored": False}
            if self.b.family >= 171:
                meta["model_search_state"] = "unused"
            payload["replacement_history_metadata"] = [
                {"history_sequence": n, **meta} for n in range(1, len(replacement) + 1)
            ]
            payload.update(
                retained_context=None,
                resume_metadata=None,
                compaction_response_id=None,
                latest_token_usage_record=None,
                first_window_id=window,
                previous_window_id=None,
                window_id=window,
                window_number=1,
            )
        elif self.b.family >= 150:
            payload.update(
                window_number=1,
                first_window_id=window,
                previous_window_id=window,
                window_id=uuid7(),
            )
        self.w.write("compacted", payload)

    def context_compacted(self) -> None:
        """0.135's event after a compaction (later versions: a ContextCompaction item)."""
        self.w.write("event_msg", {"type": "context_compacted"})

    @property
    def last_usage(self) -> Totals:
        """The last model request's usage: what codex holds against the auto-compact limit."""
        return self._last

    def compaction_item(self, started_ms: int) -> None:
        if self.b.item_completed_events:
            self._item_completed({"type": "ContextCompaction", "id": uuid7()}, started_ms)

    def task_complete(self, last_message: str | None, failure: Failure | None) -> None:
        t = self.t
        payload: dict[str, Any] = {"type": "task_complete"}
        if self.b.family >= 169:
            payload["root_turn_id"] = t.turn_id
        payload.update(turn_id=t.turn_id, last_agent_message=last_message)
        if failure is not None and self.b.error_in_task_complete:
            payload["error"] = {
                "message": failure.message,
                "codex_error_info": failure.codex_error_info,
            }
        if self.b.family >= 150:
            payload["started_at"] = t.started_at
        duration = (time.monotonic_ns() - t.started_ns) // 1_000_000
        payload.update(completed_at=int(time.time()), duration_ms=duration)
        if failure is None:
            payload["time_to_first_token_ms"] = duration
        self.w.write("event_msg", payload)
