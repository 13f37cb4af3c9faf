"""Shared-memory images between the plugin client and a daemon on this machine: the files' rules, the
round trip through a real daemon, the files cleaned up, and the daemon refusing what is not its own."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cocreate_client import CocreateClient, Image, Mask, RequestError, shm, tasks
from cocreate_client.client import Client
from cocreate_client.pb import cocreate_pb2 as pb

from tests.support.daemon import Daemon, running_daemon

pytestmark = pytest.mark.skipif(not shm.available(), reason="needs /dev/shm")
SIDE = 512  # 1 MiB of RGBA: large enough to go through shared memory


def ours() -> set[str]:
    return {p.name for p in shm.FOLDER.glob(shm.PREFIX + "*")}


def test_a_file_holds_exactly_the_data_and_only_its_user_may_read_it() -> None:
    data = os.urandom(300_000)
    name = shm.write(data)
    try:
        assert shm.NAME.fullmatch(name)
        assert (shm.FOLDER / name).stat().st_mode & 0o777 == 0o600
        assert shm.read(name, len(data)) == data
        with pytest.raises(shm.SharedMemoryError, match="holds 300000 bytes, not 299999"):
            shm.read(name, len(data) - 1)
    finally:
        shm.remove(name)
    assert name not in ours()


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "cocreate-xyz", "other-" + "0" * 32, ""])
def test_names_that_are_not_cocreate_files_are_refused(name: str) -> None:
    with pytest.raises(shm.SharedMemoryError, match="not a cocreate shared-memory name"):
        shm.read(name, 4)


def test_links_and_files_others_may_read_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    target.write_bytes(b"1234")
    link = shm.FOLDER / (shm.PREFIX + "1" * 32)
    link.symlink_to(target)
    loose = shm.FOLDER / (shm.PREFIX + "2" * 32)
    loose.write_bytes(b"1234")
    loose.chmod(0o644)
    try:
        with pytest.raises(shm.SharedMemoryError, match="cannot open"):
            shm.read(link.name, 4)
        with pytest.raises(shm.SharedMemoryError, match="not a private file"):
            shm.read(loose.name, 4)
    finally:
        link.unlink()
        loose.unlink()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("shm-home")) as running:
        yield running


def picture() -> tuple[Image, Mask]:
    rgba = bytes(v for y in range(SIDE) for x in range(SIDE) for v in (x % 256, y % 256, 77, 255))
    square = bytes(255 if 200 <= x < 300 else 0 for x in range(SIDE))
    alpha = b"".join(square if 200 <= y < 300 else bytes(SIDE) for y in range(SIDE))
    return Image(SIDE, SIDE, rgba), Mask(SIDE, SIDE, alpha)


def inpaint_request(client: CocreateClient, document: str, candidates: int) -> pb.GenerateRequest:
    """The picture inpainted inside its mask, in a new session of `document`."""
    image, mask = picture()
    session = client.create_session("test", document)
    return tasks.inpaint(image, mask=mask, session_id=session.id, prompt="x", steps=2, candidates=candidates, seed=5)


def test_images_go_both_ways_through_shared_memory(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[str] = []
    take = shm.take
    monkeypatch.setattr(shm, "take", lambda name, size: taken.append(name) or take(name, size))
    sent: list[tuple[int, str]] = []
    write = shm.write

    def recorded(data: bytes) -> str:
        sent.append((len(data), name := write(data)))
        return name

    monkeypatch.setattr(shm, "write", recorded)
    image, mask = picture()
    with CocreateClient(daemon.endpoint) as client:
        request = inpaint_request(client, "shm", candidates=2)
        result = client.generate(request).wait(120)
    assert result.ok, result.error
    # The probe, then the picture and its mask (256 KiB: just large enough).
    assert [size for size, _ in sent] == [shm.PROBE_MAX_BYTES, SIDE * SIDE * 4, SIDE * SIDE]
    assert len(taken) == 2  # both candidates came as files
    assert all(unchanged_outside_mask(c.image, image, mask) for c in result.candidates)
    assert request.inpaint.image.rgba == image.rgba  # the caller's request is as it was
    assert ours().isdisjoint([name for _, name in sent] + taken)  # every file removed, the client's and the daemon's


def test_the_daemon_refuses_shared_memory_that_is_not_as_described(daemon: Daemon) -> None:
    image, mask = picture()
    with CocreateClient(daemon.endpoint) as client:
        session = client.create_session("test", "shm-bad")
        for shared, problem in (
            (pb.SharedMemory(name="../../etc/passwd", size=SIDE * SIDE * 4), "not a cocreate shared-memory name"),
            (pb.SharedMemory(name=shm.PREFIX + "3" * 32, size=SIDE * SIDE * 4), "cannot open"),
            (pb.SharedMemory(name=shm.PREFIX + "3" * 32, size=5), "shared.size"),
        ):
            request = tasks.inpaint(image, mask=mask, session_id=session.id, steps=2)
            request.inpaint.image.ClearField("rgba")
            request.inpaint.image.shared.CopyFrom(shared)
            request.inpaint.ClearField("mask")  # a small request: on the wire as it is
            error = client.generate(request).wait(60).error
            assert error is not None and error.code == "INVALID_ARGUMENT", error
            assert problem in error.message and "inpaint.image" in error.message


def unchanged_outside_mask(got: Image | None, image: Image, mask: Mask) -> bool:
    outside = [i for i, m in enumerate(mask.alpha) if m == 0][:: SIDE + 7]
    return got is not None and all(got.rgba[i * 4 : i * 4 + 4] == image.rgba[i * 4 : i * 4 + 4] for i in outside)


def test_a_client_with_its_own_dev_shm_sends_and_gets_large_images_on_the_wire(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As in a Flatpak, Snap or container host: the client's /dev/shm is not the daemon's."""
    private = tmp_path / "private-shm"
    private.mkdir()
    monkeypatch.setattr(shm, "FOLDER", private)
    taken: list[str] = []
    monkeypatch.setattr(shm, "take", lambda name, size: taken.append(name) or b"")
    image, mask = picture()
    with CocreateClient(daemon.endpoint) as client:
        request = inpaint_request(client, "sandboxed", candidates=2)
        result = client.generate(request).wait(120)
        again = client.generate(request).wait(120)  # probed once per connection: the answer is kept
    assert result.ok and again.ok, (result.error, again.error)
    assert len(result.candidates) == 2
    assert all(unchanged_outside_mask(c.image, image, mask) for c in result.candidates)
    assert list(private.iterdir()) == []  # the probe file removed; nothing else was written
    assert taken == []  # and the daemon wrote no candidate files for a client that cannot see them


def test_a_candidate_file_the_client_cannot_open_is_fetched_on_the_wire(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe said yes, then the file was not there (the daemon moved into a sandbox, say)."""
    missing: list[str] = []

    def vanished(name: str, size: int) -> bytes:
        missing.append(name)
        raise shm.SharedMemoryError(f"cannot open shared memory {name}: No such file or directory")

    monkeypatch.setattr(shm, "take", vanished)
    image, mask = picture()
    with CocreateClient(daemon.endpoint) as client:
        request = inpaint_request(client, "vanished", candidates=1)
        result = client.generate(request).wait(120)
    assert result.ok, result.error
    assert len(missing) == 1 and unchanged_outside_mask(result.candidates[0].image, image, mask)
    for name in missing:  # the daemon would remove it after its grace period; here the test does
        shm.remove(name)


def test_the_probe_reads_back_only_small_private_files_of_cocreate_names(daemon: Daemon) -> None:
    async def probe(name: str, size: int) -> bytes:
        client = Client(daemon.endpoint)
        try:
            request = pb.SharedMemoryProbe(file=pb.SharedMemory(name=name, size=size))
            return (await client._unary("ProbeSharedMemory", request)).seen
        finally:
            client.close()

    secret = os.urandom(shm.PROBE_MAX_BYTES)
    name = shm.write(secret)
    loose = shm.FOLDER / (shm.PREFIX + "4" * 32)
    loose.write_bytes(secret)
    loose.chmod(0o644)
    fifo = shm.FOLDER / (shm.PREFIX + "5" * 32)
    os.mkfifo(fifo, 0o600)
    try:
        assert asyncio.run(probe(name, len(secret))) == secret
        assert asyncio.run(probe("../../etc/passwd", 16)) == b""
        assert asyncio.run(probe(loose.name, len(secret))) == b""
        assert asyncio.run(probe(fifo.name, len(secret))) == b""  # refused at once, never waited on
        with pytest.raises(RequestError, match=r"INVALID_ARGUMENT.*file\.size"):
            asyncio.run(probe(name, 10_000))
    finally:
        shm.remove(name)
        loose.unlink()
        fifo.unlink()
