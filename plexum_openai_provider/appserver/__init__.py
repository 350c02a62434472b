"""The JSON-RPC client of `codex app-server` (`rpc`), used by the app-server backend's process
pool (`turn/app_server/pool.py`). Everything else of that backend lives in `turn/app_server/`.
"""
