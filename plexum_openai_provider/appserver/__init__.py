"""The `app-server` backend: one warm `codex app-server` per CODEX_HOME, threads loaded in it.

`rpc` speaks JSON-RPC over the child's stdio, `server` owns the process (lazy start, restart,
teardown), `params` builds what is sent, `notifications` maps what comes back to canonical events,
`attempt` runs one turn on it. Opt-in with config `backend: "app-server"` (docs/app-server.md).
"""
