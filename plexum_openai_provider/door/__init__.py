"""The daemon's door: `serve`'s JSON-RPC protocol (docs/protocol.md) — dispatch, params, the reverse
`tools/call` and stdio. The daemon's side of it is `daemon/`."""
