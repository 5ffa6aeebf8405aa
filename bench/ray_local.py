"""A local Ray cluster on loopback: a head node and worker nodes, each a ``ray start`` process.

Used by bench/analytics.py and tests/e2e/test_ray_daft.py. Each node is what a user runs on
a machine of their cluster (``ray start --head`` once, ``ray start --address=HEAD`` on the
others), here side by side on one machine:

- Nodes use the node address ``127.0.0.2``: Ray replaces ``127.0.0.1`` (and ``localhost``)
  by the machine's outward address, and traffic of tests and benchmarks stays on loopback.
- Each ``ray start --block`` runs in a process group of its own, and stopping the cluster
  ends exactly those groups. ``ray stop`` is never used: it ends every Ray process on the
  machine, including other users' clusters.
- The session folder is a short one under /tmp: Ray's Unix socket paths must fit in 107
  bytes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from bench.influxdb1 import free_port

NODE_IP = "127.0.0.2"
READY = "Ray runtime started"
START_TIMEOUT = 180.0
STOP_GRACE = 10.0


@dataclass(frozen=True)
class RayCluster:
    """Where the head listens (``ray.init(address=…, _node_ip_address=node_ip)``)."""

    address: str
    node_ip: str
    nodes: int


def _ray_command() -> list[str]:
    """``ray`` of this interpreter's environment (the console script beside ``python``)."""
    script = Path(sys.executable).with_name("ray")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ray.scripts.scripts"]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End one node: SIGTERM to its process group, then SIGKILL whatever is left of it.

    ``ray start --block`` ignores SIGTERM while its raylet and GCS exit on it; the SIGKILL
    after the grace period ends the group's stragglers (the leader among them).
    """
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_GRACE
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    with suppress(ProcessLookupError):  # the group may be gone already
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _start_node(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start one ``ray start --block`` and wait until it says the node runs."""
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*_ray_command(), "start", "--block", "--disable-usage-stats", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group, ended by _stop alone
        )
    deadline = time.monotonic() + START_TIMEOUT
    while READY not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"ray start {' '.join(args[:2])} did not start:\n{tail}")
        time.sleep(0.2)
    return process


@contextmanager
def local_ray_cluster(
    workers: int = 1,
    head_cpus: int = 1,
    worker_cpus: int = 1,
    object_store_bytes: int = 200_000_000,
) -> Iterator[RayCluster]:
    """A head node plus ``workers`` worker nodes on 127.0.0.2, stopped on exit.

    ``head_cpus=0`` keeps tasks off the head, so every task runs in a worker node's processes.
    """
    folder = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    port = free_port()
    address = f"{NODE_IP}:{port}"
    common = ["--node-ip-address", NODE_IP, "--object-store-memory", str(object_store_bytes)]
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        head = _start_node(
            ["--head", "--port", str(port), "--num-cpus", str(head_cpus),
             "--ray-client-server-port", str(free_port()), "--include-dashboard", "false",
             "--temp-dir", str(folder), *common],
            folder / "head.log",
        )  # fmt: skip
        stack.callback(_stop, head)
        for index in range(workers):
            worker = _start_node(
                ["--address", address, "--num-cpus", str(worker_cpus), *common],
                folder / f"worker-{index}.log",
            )
            stack.callback(_stop, worker)
        yield RayCluster(address, NODE_IP, 1 + workers)


def connect(cluster: RayCluster) -> None:
    """Attach this process to the cluster as a driver and wait until every node is alive."""
    import ray

    ray.init(
        address=cluster.address,
        _node_ip_address=cluster.node_ip,
        logging_level="warning",
        log_to_driver=False,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while sum(1 for node in ray.nodes() if node["Alive"]) < cluster.nodes:
        if time.monotonic() > deadline:
            raise RuntimeError(f"Ray has {ray.nodes()} and not {cluster.nodes} nodes alive")
        time.sleep(0.2)
