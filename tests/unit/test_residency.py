from dataclasses import dataclass, field

from core_server.scheduler.residency import Residency


@dataclass
class FakeEngine:
    name: str
    memory_bytes: int
    closed: list[str] = field(default_factory=list)
    kind: str = "image"
    device: str = "cpu"
    dtype: str = "float32"

    def close(self) -> None:
        self.closed.append(self.name)


def test_loads_lazily_and_unloads_least_recently_used_past_the_budget() -> None:
    closed: list[str] = []
    loads: list[str] = []

    def load(name: str) -> FakeEngine:
        loads.append(name)
        return FakeEngine(name, 40, closed)

    residency = Residency(load, max_memory_bytes=100)
    assert residency.residents() == []
    residency.acquire("a", "a")
    residency.acquire("b", "b")
    residency.acquire("a", "a")  # a is now the most recent
    assert loads == ["a", "b"]
    residency.acquire("c", "c")  # 120 > 100: b, the least recently used, goes
    assert closed == ["b"]
    assert sorted(r.name for r in residency.residents()) == ["a", "c"]
    residency.close()
    assert sorted(closed) == ["a", "b", "c"]


def test_the_model_in_use_stays_even_alone_over_budget() -> None:
    residency = Residency(lambda name: FakeEngine(name, 500), max_memory_bytes=100)
    engine = residency.acquire("big", "big")
    assert [r.name for r in residency.residents()] == ["big"]
    assert engine.closed == []
