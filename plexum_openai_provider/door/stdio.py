"""`serve` on stdio: newline-delimited JSON-RPC in on stdin, out on stdout, logs on stderr.

The protocol keeps private copies of fds 0 and 1; fd 1 then points at stderr and fd 0 at
/dev/null, so a stray print or an inherited descriptor can never corrupt the protocol stream.
Every message is written whole under one lock, so notifications of concurrent turns never
interleave. EOF on stdin, SIGTERM, SIGINT or SIGHUP: running turns are cancelled, codex reaped,
exit 0. Before reading, it ends what a killed `serve` left running (`owners`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, BinaryIO, Protocol

from .. import HostConfig, TurnLimits
from ..jsonrpc.framing import LineFramer
from ..jsonrpc.messages import encode_line
from ..owners import end_leftovers
from .dispatch import PluginServer

log = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
DEFAULT_MAX_LINE_BYTES = 32 * 1024 * 1024
# SIGHUP too: a daemon run from a terminal that closes must not leave codex running or a session
# file half-written.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
CLOSING_WRITE_GRACE_S = 1.0  # while closing, how long a write may wait for the daemon to read


class Closer(Protocol):
    def __call__(self, *, abort: bool = False) -> None: ...


class ProtocolOutput:
    """The one writer of protocol lines; a daemon that stopped reading only loses messages.

    Writes wait while the daemon does not read (back-pressure), but once `closing()` was called
    (shutdown, EOF, a signal) a write still blocked after the grace is abandoned: a daemon that
    stopped reading cannot keep `serve` from ending its turns and exiting.
    """

    def __init__(self, write: Callable[[bytes], Awaitable[None]]) -> None:
        self._write = write
        self._lock = asyncio.Lock()
        self._give_up: asyncio.Future[None] | None = None
        self.broken = False

    def _deadline(self) -> asyncio.Future[None]:
        if self._give_up is None:
            self._give_up = asyncio.get_running_loop().create_future()
        return self._give_up

    def closing(self, grace_s: float = CLOSING_WRITE_GRACE_S) -> None:
        """From `grace_s` on, writes that cannot finish are abandoned."""
        give_up = self._deadline()

        def expire() -> None:
            if not give_up.done():
                give_up.set_result(None)

        asyncio.get_running_loop().call_later(grace_s, expire)

    async def send(self, message: Mapping[str, Any]) -> None:
        line = encode_line(message)  # never raises: a lone surrogate becomes U+FFFD
        async with self._lock:
            if self.broken:
                return
            give_up = self._deadline()
            write = asyncio.ensure_future(self._write(line))
            await asyncio.wait({write, give_up}, return_when=asyncio.FIRST_COMPLETED)
            if not write.done():
                write.cancel()
                self.broken = True
                log.warning("the daemon stopped reading; its further messages are dropped")
                return
            exc = write.exception()
            if isinstance(exc, ConnectionError | OSError):
                self.broken = True
                log.warning("stdout is closed (%s); the daemon gets no further messages", exc)
            elif exc is not None:
                raise exc


async def _pipe_ends(
    proto_in: BinaryIO, proto_out: BinaryIO
) -> tuple[Callable[[], Awaitable[bytes]], Callable[[bytes], Awaitable[None]], Closer]:
    """Async read/write over the protocol's fds: non-blocking for pipes, plain for files."""
    loop = asyncio.get_running_loop()
    closers: list[Callable[[], None]] = []
    out_transport: asyncio.WriteTransport | None = None
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

    def close(*, abort: bool = False) -> None:
        for closer in closers:
            if abort and out_transport is not None and closer == out_transport.close:
                if not out_transport.is_closing():  # (a broken pipe already closed it)
                    out_transport.abort()  # the daemon stopped reading: drop what it did not take
            else:
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
    # Before any turn: what a killed `serve` left (codex's shell commands...) must not run on in
    # a workspace a new turn or consume is about to take.
    end_leftovers()
    proto_in, proto_out = _take_stdio()
    read_chunk, write, close = await _pipe_ends(proto_in, proto_out)
    output = ProtocolOutput(write)
    server = PluginServer(
        config,
        output.send,
        max_line_bytes=max_line_bytes,
        limits=limits,
        on_shutdown=output.closing,
    )
    stop = asyncio.Event()

    def on_signal() -> None:
        output.closing()  # a read loop blocked on a write must get back to see the signal
        stop.set()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal)
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
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        close(abort=output.broken)  # abandoned lines are dropped, not flushed at exit
        end_leftovers(ours=True)  # anything of ours still running now escaped its turn's reaping
    return 0
