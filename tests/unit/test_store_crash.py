"""A writer SIGKILLed at random moments never leaves the store broken or a reported turn lost."""

from __future__ import annotations

import hashlib
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core_server.sessions.store import SessionStore

REPO = Path(__file__).parents[2]
KILLS = 6

# Writes turns as fast as it can and prints each id once finish_turn has returned.
WRITER = """
import random, sys
from pathlib import Path
from core_server.sessions.store import SessionStore
from core_server.tasks import RGBAImage

rng = random.Random(int(sys.argv[2]))
store = SessionStore(Path(sys.argv[1]), url=sys.argv[3] or None)
session = store.create_session("cli", "crash-test", "crash.txt")
same = RGBAImage(8, 8, bytes(range(256)))  # shared by many turns: exercises the stored-once path
parent = None
while True:
    n = rng.randint(1, 3)
    turn = store.start_turn(session.id, parent, "variants", {"n": n}, list(range(n)), "tiny", "")
    if rng.random() < 0.6:
        sides = [rng.choice([8, 32, 96, 160]) for _ in range(n)]
        pics = [same if s == 8 else RGBAImage(s, s, rng.randbytes(s * s * 4)) for s in sides]
        store.finish_turn(turn.id, "completed", images=pics)
    else:
        store.finish_turn(turn.id, "completed", texts=[rng.choice(["same", str(rng.random())]) for _ in range(n)])
    print(turn.id, flush=True)
    parent = turn.id
"""


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
def test_sigkill_never_breaks_the_store(tmp_path: Path, store_url: str | None) -> None:
    rng = random.Random(20260801)
    reported: list[str] = []
    for run in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), str(run), store_url or ""],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        first = child.stdout.readline()  # it is writing turns now
        time.sleep(rng.uniform(0.0, 0.25))
        child.kill()
        rest, err = child.communicate()
        assert first, err
        # A line cut off by the kill was never fully reported.
        reported += [line.strip() for line in (first + rest).splitlines(keepends=True) if line.endswith("\n")]

    with SessionStore(tmp_path, url=store_url) as store:
        assert store.integrity_check() == "ok"
        assert store.mark_interrupted() <= KILLS  # at most the one turn each writer was in
        sessions = store.list_sessions(limit=1000)
        assert len(sessions) == KILLS
        turns = {turn.id: turn for s in sessions for turn in store.session_detail(s.id)[1]}

    if store_url is None:  # PostgreSQL checks foreign keys as it writes
        db = sqlite3.connect(tmp_path / "sessions.db")
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        db.close()

    assert len(reported) >= KILLS
    for turn_id in reported:
        assert turns[turn_id].status == "completed"
    for turn in turns.values():
        if turn.status != "completed":
            assert turn.status == "interrupted" and turn.candidates == ()
            continue
        assert len(turn.candidates) == len(turn.seeds)
        for candidate in turn.candidates:
            suffix = ".png" if candidate.kind == "image" else ".txt"
            blob = tmp_path / "blobs" / candidate.sha256[:2] / (candidate.sha256 + suffix)
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == candidate.sha256
