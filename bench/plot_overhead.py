"""PNG plot of bench/query_overhead.py: median latency per client and target (matplotlib).

python bench/plot_overhead.py bench/results/query_overhead.json docs/query-overhead.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.plot_peers import pyplot, save_figure

TRIVIAL = "trivial server (constant)"
TARGET = 1.2  # issue 17, target 3: fixed cost per query at most this times the trivial server


def plot_overhead(summary: dict, out: Path) -> None:
    """Medians per client, each target's bar labelled with its ratio to the trivial server,
    and a dashed line at the target's bound over the trivial server."""
    plt = pyplot()
    medians: dict[str, dict[str, float]] = {}
    for key, ms in summary["median_ms"].items():
        client, target = key.split(": ", 1)
        medians.setdefault(client, {})[target] = ms
    clients = list(medians)
    targets = list(medians[clients[0]])
    figure, axes = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(targets)
    for t, target in enumerate(targets):
        xs = [c + (t - (len(targets) - 1) / 2) * width for c in range(len(clients))]
        values = [medians[client][target] for client in clients]
        axes.bar(xs, values, width=width, label=target)
        for x, client, value in zip(xs, clients, values, strict=True):
            ratio = value / medians[client][TRIVIAL]
            axes.text(x, value, f"{ratio:.2f}x", ha="center", va="bottom", fontsize=7)
    for c, client in enumerate(clients):
        bound = TARGET * medians[client][TRIVIAL]
        axes.hlines(bound, c - 0.45, c + 0.45, colors="tab:red", linestyles="--", linewidth=0.8,
                    label=f"target {TARGET}x trivial" if c == 0 else None)  # fmt: skip
    axes.set_xticks(range(len(clients)), clients)
    axes.set_ylabel("median ms per query (lower is better)")
    axes.set_title(f"Fixed cost per query over ADBC's DB-API, {summary['runs']} alternating runs")
    axes.legend(fontsize=8)
    save_figure(plt, figure, out)


if __name__ == "__main__":
    plot_overhead(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
