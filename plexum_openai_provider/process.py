"""Starting codex in its own process group, ending everything in that group; short codex commands.

codex is started through a launcher at times (the npm node wrapper forks the native binary) and
can leave children of its own (a `git`, a shell command), so every stop signals the whole group:
SIGTERM, a bounded grace, SIGKILL, reap — and after codex has exited, once more for stragglers.
Every child dies with us (Linux: a parent-death signal) and carries an owner marker
(`owners.OWNER_ENV`) that its own children inherit: reaping a child also ends those that left
its group (real codex runs the model's commands in sessions of their own), and a later `serve`
ends what a killed one left. A child started before the event loop ran (`say`'s head start, with
the same signal and a marker) is adopted into the same surface, its marker with it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from .owners import OWNER_ENV, end_marked, new_marker, parent_death_hook

STDERR_TAIL_BYTES = 16 * 1024
EXIT_POLL_S = 0.02
EXIT_REAP_POLL_S = 0.001  # after the pidfd said it exited: the watcher reaps it at once
_markers: dict[int, str] = {}  # a running child's pid -> the owner marker it was started with


async def spawn(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]
) -> asyncio.subprocess.Process:
    """Start `argv` as the leader of a new session; stdin is a pipe we own (never inherited).

    Raises FileNotFoundError / PermissionError / OSError as the OS reports them.
    """
    marker = new_marker()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env={**env, OWNER_ENV: marker},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        preexec_fn=parent_death_hook(),
    )
    _markers[proc.pid] = marker
    return proc


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send `sig` to the group; False when nothing is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        # The pgid was recycled by someone else's process: nothing of ours is left there.
        return False
    return True


async def exited(proc: asyncio.subprocess.Process) -> int:
    """The leader's exit status, as soon as asyncio's child watcher has reaped it.

    Not `proc.wait()`: asyncio resolves that only once every pipe of the process has closed
    too, so a process outside the group that inherited codex's stdout or stderr (a daemonizing
    child, an MCP server in its own session) would keep it — and the turn — waiting. The
    watcher sets `returncode` at the exit itself; asyncio has no public callback for that, so
    this polls it — woken at the exit by a pidfd where Linux has one (a 20 ms poll alone cost a
    cold turn ~10 ms on average), and never waiting longer than one poll interval per check.
    """
    if proc.returncode is not None:
        return proc.returncode
    wake = _exit_wakeup(proc.pid)
    try:
        while proc.returncode is None:
            if wake is None:
                await asyncio.sleep(EXIT_POLL_S)
                continue
            await asyncio.wait({wake}, timeout=EXIT_POLL_S)
            if wake.done():
                # Exited: the watcher reaps it and sets `returncode` within a moment.
                wake = None
                while proc.returncode is None:
                    await asyncio.sleep(EXIT_REAP_POLL_S)
    finally:
        if wake is not None:
            wake.cancel()
    return proc.returncode


def _exit_wakeup(pid: int) -> asyncio.Future[None] | None:
    """A future done when `pid` exits (a pidfd on the loop), or None where that cannot be had.

    Cancelling the future (or its being done) closes the pidfd. A pid already reaped (ESRCH) or
    recycled only costs the caller its plain poll: it still checks `returncode` every interval.
    """
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        fd = pidfd_open(pid)
    except OSError:
        return None
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not future.done():
            future.set_result(None)

    def close(_: asyncio.Future[None]) -> None:
        loop.remove_reader(fd)
        os.close(fd)

    try:
        loop.add_reader(fd, readable)
    except (OSError, NotImplementedError, ValueError):
        os.close(fd)
        return None
    future.add_done_callback(close)
    return future


class AdoptedProcess(asyncio.subprocess.Process):
    """A child started with `subprocess.Popen` before the event loop ran (`say`'s head start),
    with the part of `asyncio.subprocess.Process` a turn uses: `pid`, `returncode`, `stdout` and
    `stderr` readers. Its stdin was written and closed by whoever started it (`stdin` is None).

    `returncode` reaps without blocking (`Popen.poll`): `exited` is woken by the exit's pidfd
    and reads it, so no watcher thread is needed. The base class's constructor is not called:
    it wants asyncio's own subprocess transport, which an adopted child does not have.
    """

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader,
        pipes: list[asyncio.BaseTransport],
    ) -> None:
        self._popen = popen
        self._pipes = pipes
        self.pid = popen.pid
        self.stdin = None
        self.stdout = stdout
        self.stderr = stderr

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    async def wait(self) -> int:
        return await exited(self)

    def send_signal(self, signal: int) -> None:
        self._popen.send_signal(signal)

    def terminate(self) -> None:
        self._popen.terminate()

    def kill(self) -> None:
        self._popen.kill()

    async def communicate(
        self, input: bytes | bytearray | memoryview | None = None
    ) -> tuple[bytes, bytes]:
        raise NotImplementedError("an adopted child's stdin is already closed; read its streams")

    def close_pipes(self) -> None:
        for pipe in self._pipes:
            pipe.close()


async def adopt(popen: subprocess.Popen[bytes], marker: str) -> AdoptedProcess:
    """Read a running child's stdout and stderr on this loop (both must be pipes). `marker` is
    the owner marker it was started with: reaping it ends what it started outside its group."""
    loop = asyncio.get_running_loop()
    readers: list[asyncio.StreamReader] = []
    pipes: list[asyncio.BaseTransport] = []
    try:
        for pipe in (popen.stdout, popen.stderr):
            if pipe is None:
                raise ValueError("an adopted child needs stdout and stderr pipes")
            reader = asyncio.StreamReader(loop=loop)  # the limit asyncio's subprocesses get
            protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
            read_pipe, _ = await loop.connect_read_pipe(lambda p=protocol: p, pipe)  # type: ignore[misc]
            readers.append(reader)
            pipes.append(read_pipe)
    except BaseException:
        for opened in pipes:
            opened.close()
        raise
    _markers[popen.pid] = marker
    return AdoptedProcess(popen, readers[0], readers[1], pipes)


def release_pipes(proc: asyncio.subprocess.Process) -> None:
    """Close our ends of codex's pipes once it has exited, whoever else still holds them.

    asyncio closes a subprocess transport only when every pipe reached EOF; a pipe held by a
    process outside the group would keep our descriptors (and the transport) open for good.
    asyncio has no public way to close it, hence the private attribute, looked up defensively.
    """
    if isinstance(proc, AdoptedProcess):
        if proc.returncode is not None:
            proc.close_pipes()
        return
    transport = getattr(proc, "_transport", None)
    if proc.returncode is not None and isinstance(transport, asyncio.SubprocessTransport):
        transport.close()


async def terminate_group(proc: asyncio.subprocess.Process, *, grace_s: float) -> None:
    """SIGTERM the group, wait up to `grace_s`, SIGKILL it, reap the leader, sweep stragglers."""
    pgid = proc.pid  # start_new_session: the leader's pid is the group id
    if proc.returncode is None:
        signal_group(pgid, signal.SIGTERM)
        try:
            await asyncio.wait_for(exited(proc), grace_s)
        except TimeoutError:
            signal_group(pgid, signal.SIGKILL)
    await reap(proc)


async def reap(proc: asyncio.subprocess.Process) -> None:
    """Wait for the leader (killing the group if needed), then kill what is left of the group."""
    pgid = proc.pid
    if proc.returncode is None:
        try:
            await exited(proc)
        except asyncio.CancelledError:
            signal_group(pgid, signal.SIGKILL)
            await exited(proc)
            _end_escaped(proc)
            raise
    signal_group(pgid, signal.SIGKILL)
    _end_escaped(proc)


def _end_escaped(proc: asyncio.subprocess.Process) -> None:
    """Kill what the child started outside its group (found by the marker it inherited)."""
    marker = _markers.pop(proc.pid, None)
    if marker is not None:
        end_marked(lambda found: found == marker)


async def write_and_close(proc: asyncio.subprocess.Process, data: bytes) -> None:
    """Feed the prompt and close stdin: codex waits for EOF before it starts."""
    stdin = proc.stdin
    if stdin is None:
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stdin.write(data)
        await stdin.drain()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stdin.close()
        await stdin.wait_closed()


class StderrTail:
    """Drains a stream into a bounded tail, so a chatty codex never blocks on a full pipe."""

    def __init__(self, limit: int = STDERR_TAIL_BYTES) -> None:
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._limit = limit
        self.truncated = False

    async def drain(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while chunk := await stream.read(64 * 1024):
            self._chunks.append(chunk)
            self._size += len(chunk)
            while self._size > self._limit and len(self._chunks) > 1:
                self._size -= len(self._chunks.popleft())
                self.truncated = True

    def text(self) -> str:
        data = b"".join(self._chunks)
        if len(data) > self._limit:
            data = data[-self._limit :]
            self.truncated = True
        return data.decode("utf-8", errors="replace")


async def run_captured(
    argv: Sequence[str], *, env: Mapping[str, str], timeout_s: float
) -> tuple[int, str, str]:
    """Run a short command to its end: (exit code, stdout, stderr), stdin closed.

    Raises OSError when it cannot start and TimeoutError when it overruns; on a timeout or a
    cancellation its whole process group is killed and reaped first.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**env, OWNER_ENV: (marker := new_marker())},
        start_new_session=True,
        preexec_fn=parent_death_hook(),
    )
    _markers[proc.pid] = marker
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await proc.communicate()
    except BaseException:
        # Timed out or cancelled: the whole group goes, as for a turn — the npm launcher's
        # native child would otherwise outlive the process we started.
        signal_group(proc.pid, signal.SIGKILL)
        await reap(proc)
        raise
    await reap(proc)  # sweeps what it left in its group
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
