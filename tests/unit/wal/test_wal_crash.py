"""kill -9 at a random moment never loses an acknowledged append."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import flight_iox
from flight_iox.wal import WriteAheadLog

_CHILD = r"""
import sys, threading
from pathlib import Path
from flight_iox.wal.log import WriteAheadLog

wal = WriteAheadLog(Path(sys.argv[1]), segment_bytes=16 * 1024)
for _ in wal.replay():
    pass
out = threading.Lock()

def run(worker):
    i = 0
    while True:
        payload = f"w{worker}-{i}-" + "x" * (i % 300)
        sequence = wal.append(payload.encode())
        with out:  # one write() per line, so the parent never sees half a line as whole
            sys.stdout.write(f"{sequence} {payload}\n")
            sys.stdout.flush()
        i += 1

for worker in range(4):
    threading.Thread(target=run, args=(worker,), daemon=True).start()
threading.Event().wait()
"""


def _crash_round(directory: Path, rng: random.Random) -> dict[int, bytes]:
    root = Path(flight_iox.__file__).parent.parent  # this checkout, with its catalog packages
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in (root, root / "catalog")))
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(directory)],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None
    acknowledged: dict[int, bytes] = {}
    kill_after = rng.randint(1, 400)
    try:
        for _ in range(kill_after):
            line = child.stdout.readline()
            if not line:
                break
            sequence, payload = line.decode().rstrip("\n").split(" ", 1)
            acknowledged[int(sequence)] = payload.encode()
        child.send_signal(signal.SIGKILL)
        for line in child.stdout.read().decode().splitlines(keepends=True):
            if line.endswith("\n"):  # a line cut by the kill is not an acknowledgement
                sequence, payload = line.rstrip("\n").split(" ", 1)
                acknowledged[int(sequence)] = payload.encode()
    finally:
        child.kill()
        child.wait(timeout=10)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert acknowledged, "the child acknowledged nothing before it was killed"
    return acknowledged


def test_kill_9_keeps_every_acknowledged_append(tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    acknowledged: dict[int, bytes] = {}
    for round_number in range(3):
        acknowledged.update(_crash_round(tmp_path, rng))
        wal = WriteAheadLog(tmp_path)
        replayed = {e.sequence: e.payload for e in wal.replay()}
        wal.close()
        missing = sorted(set(acknowledged) - set(replayed))
        assert not missing, f"round {round_number} (seed {seed}) lost acknowledged {missing[:10]}"
        assert all(replayed[s] == p for s, p in acknowledged.items()), f"seed {seed}"
        # Replayed sequences are contiguous from 1: nothing in the middle went missing either.
        assert sorted(replayed) == list(range(1, len(replayed) + 1)), f"seed {seed}"
