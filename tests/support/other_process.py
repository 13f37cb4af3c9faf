"""Calls made from a process of their own, so the daemon sees another peer (another pid).

python -m tests.support.other_process ENDPOINT status          -> the running job id it sees
python -m tests.support.other_process ENDPOINT cancel JOB_ID   -> the status code name
python -m tests.support.other_process ENDPOINT submit SESSION  -> the new job's queue position
"""

from __future__ import annotations

import subprocess
import sys

import grpc

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc


def run(endpoint: str, *args: str) -> str:
    """Run one action in a new process; its one line of output."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.other_process", endpoint, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def main(endpoint: str, action: str, *args: str) -> None:
    with grpc.insecure_channel(endpoint) as channel:
        stub = pb_grpc.CocreateStub(channel)
        if action == "status":
            print(stub.ModelStatus(pb.ModelStatusRequest(), timeout=30).running_job_id)
        elif action == "cancel":
            try:
                stub.Cancel(pb.CancelRequest(job_id=args[0]), timeout=30)
                print("OK")
            except grpc.RpcError as error:
                print(error.code().name, error.details())
        elif action == "submit":  # no client name: the lane is this process's own
            request = pb.GenerateRequest(
                session_id=args[0], candidates=1, texture=pb.TextureTask(width=64, height=64, steps=2)
            )
            stream = stub.Generate(request, timeout=30)
            print(next(stream).accepted.queue_position)
            stream.cancel()


if __name__ == "__main__":
    main(*sys.argv[1:])
