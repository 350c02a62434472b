"""`serve` on stdio: newline-delimited JSON-RPC in on stdin, out on stdout, logs on stderr.

The protocol keeps private copies of fds 0 and 1; fd 1 then points at stderr and fd 0 at
/dev/null, so a stray print or an inherited descriptor can never corrupt the protocol stream.
Every message is written whole under one lock, so notifications of concurrent turns never
interleave. EOF on stdin, SIGTERM or SIGINT: running turns are cancelled, codex reaped, exit 0.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, BinaryIO

from .. import HostConfig, TurnLimits
from ..jsonrpc.framing import LineFramer
from .dispatch import PluginServer

log = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
DEFAULT_MAX_LINE_BYTES = 32 * 1024 * 1024


class _Output:
    """The one writer of protocol lines; a daemon that stopped reading only loses messages."""

    def __init__(self, write: Callable[[bytes], Awaitable[None]]) -> None:
        self._write = write
        self._lock = asyncio.Lock()
        self.broken = False

    async def send(self, message: Mapping[str, Any]) -> None:
        try:
            text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
            line = text.encode() + b"\n"
        except UnicodeEncodeError:  # a lone surrogate from the daemon's own params: escape it
            line = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        async with self._lock:
            if self.broken:
                return
            try:
                await self._write(line)
            except (ConnectionError, OSError) as exc:
                self.broken = True
                log.warning("stdout is closed (%s); the daemon gets no further messages", exc)


async def _pipe_ends(
    proto_in: BinaryIO, proto_out: BinaryIO
) -> tuple[Callable[[], Awaitable[bytes]], Callable[[bytes], Awaitable[None]], Callable[[], None]]:
    """Async read/write over the protocol's fds: non-blocking for pipes, plain for files."""
    loop = asyncio.get_running_loop()
    closers: list[Callable[[], None]] = []
    try:
        reader = asyncio.StreamReader(limit=READ_CHUNK)
        in_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), proto_in
        )
        closers.append(in_transport.close)

        async def read() -> bytes:
            return await reader.read(READ_CHUNK)

    except ValueError:  # a regular file (`serve < requests.jsonl`): reads never block

        async def read() -> bytes:
            return os.read(proto_in.fileno(), READ_CHUNK)

    try:
        out_transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, proto_out
        )
        writer = asyncio.StreamWriter(out_transport, protocol, None, loop)
        closers.append(out_transport.close)

        async def write(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

    except ValueError:  # a regular file: writes never block for long

        async def write(data: bytes) -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(proto_out.fileno(), view) :]

    def close() -> None:
        for closer in closers:
            closer()

    return read, write, close


def _take_stdio() -> tuple[BinaryIO, BinaryIO]:
    """Private copies of stdin/stdout for the protocol; fd 0 -> /dev/null, fd 1 -> stderr."""
    sys.stdout.flush()
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return proto_in, proto_out


async def serve_stdio(
    config: HostConfig,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    limits: TurnLimits | None = None,
) -> int:
    loop = asyncio.get_running_loop()
    proto_in, proto_out = _take_stdio()
    read_chunk, write, close = await _pipe_ends(proto_in, proto_out)
    output = _Output(write)
    server = PluginServer(config, output.send, max_line_bytes=max_line_bytes, limits=limits)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("serving the Plexum daemon protocol on stdio")
    framer = LineFramer(max_line_bytes)
    stopping = asyncio.ensure_future(stop.wait())
    stopped = asyncio.ensure_future(server.stopped.wait())
    try:
        while True:
            read = asyncio.ensure_future(read_chunk())
            await asyncio.wait({read, stopping, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not read.done():
                read.cancel()
                break  # a signal, or `shutdown` was answered
            chunk = read.result()
            for line in framer.feed(chunk) if chunk else framer.finish():
                await server.handle_line(line)
            if not chunk:
                log.info("stdin closed: ending every running turn")
                break
        if not server.stopped.is_set():
            await server.shutdown()  # EOF or a signal: same as `shutdown`, without an answer
    finally:
        stopping.cancel()
        stopped.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        close()
    return 0
