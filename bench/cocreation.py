"""Does feedback help? A simulated artist with a hidden target, with adaptation and without.

    python bench/cocreation.py                       # images and text, 20 sessions per mode, tiny profile
    python bench/cocreation.py --kind image --sessions 40

Each session has a hidden target the artist compares candidates with: for images a colour histogram (the
palette of a picture the model made from a hidden seed, so it is reachable), for text a vocabulary and a
length (the tokens and word count of a hidden-seed text; tokens, since the tiny model writes no words).
Every turn asks a real daemon for --candidates candidates; the artist accepts the one closest to the
target and rejects the rest, and the next turn continues from it.
A session ends when a candidate is within the threshold, or after --max-turns (counted as that many turns).
The threshold is the --quantile of the distances of unsteered candidates to their targets, measured first,
so both modes face the same bar.

Modes: "adapted" (--exploration, default 0: stay close to what was liked) and
"unadapted" (exploration = 1: the history is ignored). Sessions use the same seeds in both modes.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

from core_server.launcher import launch
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc

HIDDEN_SEED = 1_000_000  # targets come from seeds no session draws
BINS = 4  # per channel: a 64-colour palette


@dataclass(frozen=True)
class Kind:
    task: Callable[[], dict[str, object]]  # the GenerateRequest task field
    features: Callable[[pb.Candidate], np.ndarray | tuple[set[str], int]]
    distance: Callable[[object, object], float]


def palette(candidate: pb.Candidate) -> np.ndarray:
    rgb = np.frombuffer(candidate.image.rgba, np.uint8).reshape(-1, 4)[:, :3] // (256 // BINS)
    index = (rgb[:, 0].astype(int) * BINS + rgb[:, 1]) * BINS + rgb[:, 2]
    return np.bincount(index, minlength=BINS**3) / len(index)


def palette_distance(a: object, b: object) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).sum() / 2)  # total variation, 0 .. 1


def vocabulary(tokenizer: Callable[[str], list[int]]) -> Callable[[pb.Candidate], tuple[set[int], int]]:
    """A text's vocabulary as the model's tokens (the tiny model writes no real words) and its length in words."""

    def features(candidate: pb.Candidate) -> tuple[set[int], int]:
        return set(tokenizer(candidate.text)), len(candidate.text.split())

    return features


def vocabulary_distance(candidate: object, target: object) -> float:
    (tokens, length), (wanted, wanted_length) = candidate, target  # type: ignore[misc]
    missed = 1 - len(tokens & wanted) / max(1, len(tokens))
    return missed + 0.5 * abs(length - wanted_length) / max(1, wanted_length)


def kinds(models: Path) -> dict[str, Kind]:
    from transformers import AutoTokenizer

    from core_server.models.catalog import ModelCatalog

    tokenizer = AutoTokenizer.from_pretrained(ModelCatalog(models).resolve("", "text").path)
    return {
        "image": Kind(
            lambda: {"texture": pb.TextureTask(prompt="bricks", width=64, height=64, steps=4)},
            palette,
            palette_distance,
        ),
        "text": Kind(
            lambda: {"continue_text": pb.ContinueTextTask(before="Once upon a time", max_new_tokens=24)},
            vocabulary(lambda text: tokenizer(text, add_special_tokens=False).input_ids),
            vocabulary_distance,
        ),
    }


class Artist:
    def __init__(self, stub: pb_grpc.CocreateStub, kind: Kind, candidates: int) -> None:
        self.stub, self.kind, self.candidates = stub, kind, candidates

    def generate(self, session_id: str, seed: int, **fields: object) -> tuple[str, list[pb.Candidate]]:
        """The turn's id and its candidates."""
        request = pb.GenerateRequest(session_id=session_id, candidates=self.candidates, seed=seed, **fields)
        for name, task in self.kind.task().items():
            getattr(request, name).CopyFrom(task)
        events = list(self.stub.Generate(request, timeout=300))
        return events[0].accepted.turn_id, [e.candidate for e in events if e.HasField("candidate")]

    def session(self) -> str:
        return self.stub.CreateSession(pb.CreateSessionRequest(host="bench", document_name="cocreation")).id

    def target(self, index: int) -> object:
        hidden = self.generate(self.session(), HIDDEN_SEED + index * 100)[1][0]
        return self.kind.features(hidden)

    def turns_to_target(
        self, index: int, threshold: float, exploration: float | None, max_turns: int
    ) -> tuple[int, bool]:
        """Turns taken, and whether the target was reached within max_turns."""
        target = self.target(index)
        session_id, parent = self.session(), ""
        for turn in range(1, max_turns + 1):
            seed = (index * 1000 + turn) * self.candidates
            fields: dict[str, object] = {"parent_turn_id": parent}
            if exploration is not None:
                fields["exploration"] = exploration
            parent, candidates = self.generate(session_id, seed, **fields)
            distances = [self.kind.distance(self.kind.features(c), target) for c in candidates]
            best = int(np.argmin(distances))
            if distances[best] <= threshold:
                return turn, True
            for i, candidate in enumerate(candidates):
                decision = pb.ACCEPTED if i == best else pb.REJECTED
                self.stub.Feedback(pb.FeedbackRequest(candidate_id=candidate.candidate_id, decision=decision))
        return max_turns, False

    def threshold(self, sessions: int, quantile: float) -> float:
        distances = []
        for index in range(sessions):
            target = self.target(index)
            for c in self.generate(self.session(), 10_000_000 + index * 100, exploration=1.0)[1]:
                distances.append(self.kind.distance(self.kind.features(c), target))
        return float(np.quantile(distances, quantile))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=["image", "text", "both"], default="both")
    parser.add_argument("--sessions", type=int, default=20, help="seeded sessions per mode (default 20)")
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--max-turns", type=int, default=20)
    parser.add_argument("--quantile", type=float, default=0.03, help="of unsteered distances: the target bar")
    parser.add_argument("--exploration", type=float, default=0.0, help="for the adapted mode (default 0)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cocreate-bench-") as home:
        env = dict(os.environ, COCREATE_HOME=home, HF_HUB_OFFLINE="1")
        daemon = launch(["--socket", str(Path(home) / "cocreate.sock")], env, 300.0)
        try:
            with grpc.insecure_channel(daemon.endpoint) as channel:
                stub = pb_grpc.CocreateStub(channel)
                table = kinds(Path(home) / "models")
                for name in table if args.kind == "both" else [args.kind]:
                    report(name, Artist(stub, table[name], args.candidates), args)
        finally:
            daemon.stop()
    return 0


def report(name: str, artist: Artist, args: argparse.Namespace) -> None:
    # Calibrated on other targets than the sessions', so the bar is not tuned to them.
    threshold = artist.threshold(max(10, args.sessions // 2), args.quantile)
    out = io.StringIO()
    turns = {}
    for mode, exploration in (("adapted", args.exploration), ("unadapted", 1.0)):
        runs = [artist.turns_to_target(1000 + i, threshold, exploration, args.max_turns) for i in range(args.sessions)]
        turns[mode] = [taken for taken, _ in runs]
        reached = sum(hit for _, hit in runs)
        print(
            f"{name:5} {mode:9}: mean {statistics.mean(turns[mode]):5.2f} turns to target "
            f"(median {statistics.median(turns[mode]):4.1f}; "
            f"{reached}/{args.sessions} reached within {args.max_turns})",
            file=out,
        )
    ratio = statistics.mean(turns["adapted"]) / statistics.mean(turns["unadapted"])
    print(
        f"{name:5} threshold {threshold:.4f} ({args.quantile:.0%} of unsteered candidates); {args.candidates} "
        f"candidates a turn; adapted / unadapted = {ratio:.2f} ({1 - ratio:+.0%} turns)",
        file=out,
    )
    print(out.getvalue(), end="", flush=True)


if __name__ == "__main__":
    sys.exit(main())
