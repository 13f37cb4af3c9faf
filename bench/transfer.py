"""Image round trips through gRPC: the plugins' pure-Python stack (grpclib) vs grpcio, the
pure-Python client with the pixels in shared memory vs on the wire, and straight to gRPC's socket vs
through the daemon's peer relay (core_server.service.peers, which tells local processes apart).

    python bench/transfer.py [--repeat 7]

An echo server with the daemon's message limits runs in a child process on a Unix
socket; each client sends an RGBA image and receives it back. The shared-memory echo
reads the client's file and answers with a file of its own, as the daemon does
(cocreate_client.shm on both sides). Every pair is measured side by side in one run,
alternating, and the median is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import grpclib.client
from cocreate_client import shm
from cocreate_client.pb import cocreate_pb2 as client_pb

from core_server.config import DEFAULT_LIMITS
from core_server.pb import cocreate_pb2 as pb
from core_server.service.peers import UnixFront

METHOD = "/bench.Echo/Echo"
SHARED_METHOD = "/bench.Echo/EchoShared"
MESSAGE_OPTIONS = [  # as the daemon sets them
    ("grpc.max_receive_message_length", DEFAULT_LIMITS.max_message_bytes),
    ("grpc.max_send_message_length", DEFAULT_LIMITS.max_message_bytes),
]
SIZES = (512, 2048)


async def serve(path: str) -> None:
    server = grpc.aio.server(options=MESSAGE_OPTIONS)

    async def echo(image: pb.Image, context: grpc.aio.ServicerContext) -> pb.Image:
        return image

    async def echo_shared(image: pb.Image, context: grpc.aio.ServicerContext) -> pb.Image:
        rgba = shm.read(image.shared.name, image.width * image.height * 4)
        shared = pb.SharedMemory(name=shm.write(rgba), size=len(rgba))
        return pb.Image(width=image.width, height=image.height, shared=shared)

    handlers = {
        name: grpc.unary_unary_rpc_method_handler(method, pb.Image.FromString, pb.Image.SerializeToString)
        for name, method in (("Echo", echo), ("EchoShared", echo_shared))
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Echo", handlers),))
    server.add_insecure_port(f"unix:{path}")
    relay = UnixFront(Path(path + ".relay"))  # the daemon's public socket: SO_PEERCRED, then bytes relayed
    server.add_insecure_port(relay.grpc_address)
    await server.start()
    await relay.start()
    print("ready", flush=True)
    await server.wait_for_termination()


def grpcio_round_trips(path: str, image: pb.Image, repeat: int) -> list[float]:
    with grpc.insecure_channel(f"unix:{path}", options=MESSAGE_OPTIONS) as channel:
        echo = channel.unary_unary(METHOD, pb.Image.SerializeToString, pb.Image.FromString)
        echo(image)  # connect and warm up
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            reply = echo(image)
            times.append(time.perf_counter() - start)
            assert len(reply.rgba) == len(image.rgba)
        return times


async def grpclib_round_trips(path: str, image: client_pb.Image, repeat: int) -> list[float]:
    channel = grpclib.client.Channel(path=path)
    echo = grpclib.client.UnaryUnaryMethod(channel, METHOD, client_pb.Image, client_pb.Image)
    try:
        await echo(image)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            reply = await echo(image)
            times.append(time.perf_counter() - start)
            assert len(reply.rgba) == len(image.rgba)
        return times
    finally:
        channel.close()


async def shared_round_trips(path: str, side: int, rgba: bytes, repeat: int) -> list[float]:
    """Each round trip: write the file, send its name, read the daemon's file back and remove both."""
    channel = grpclib.client.Channel(path=path)
    echo = grpclib.client.UnaryUnaryMethod(channel, SHARED_METHOD, client_pb.Image, client_pb.Image)

    async def once() -> bytes:
        name = shm.write(rgba)
        try:
            shared = client_pb.SharedMemory(name=name, size=len(rgba))
            reply = await echo(client_pb.Image(width=side, height=side, shared=shared))
            return shm.take(reply.shared.name, len(rgba))
        finally:
            shm.remove(name)

    try:
        assert await once() == rgba
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            await once()
            times.append(time.perf_counter() - start)
        return times
    finally:
        channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    path = str(Path(tempfile.mkdtemp()) / "echo.sock")
    server = subprocess.Popen([sys.executable, __file__, "--serve", path], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        print(f"{'image':>12} {'MiB':>6} {'grpcio ms':>10} {'pure-Python ms':>15} {'ratio':>6}")
        for side in SIZES:
            rgba = os.urandom(side * side * 4)
            grpcio_times: list[float] = []
            grpclib_times: list[float] = []
            for _ in range(2):  # alternate so drifting machine load hits both alike
                grpcio_times += grpcio_round_trips(path, pb.Image(width=side, height=side, rgba=rgba), args.repeat)
                grpclib_times += asyncio.run(
                    grpclib_round_trips(path, client_pb.Image(width=side, height=side, rgba=rgba), args.repeat)
                )
            a, b = statistics.median(grpcio_times) * 1e3, statistics.median(grpclib_times) * 1e3
            print(f"{side:>5}²RGBA8 {len(rgba) / 2**20:>6.1f} {a:>10.1f} {b:>15.1f} {b / a:>6.2f}")
        if shm.available():
            print("\npure-Python client, pixels on the wire vs in shared memory")
            print(f"{'image':>12} {'MiB':>6} {'bytes ms':>10} {'shared memory ms':>17} {'ratio':>6}")
            for side in SIZES:
                rgba = os.urandom(side * side * 4)
                wire: list[float] = []
                shared: list[float] = []
                for _ in range(2):
                    wire += asyncio.run(
                        grpclib_round_trips(path, client_pb.Image(width=side, height=side, rgba=rgba), args.repeat)
                    )
                    shared += asyncio.run(shared_round_trips(path, side, rgba, args.repeat))
                a, b = statistics.median(wire) * 1e3, statistics.median(shared) * 1e3
                print(f"{side:>5}²RGBA8 {len(rgba) / 2**20:>6.1f} {a:>10.1f} {b:>17.1f} {b / a:>6.2f}")
        print("\npure-Python client, pixels on the wire: straight to gRPC vs through the peer relay")
        print(f"{'image':>12} {'MiB':>6} {'direct ms':>10} {'relayed ms':>11} {'ratio':>6}")
        for side in SIZES:
            image = client_pb.Image(width=side, height=side, rgba=os.urandom(side * side * 4))
            direct: list[float] = []
            relayed: list[float] = []
            for _ in range(2):
                direct += asyncio.run(grpclib_round_trips(path, image, args.repeat))
                relayed += asyncio.run(grpclib_round_trips(path + ".relay", image, args.repeat))
            a, b = statistics.median(direct) * 1e3, statistics.median(relayed) * 1e3
            print(f"{side:>5}²RGBA8 {len(image.rgba) / 2**20:>6.1f} {a:>10.1f} {b:>11.1f} {b / a:>6.2f}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
