"""`codex app-server`: JSON-RPC over stdio, loaded threads, turns on the shared agent loop, their
events translated to the app-server's item notifications.
"""
