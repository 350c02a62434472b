"""The JSON objects the fake app-server sends, in the shape each version's real binary sends them
(captured from real 0.135.0 / 0.150.1 / 0.169.0 / 0.171.0 and validated against the schema each
generates): a `Thread`, a `Turn`, the thread/start·resume·fork result's settings, an item's
timing fields. Values the fake has no source for are what the real sends when unset (null,
false, [])."""

from __future__ import annotations

import time
from typing import Any

WORKSPACE_WRITE = {
    "type": "workspaceWrite",
    "writableRoots": [],
    "networkAccess": False,
    "excludeTmpdirEnvVar": False,
    "excludeSlashTmp": False,
}


def now_ms() -> int:
    return int(time.time() * 1000)


def thread_json(
    family: int,
    *,
    thread_id: str,
    path: str | None,
    cwd: str,
    provider: str,
    model: str | None,
    status: dict[str, Any],
    preview: str,
    created: int,
    updated: int,
    cli_version: str,
    originator: str,
    forked_from: str | None = None,
    loaded: bool = True,
    turns: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A `Thread`, with the keys (and their order) of `family`'s binary."""
    out: dict[str, Any] = {"id": thread_id}
    if family >= 169:
        environments = [{"environmentId": "local", "cwd": cwd, "runtimeWorkspaceRoots": [cwd]}]
        out["environments"] = environments if loaded else None
    if family >= 150:
        out["extra"] = None
    out["sessionId"] = thread_id
    out["forkedFromId"] = forked_from
    if family >= 169:
        out["attachedToThreadId"] = None
    if family >= 150:
        out["parentThreadId"] = None
    out["preview"] = preview
    out["ephemeral"] = False
    if family >= 150:
        out["section"] = None
        out["sectionEnteredAt"] = None
        out["projectId"] = None
        out["historyMode"] = "paginated" if family >= 169 else "legacy"
    out["modelProvider"] = provider
    if family >= 169:
        out["model"] = model
        out["reasoningEffort"] = None
    out["createdAt"] = created
    out["updatedAt"] = updated
    if family >= 150:
        out["recencyAt"] = updated
    out["status"] = status
    out["path"] = path
    out["cwd"] = cwd
    out["cliVersion"] = cli_version
    if family >= 169:
        out["originator"] = originator
    out["source"] = "vscode"
    if family >= 150:
        out["canAcceptDirectInput"] = True if loaded else None
    out.update(threadSource=None, agentNickname=None, agentRole=None, gitInfo=None, name=None)
    if family >= 169:
        out["daybreakEnabled"] = None
    out["turns"] = list(turns or [])
    return out


def session_result(
    family: int,
    thread: dict[str, Any],
    *,
    model: str,
    provider: str,
    cwd: str,
    sandbox: str | None,
    resumed: bool,
) -> dict[str, Any]:
    """The result of thread/start, thread/resume and thread/fork: the thread and its settings."""
    full_access = sandbox == "danger-full-access" or (sandbox is None and family >= 169)
    out: dict[str, Any] = {
        "thread": thread,
        "model": model,
        "modelProvider": provider,
        "serviceTier": None,
    }
    if family >= 169:
        out["disabledPluginIds"] = []
    out.update(
        cwd=cwd,
        runtimeWorkspaceRoots=[cwd],
        instructionSources=[],
        approvalPolicy="never",
        approvalsReviewer="user",
        sandbox={"type": "dangerFullAccess"} if full_access else dict(WORKSPACE_WRITE),
        activePermissionProfile=None,
        reasoningEffort=None,
    )
    if resumed and family >= 169:
        settings = {"model": model, "reasoning_effort": None, "developer_instructions": None}
        out["collaborationMode"] = {"mode": "default", "settings": settings}
    if family >= 150:
        out["multiAgentMode"] = "explicitRequestOnly"
    if resumed and family >= 150:
        out.update(initialTurnsPage=None, turnsBackwardsCursor=None, itemsBackwardsCursor=None)
    return out


def turn_json(
    family: int,
    turn_id: str,
    status: str,
    *,
    error: Any = None,
    items: list[dict[str, Any]] | None = None,
    started: int | None = None,
    completed: int | None = None,
    duration_ms: int | None = None,
) -> dict[str, Any]:
    """A `Turn`: `items` is what a completed turn summarises (0.150+: its agent messages)."""
    out: dict[str, Any] = {"id": turn_id}
    if family >= 169:
        out["rootTurnId"] = turn_id
    summary = family >= 150 and items is not None
    out["items"] = list(items or []) if summary else []
    out["itemsView"] = "summary" if summary else "notLoaded"
    out.update(status=status, error=error)
    out.update(startedAt=started, completedAt=completed, durationMs=duration_ms)
    return out


def timed_item(
    family: int, item: dict[str, Any], started_ms: int, done_ms: int | None
) -> dict[str, Any]:
    """`item` with the timing fields 0.169+ put in it."""
    if family < 169:
        return item
    return {**item, "startedAtMs": started_ms, "completedAtMs": done_ms}
