"""Crash drill: SIGKILL the daemon at random moments, restart it, and check nothing acknowledged is lost.

    python bench/crash.py [--kills 20] [--seed 0]

While clients generate images and text and send feedback, the daemon is killed at a random
moment (mid-generation, mid-write of candidates, mid-feedback), then restarted on the same home.
After each restart: the SQLite store passes integrity_check, every turn a client saw Done for
is there with all its candidates, every feedback the daemon acknowledged is there, every
referenced blob exists and hashes to its name, and no turn is left 'running'.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.service.images import disc, gradient
from tests.support.daemon import Daemon, start_daemon


class Ledger:
    """What the daemon acknowledged to clients: turns with their candidates, and feedback ids."""

    def __init__(self) -> None:
        self.turns: dict[str, list[str]] = {}
        self.feedback: set[str] = set()
        self.lock = threading.Lock()


def client(daemon: Daemon, session: str, ledger: Ledger, rng: random.Random, stop: threading.Event) -> None:
    with grpc.insecure_channel(daemon.endpoint) as channel:
        stub = pb_grpc.CocreateStub(channel)
        while not stop.is_set():
            if rng.random() < 0.5:
                side = rng.choice([64, 128])
                task = {
                    "inpaint": pb.InpaintTask(
                        image=gradient(side, side), mask=disc(side, side), steps=rng.randint(2, 12)
                    )
                }
            else:
                task = {"continue_text": pb.ContinueTextTask(before="Once", max_new_tokens=rng.randint(4, 40))}
            request = pb.GenerateRequest(session_id=session, candidates=rng.randint(1, 3), **task)
            try:
                events = list(stub.Generate(request, timeout=60))
                done = events[-1].done
                if done.status != pb.JOB_COMPLETED:
                    continue
                candidates = [e.candidate for e in events if e.HasField("candidate")]
                with ledger.lock:
                    ledger.turns[done.turn_id] = [c.candidate_id for c in candidates]
                reply = stub.Feedback(
                    pb.FeedbackRequest(candidate_id=candidates[0].candidate_id, decision=pb.ACCEPTED), timeout=10
                )
                with ledger.lock:
                    ledger.feedback.add(reply.feedback_id)
            except grpc.RpcError:
                return  # the daemon died under us: expected


def check(home: Path, ledger: Ledger) -> list[str]:
    problems = []
    db = sqlite3.connect(home / "sessions" / "sessions.db")
    try:
        if (result := db.execute("PRAGMA integrity_check").fetchone()[0]) != "ok":
            problems.append(f"integrity_check: {result}")
        running = db.execute("SELECT count(*) FROM turns WHERE status = 'running'").fetchone()[0]
        if running:
            problems.append(f"{running} turns left 'running'")
        for turn_id, candidate_ids in ledger.turns.items():
            stored = [r[0] for r in db.execute("SELECT id FROM candidates WHERE turn_id = ? ORDER BY idx", (turn_id,))]
            status = db.execute("SELECT status FROM turns WHERE id = ?", (turn_id,)).fetchone()
            if stored != candidate_ids or status != ("completed",):
                problems.append(
                    f"turn {turn_id}: acknowledged {len(candidate_ids)} candidates, found {len(stored)} ({status})"
                )
        known = {r[0] for r in db.execute("SELECT id FROM feedback")}
        problems += [f"feedback {f} lost" for f in ledger.feedback - known]
        blobs = [
            *db.execute("SELECT sha256, kind FROM candidates"),
            *db.execute("SELECT final_sha256, final_kind FROM feedback WHERE final_sha256 IS NOT NULL"),
        ]
    finally:
        db.close()
    for sha, kind in blobs:
        path = home / "sessions" / "blobs" / sha[:2] / f"{sha}.{'png' if kind == 'image' else 'txt'}"
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != sha:
            problems.append(f"blob {sha} missing or half written")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    home = Path(tempfile.mkdtemp(prefix="cocreate-crash-")) / "home"
    ledger = Ledger()
    session = ""
    failures = 0
    for kill in range(1, args.kills + 1):
        daemon = start_daemon(home)
        with grpc.insecure_channel(daemon.endpoint) as channel:
            stub = pb_grpc.CocreateStub(channel)
            if not session:
                session = stub.CreateSession(pb.CreateSessionRequest(host="crash-drill")).id
            # A first job loads the models, so the kills below land in generation, not in loading.
            warm_up = pb.ContinueTextTask(before="warm", max_new_tokens=1)
            list(
                stub.Generate(pb.GenerateRequest(session_id=session, candidates=1, continue_text=warm_up), timeout=120)
            )
            list(
                stub.Generate(
                    pb.GenerateRequest(
                        session_id=session, candidates=1, inpaint=pb.InpaintTask(image=gradient(), steps=1)
                    ),
                    timeout=120,
                )
            )
        problems = check(home, ledger)  # after the previous kill, with the daemon back up
        stop = threading.Event()
        clients = [
            threading.Thread(target=client, args=(daemon, session, ledger, random.Random(rng.random()), stop))
            for _ in range(3)
        ]
        for c in clients:
            c.start()
        time.sleep(rng.uniform(0.2, 4.0))
        daemon.kill()
        stop.set()
        for c in clients:
            c.join(30)
        failures += bool(problems)
        print(
            f"kill {kill:2}: {len(ledger.turns)} turns and {len(ledger.feedback)} decisions acknowledged so far; "
            f"checks after restart: {problems[:3] or 'ok'}",
            flush=True,
        )
    daemon = start_daemon(home)
    problems = check(home, ledger)
    daemon.stop()
    with sqlite3.connect(home / "sessions" / "sessions.db") as db:
        interrupted = db.execute("SELECT count(*) FROM turns WHERE status = 'interrupted'").fetchone()[0]
    print(
        f"{args.kills} kills survived; turns acknowledged {len(ledger.turns)}, lost "
        f"{sum('turn' in p for p in problems)}; decisions acknowledged {len(ledger.feedback)}, lost "
        f"{sum('feedback' in p for p in problems)}; turns cut off by a kill and marked interrupted: {interrupted}; "
        f"final checks: {problems or 'ok'}"
    )
    return 1 if failures or problems else 0


if __name__ == "__main__":
    sys.exit(main())
