"""The per-workspace session store: JSON format, legacy adoption, atomic writes, locking."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexum_openai_provider import sessions
from plexum_openai_provider.codex.thread_id import is_plain_id
from plexum_openai_provider.errors import SessionStoreError
from plexum_openai_provider.events import Usage
from plexum_openai_provider.sessions import (
    LOCK_FILE,
    SESSION_FILE,
    SessionStore,
    ThreadRecord,
    acquire_workspace_lock,
    workspace_lock,
)

THREAD = "01a200d5-7643-79c3-937e-c20948695ecb"


def test_new_workspace_has_no_threads(tmp_path: Path) -> None:
    assert SessionStore(tmp_path).load() == {}


def test_sessions_are_kept_apart_and_round_trip(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    a = ThreadRecord(THREAD, None, Usage(input_tokens=10, output_tokens=2))
    b = ThreadRecord("01a200d5-0000-7000-8000-000000000001", "gpt-5.5")
    store.put("s1", a)
    store.put("s2", b)
    assert SessionStore(tmp_path).load() == {"s1": a, "s2": b}
    raw = json.loads((tmp_path / SESSION_FILE).read_text())
    assert raw["version"] == 1
    assert raw["threads"]["s1"] == {
        "thread_id": THREAD,
        "model_arg": None,
        "usage_total": Usage(input_tokens=10, output_tokens=2).to_json(),
    }


def test_legacy_plain_text_id_is_adopted_by_the_default_session(tmp_path: Path) -> None:
    (tmp_path / SESSION_FILE).write_text(THREAD + "\n")
    store = SessionStore(tmp_path)
    assert store.load() == {"default": ThreadRecord(THREAD, None)}
    store.put("other", ThreadRecord("t2", None))
    assert set(SessionStore(tmp_path).load()) == {"default", "other"}


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a/b", "..", "id\x00x", "x\ny", ".hidden"])
def test_ids_that_are_not_plain_are_refused(tmp_path: Path, bad: str) -> None:
    assert not is_plain_id(bad)
    with pytest.raises(SessionStoreError, match="not a plain id"):
        SessionStore(tmp_path).put("s", ThreadRecord(bad, None))
    assert not (tmp_path / SESSION_FILE).exists()


def test_a_stored_id_that_is_not_plain_is_refused_on_read(tmp_path: Path) -> None:
    (tmp_path / SESSION_FILE).write_text(
        json.dumps({"version": 1, "threads": {"s": {"thread_id": "../x", "model_arg": None}}})
    )
    with pytest.raises(SessionStoreError, match="plain `thread_id`"):
        SessionStore(tmp_path).load()


def test_corrupt_file_is_a_clear_error_and_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / SESSION_FILE
    path.write_text('{"version": 1, "threads": ')
    with pytest.raises(SessionStoreError, match="move it aside") as info:
        SessionStore(tmp_path).put("s", ThreadRecord(THREAD, None))
    assert str(path) in str(info.value)
    assert path.read_text() == '{"version": 1, "threads": '


def test_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    SessionStore(tmp_path).put("s", ThreadRecord(THREAD, None))
    assert sorted(os.listdir(tmp_path)) == [SESSION_FILE]


plain_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}", fullmatch=True)
usages = st.builds(
    Usage,
    input_tokens=st.integers(0, 10**9),
    cached_input_tokens=st.integers(0, 10**9),
    cache_write_input_tokens=st.integers(0, 10**9),
    output_tokens=st.integers(0, 10**9),
    reasoning_output_tokens=st.integers(0, 10**9),
)
# A stored model_arg goes on codex's argv: names only (no leading `-`, printable).
model_args = st.text(min_size=1, max_size=256).filter(
    lambda t: not t.startswith("-") and t.isprintable()
)
records = st.builds(ThreadRecord, plain_ids, st.none() | model_args, usages)


@pytest.mark.parametrize("model_arg", ["--dangerously-x", "-m", "gpt\n-c x", "", 5])
def test_a_stored_model_arg_that_is_not_a_model_name_is_refused_on_read(
    tmp_path: Path, model_arg: object
) -> None:
    entry = {"thread_id": THREAD, "model_arg": model_arg}
    (tmp_path / SESSION_FILE).write_text(json.dumps({"version": 1, "threads": {"s": entry}}))
    with pytest.raises(SessionStoreError, match="model_arg"):
        SessionStore(tmp_path).load()


@given(st.dictionaries(st.text(min_size=1), records, max_size=5))
def test_store_round_trips_any_sessions(threads: dict[str, ThreadRecord]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        store = SessionStore(Path(tmp))
        for session_id, record in threads.items():
            store.put(session_id, record)
        assert store.load() == threads


async def test_lock_excludes_a_second_holder_until_released(tmp_path: Path) -> None:
    order: list[str] = []
    async with workspace_lock(tmp_path):
        waiter = asyncio.create_task(acquire_workspace_lock(tmp_path))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        order.append("first released")
    fd = await asyncio.wait_for(waiter, 5)
    order.append("second acquired")
    os.close(fd)
    assert order == ["first released", "second acquired"]


async def test_cancelled_lock_waiter_leaves_the_lock_usable(tmp_path: Path) -> None:
    async with workspace_lock(tmp_path):
        waiter = asyncio.create_task(acquire_workspace_lock(tmp_path))
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    fd = await asyncio.wait_for(acquire_workspace_lock(tmp_path), 5)
    os.close(fd)


def test_the_rollout_position_is_stored_and_read_back(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    far = ThreadRecord(THREAD, None, rollout_path="/h/sessions/r.jsonl", rollout_offset=1234)
    start = ThreadRecord("t2", "m", rollout_path="/h/sessions/r2.jsonl", rollout_offset=0)
    store.put("far", far)
    store.put("start", start)
    raw = json.loads((tmp_path / SESSION_FILE).read_text())
    assert raw["threads"]["far"]["rollout_path"] == "/h/sessions/r.jsonl"
    assert raw["threads"]["far"]["rollout_offset"] == 1234
    assert store.get("far") == far
    assert store.get("start") == start  # offset 0 is the start of the file, not "unknown"
    assert store.get("never stored") is None


@pytest.mark.parametrize(
    "position",
    [
        {"rollout_path": "/r.jsonl"},
        {"rollout_offset": 5},
        {"rollout_path": "/r.jsonl", "rollout_offset": -1},
        {"rollout_path": "/r.jsonl", "rollout_offset": "12"},
        {"rollout_path": 7, "rollout_offset": 12},
        {"rollout_path": "/r\x00.jsonl", "rollout_offset": 12},
        {"rollout_path": "/r.jsonl", "rollout_offset": 2**63},
    ],
)
def test_an_incomplete_or_invalid_rollout_position_is_forgotten_not_fatal(
    tmp_path: Path, position: dict[str, object]
) -> None:
    entry = {"thread_id": THREAD, "model_arg": None, **position}
    (tmp_path / SESSION_FILE).write_text(json.dumps({"version": 1, "threads": {"s": entry}}))
    assert SessionStore(tmp_path).load() == {"s": ThreadRecord(THREAD, None)}


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"version": 1, "threads": ', "invalid JSON"),
        ('{"threads": {}}', "expected an object with version 1"),
        ('{"version": 2, "threads": {}}', "expected an object with version 1"),
        ('{"version": 1, "threads": []}', "`threads` must be an object"),
        ('{"version": 1, "threads": {"s": "t"}}', "session 's' is not an object"),
        (
            '{"version": 1, "threads": {"s": {"thread_id": "t", "model_arg": 3}}}',
            "session 's': `model_arg` must be",  # the rest says what it must be
        ),
        ("../../not-an-id\n", "the legacy plain-text thread id is not a plain id"),
    ],
)
def test_each_kind_of_corrupt_file_is_named_in_the_error(
    tmp_path: Path, content: str, says: str
) -> None:
    path = tmp_path / SESSION_FILE
    path.write_text(content)
    with pytest.raises(SessionStoreError) as info:
        SessionStore(tmp_path).load()
    assert str(info.value).startswith(f"{path}: {says}")
    assert info.value.path == str(path)


def test_a_session_file_that_is_not_utf8_is_a_read_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / SESSION_FILE
    path.write_bytes(b'{"version": 1, "threads": {"\xff": {}}}')
    with pytest.raises(SessionStoreError, match=r"cannot read the session file: .*utf-8") as info:
        SessionStore(tmp_path).load()
    assert info.value.path == str(path)


def test_refusing_a_thread_id_names_the_session_file(tmp_path: Path) -> None:
    with pytest.raises(SessionStoreError) as info:
        SessionStore(tmp_path).put("s", ThreadRecord("../x", None))
    assert info.value.path == str(tmp_path / SESSION_FILE)


async def test_a_waiter_takes_the_lock_promptly_once_it_is_released(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    async with workspace_lock(tmp_path):
        waiter = asyncio.create_task(acquire_workspace_lock(tmp_path))
        await asyncio.sleep(0)  # the waiter tries once, finds the lock held, and starts polling
        assert not waiter.done()
        released = loop.time()
    fd = await asyncio.wait_for(waiter, 5)
    waited = loop.time() - released
    os.close(fd)
    # Polling every ~20 ms: a turn queued behind another starts as soon as the first ends.
    assert waited < 0.5


async def test_the_lock_file_is_private_to_the_user(tmp_path: Path) -> None:
    async with workspace_lock(tmp_path):
        pass
    assert (tmp_path / LOCK_FILE).stat().st_mode & 0o777 == 0o600


def _store_file(tmp_path: Path, entry: dict[str, object]) -> None:
    (tmp_path / SESSION_FILE).write_text(json.dumps({"version": 1, "threads": {"s": entry}}))


def test_a_rollout_offset_just_under_two_to_the_63_is_kept(tmp_path: Path) -> None:
    entry = {"thread_id": THREAD, "rollout_path": "/r.jsonl", "rollout_offset": 2**63 - 1}
    _store_file(tmp_path, entry)
    record = SessionStore(tmp_path).load()["s"]
    assert (record.rollout_path, record.rollout_offset) == ("/r.jsonl", 2**63 - 1)


@pytest.mark.parametrize("length", [1, 256])
def test_a_stored_model_name_up_to_256_characters_is_accepted(tmp_path: Path, length: int) -> None:
    _store_file(tmp_path, {"thread_id": THREAD, "model_arg": "m" * length})
    assert SessionStore(tmp_path).load()["s"].model_arg == "m" * length


def test_a_stored_model_name_over_256_characters_is_refused(tmp_path: Path) -> None:
    _store_file(tmp_path, {"thread_id": THREAD, "model_arg": "m" * 257})
    with pytest.raises(SessionStoreError, match="model_arg"):
        SessionStore(tmp_path).load()


def test_a_symlinked_session_file_is_refused_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"version": 1, "threads": {"s": {"thread_id": THREAD}}}))
    (tmp_path / SESSION_FILE).symlink_to(elsewhere)
    with pytest.raises(SessionStoreError, match="cannot read the session file") as info:
        SessionStore(tmp_path).load()
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.ELOOP


def test_a_session_path_that_is_a_directory_is_refused_as_not_a_regular_file(
    tmp_path: Path,
) -> None:
    (tmp_path / SESSION_FILE).mkdir()
    with pytest.raises(SessionStoreError, match=r"\[Errno 22\] not a regular file") as info:
        SessionStore(tmp_path).load()
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.EINVAL


def test_a_fifo_at_the_session_path_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / SESSION_FILE
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    done = threading.Event()

    def load() -> None:
        try:
            SessionStore(tmp_path).load()
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)
        finally:
            done.set()

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    if not done.wait(5):
        # A blocking open waits for a writer: be that writer so the thread ends, then fail.
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(5)
        pytest.fail("reading a FIFO session file blocked")
    reader.join(5)
    assert len(outcome) == 1
    assert isinstance(outcome[0], SessionStoreError)
    assert "not a regular file" in str(outcome[0])


def test_a_session_file_of_exactly_the_size_limit_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = json.dumps({"version": 1, "threads": {"s": {"thread_id": THREAD}}})
    (tmp_path / SESSION_FILE).write_text(content)
    monkeypatch.setattr(sessions, "MAX_SESSION_FILE_BYTES", len(content))
    assert SessionStore(tmp_path).load() == {"s": ThreadRecord(THREAD, None)}


def test_a_session_file_over_the_size_limit_is_refused_naming_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = json.dumps({"version": 1, "threads": {"s": {"thread_id": THREAD}}})
    (tmp_path / SESSION_FILE).write_text(content)
    monkeypatch.setattr(sessions, "MAX_SESSION_FILE_BYTES", len(content) - 1)
    with pytest.raises(SessionStoreError) as info:
        SessionStore(tmp_path).load()
    limit = len(content) - 1
    assert f"[Errno 27] {len(content)} bytes, over the {limit} byte limit" in str(info.value)
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.EFBIG


def test_a_session_file_larger_than_one_read_chunk_is_read_whole(tmp_path: Path) -> None:
    # Whitespace padding pushes the document past 1 MiB, so it arrives in several reads.
    head = json.dumps({"version": 1, "threads": {"s": {"thread_id": THREAD}}})[:-1]
    (tmp_path / SESSION_FILE).write_text(head + " " * (3 * 1024 * 1024) + "}")
    assert SessionStore(tmp_path).load() == {"s": ThreadRecord(THREAD, None)}


async def test_a_symlink_planted_at_the_lock_path_is_refused_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "planted-target"
    (tmp_path / LOCK_FILE).symlink_to(target)
    with pytest.raises(OSError) as info:
        await acquire_workspace_lock(tmp_path)
    assert info.value.errno == errno.ELOOP
    assert not target.exists()  # following the link would have created it


def test_a_session_file_growing_after_the_size_check_is_read_only_one_byte_past_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A hostile writer appends between fstat and the reads: simulated by an fstat that still
    # reports the small size for this one file. The read must stop at limit + 1 bytes, which the
    # caller then cannot parse, instead of following the file wherever it grows.
    path = tmp_path / "grows"
    path.write_bytes(b"x" * (3 * 1024 * 1024))
    inode = path.stat().st_ino
    real_fstat = os.fstat

    def stale_fstat(fd: int) -> os.stat_result:
        info = real_fstat(fd)
        if info.st_ino != inode:
            return info
        fields = list(info)
        fields[6] = 10  # st_size, as it was when checked
        return os.stat_result(fields)

    monkeypatch.setattr(os, "fstat", stale_fstat)
    assert len(sessions._read_regular_file(path, 100)) == 101
    assert len(sessions._read_regular_file(path, 2 * 1024 * 1024)) == 2 * 1024 * 1024 + 1


def test_stale_temp_files_of_the_store_are_removed_on_the_next_write_and_nothing_else(
    tmp_path: Path,
) -> None:
    # What a serve killed mid-write leaves: `..plexum-codex-session.<12 hex>.tmp`.
    stale = tmp_path / "..plexum-codex-session.0123456789ab.tmp"
    stale.write_text('{"version": 1, "thr')
    fresh = tmp_path / "..plexum-codex-session.abcdef012345.tmp"  # maybe being written now
    fresh.write_text("{")
    other = tmp_path / "..plexum-codex-session.not-hex-name.tmp"
    other.write_text("the model's own file")
    folder = tmp_path / "..plexum-codex-session.00000000000a.tmp"
    folder.mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("keep")
    link = tmp_path / "..plexum-codex-session.00000000000b.tmp"
    link.symlink_to(target)
    old = os.stat(stale).st_mtime - 3600
    for path in (stale, other, folder):
        os.utime(path, (old, old))
    os.utime(link, (old, old), follow_symlinks=False)

    SessionStore(tmp_path).put("s", ThreadRecord("019a0000-0000-7000-8000-000000000001", None))

    assert not stale.exists()
    assert fresh.read_text() == "{" and other.exists() and folder.is_dir()
    assert link.is_symlink() and target.read_text() == "keep"
    assert SessionStore(tmp_path).get("s") is not None
