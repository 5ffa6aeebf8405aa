"""CPU per server start: a fresh ``python -m flight_iox serve`` vs one forked by the zygote.

    python bench/server_start.py [--starts 5]

Starts and stops ``--starts`` servers each way through ``flight_iox.launcher`` (the way
the tests do, on an empty data folder), alternating, and counts the CPU time (user + sys)
of the finished children: what one start costs the machine. The zygote's own start (its
imports, paid once per test process) is counted apart. Prints both, the ratio, and how many
starts repay the zygote; writes bench/results/server_start.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_iox import launcher  # noqa: E402


def children_cpu() -> float:
    """User + system seconds of every child this process has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_start(data_dir: Path, fresh: bool) -> float:
    """CPU seconds of starting, health-checking and stopping one server."""
    before = children_cpu()
    server = launcher.start_server(data_dir, fresh=fresh)
    assert server.stop() == 0, server.log()
    return children_cpu() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    options = parser.parse_args()
    launcher.use_zygote()
    folder = Path(tempfile.mkdtemp(prefix="server-start-"))
    warm = one_start(folder / "warm", fresh=False)  # the zygote's first fork (not counted)
    fresh, forked = [], []
    for index in range(options.starts):
        fresh.append(one_start(folder / f"fresh{index}", fresh=True))
        forked.append(one_start(folder / f"forked{index}", fresh=False))
    before = children_cpu()
    launcher.stop_zygote()
    zygote = children_cpu() - before
    fresh_mean, forked_mean = sum(fresh) / len(fresh), sum(forked) / len(forked)
    result = {
        "starts": options.starts,
        "fresh_cpu_s": round(fresh_mean, 3),
        "forked_cpu_s": round(forked_mean, 3),
        "ratio_fresh_over_forked": round(fresh_mean / forked_mean, 2),
        "zygote_cpu_s": round(zygote, 3),
        "first_fork_cpu_s": round(warm, 3),
        "starts_to_repay_the_zygote": round(zygote / (fresh_mean - forked_mean), 1),
    }
    print(
        f"CPU per start: fresh {fresh_mean:.2f} s, forked {forked_mean:.2f} s "
        f"({result['ratio_fresh_over_forked']}x); the zygote itself {zygote:.2f} s, "
        f"repaid after {result['starts_to_repay_the_zygote']} starts"
    )
    out = ROOT / "bench" / "results" / "server_start.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
