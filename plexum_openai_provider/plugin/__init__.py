"""The daemon's door: the `serve` JSON-RPC protocol and its reference host."""
