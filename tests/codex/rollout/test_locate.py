"""locate_rollout: remembered path, UUIDv7 date folder (local time), state_5.sqlite, then a walk."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from plexum_openai_provider.codex.rollout import locate_rollout
from plexum_openai_provider.codex.rollout.locate import uuid7_local_time

# Captured: created 2026-11-22T01:27:26Z with TZ=America/Los_Angeles → sessions/2026/11/21/...
TID = "01a200dd-808f-7023-bb85-25345364b9aa"
LA_NAME = f"2026/11/21/rollout-2026-11-21T17-27-26-{TID}.jsonl"
PST = dt.timezone(dt.timedelta(hours=-8))


def make(home: Path, rel: str) -> Path:
    path = home / "sessions" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}\n")
    return path


def state_db(home: Path, rows: list[tuple[str, str]], *, table: bool = True) -> Path:
    db = home / "state_5.sqlite"
    conn = sqlite3.connect(db)
    if table:
        conn.execute("CREATE TABLE threads (id TEXT PRIMARY KEY, rollout_path TEXT NOT NULL)")
        conn.executemany("INSERT INTO threads VALUES (?, ?)", rows)
    conn.commit()
    conn.close()
    return db


def test_the_uuid7_timestamp_is_read_in_the_given_time_zone() -> None:
    assert uuid7_local_time(TID, dt.UTC) == dt.datetime(2026, 11, 22, 1, 27, 26, 95000, dt.UTC)
    assert uuid7_local_time(TID, PST) == dt.datetime(2026, 11, 21, 17, 27, 26, 95000, PST)
    assert uuid7_local_time(str(uuid.uuid4())) is None  # not a v7: no date to derive


def test_the_date_folder_is_the_local_day_of_the_thread_creation(tmp_path: Path) -> None:
    expected = make(tmp_path, LA_NAME)
    make(tmp_path, f"2026/11/22/rollout-2026-11-22T01-27-26-{TID}-decoy.jsonl")
    assert locate_rollout(tmp_path, TID, tz=PST) == expected


def test_the_process_local_time_zone_is_the_default(tmp_path: Path) -> None:
    expected = make(tmp_path, LA_NAME)
    code = (
        "import sys, time; from pathlib import Path; time.tzset();"
        "from plexum_openai_provider.codex.rollout.locate import locate_rollout, uuid7_local_time;"
        "print(f'{uuid7_local_time(sys.argv[2]):%Y/%m/%d %H:%M}');"
        "print(locate_rollout(Path(sys.argv[1]), sys.argv[2]))"
    )

    def run(tz: str) -> list[str]:
        return subprocess.run(
            [sys.executable, "-c", code, str(tmp_path), TID],
            env={**os.environ, "TZ": tz},
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parents[3],
        ).stdout.splitlines()

    assert run("America/Los_Angeles") == ["2026/11/21 17:27", str(expected)]
    assert run("Asia/Tokyo")[0] == "2026/11/22 10:27"


def test_a_file_named_a_few_seconds_off_or_on_a_neighbour_day_is_found(tmp_path: Path) -> None:
    expected = make(tmp_path, f"2026/11/22/rollout-2026-11-22T00-00-01-{TID}.jsonl")
    assert locate_rollout(tmp_path, TID, tz=PST) == expected  # 11/21 PST, file under 11/22


def test_the_date_folder_is_found_without_walking_the_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = make(tmp_path, LA_NAME)

    def no_walk(*_: object, **__: object) -> object:
        raise AssertionError("walked the sessions tree")

    monkeypatch.setattr(os, "walk", no_walk)
    assert locate_rollout(tmp_path, TID, tz=PST) == expected


def test_codex_state_db_is_asked_before_any_walk(tmp_path: Path) -> None:
    tid = str(uuid.uuid4())
    elsewhere = tmp_path / "moved" / f"rollout-2020-01-01T00-00-00-{tid}.jsonl"
    elsewhere.parent.mkdir()
    elsewhere.write_text("{}\n")
    make(tmp_path, f"2020/01/01/rollout-2020-01-01T00-00-00-{tid}.jsonl")
    state_db(tmp_path, [(tid, str(elsewhere))])
    assert locate_rollout(tmp_path, tid) == elsewhere


def test_a_state_db_row_for_another_file_name_is_not_trusted(tmp_path: Path) -> None:
    tid = str(uuid.uuid4())
    wrong = make(tmp_path, "2020/01/01/rollout-2020-01-01T00-00-00-other.jsonl")
    state_db(tmp_path, [(tid, str(wrong))])
    assert locate_rollout(tmp_path, tid) is None


@pytest.mark.parametrize("trouble", ["no table", "not a database", "locked"])
def test_an_unusable_state_db_falls_back_to_the_walk(tmp_path: Path, trouble: str) -> None:
    tid = str(uuid.uuid4())
    expected = make(tmp_path, f"2021/03/04/rollout-2021-03-04T05-06-07-{tid}.jsonl")
    holder = None
    if trouble == "no table":
        state_db(tmp_path, [], table=False)
    elif trouble == "not a database":
        (tmp_path / "state_5.sqlite").write_bytes(b"garbage" * 100)
    else:
        state_db(tmp_path, [(tid, "/nowhere")])
        holder = sqlite3.connect(tmp_path / "state_5.sqlite")
        holder.execute("BEGIN EXCLUSIVE")
    try:
        assert locate_rollout(tmp_path, tid) == expected
    finally:
        if holder is not None:
            holder.rollback()
            holder.close()
    assert not (tmp_path / "state_5.sqlite-wal").exists()  # read-only: nothing created


def test_the_walk_finds_a_thread_whose_id_carries_no_date(tmp_path: Path) -> None:
    tid = str(uuid.uuid4())
    make(tmp_path, "2019/01/01/rollout-2019-01-01T00-00-00-someone-else.jsonl")
    expected = make(tmp_path, f"2019/05/06/rollout-2019-05-06T00-00-00-{tid}.jsonl")
    assert locate_rollout(tmp_path, tid) == expected


def test_the_remembered_path_wins_while_it_exists(tmp_path: Path) -> None:
    make(tmp_path, LA_NAME)
    remembered = tmp_path / "sessions" / "kept" / f"rollout-x-{TID}.jsonl"
    remembered.parent.mkdir()
    remembered.write_text("{}\n")
    assert locate_rollout(tmp_path, TID, remembered=remembered, tz=PST) == remembered
    remembered.unlink()
    assert (
        locate_rollout(tmp_path, TID, remembered=remembered, tz=PST)
        == tmp_path / "sessions" / LA_NAME
    )


@pytest.mark.parametrize("where", ["outside", "symlink"])
def test_a_remembered_path_outside_the_sessions_folder_is_ignored(
    tmp_path: Path, where: str
) -> None:
    real = make(tmp_path, LA_NAME)
    forged = tmp_path / "workspace" / f"rollout-x-{TID}.jsonl"
    forged.parent.mkdir()
    forged.write_text("{}\n")
    if where == "symlink":
        link = tmp_path / "sessions" / f"rollout-y-{TID}.jsonl"
        link.symlink_to(forged)
        forged = link
    assert locate_rollout(tmp_path, TID, remembered=forged, tz=PST) == real


def test_a_remembered_path_of_another_thread_is_ignored(tmp_path: Path) -> None:
    other = make(tmp_path, "2020/01/01/rollout-2020-01-01T00-00-00-other.jsonl")
    assert locate_rollout(tmp_path, TID, remembered=other, tz=PST) is None


def test_an_unknown_thread_or_missing_home_is_none(tmp_path: Path) -> None:
    assert locate_rollout(tmp_path, TID, tz=PST) is None
    assert locate_rollout(tmp_path / "absent", "abc") is None


@pytest.mark.parametrize(
    "bad", ["", "../etc", "a/b", "-rf", "x\n", "é", "a" * 129, "*", "id with space", "a.b"]
)
def test_ids_that_are_not_plain_are_refused_before_touching_the_disk(
    tmp_path: Path, bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fs(*_: object, **__: object) -> object:
        raise AssertionError("touched the file system")

    monkeypatch.setattr(os, "scandir", no_fs)
    monkeypatch.setattr(os, "walk", no_fs)
    with pytest.raises(ValueError, match="not a plain thread id"):
        locate_rollout(tmp_path, bad)
