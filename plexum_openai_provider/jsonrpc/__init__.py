"""JSON-RPC 2.0, written once: message classification and builders (`messages`) and the bounded
line framer (`framing`) that the daemon's door, its client, the app-server client and the MCP
server all use. The error type is `errors.RpcError` (`RemoteError` for a peer's answer)."""
