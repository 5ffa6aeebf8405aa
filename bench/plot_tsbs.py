"""Plot bench/tsbs.py's ratios (flight-iox / InfluxDB 1.x) as a PNG.

    python bench/plot_tsbs.py [bench/results/tsbs.json] [docs/tsbs-ratios.png]

Query bars are time ratios (lower is better, targets 0.5 for the geometric mean
and 3 for any one query); ingest bars are InfluxDB's time per line over ours,
so that lower is better there too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def plot(summary: dict, out: Path) -> None:
    """Draw one horizontal bar per query, the geometric mean and ingest, on a log axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, ratios, colours = [], [], []
    for clients, row in summary["ingest"].items():
        labels.append(f"ingest, {clients} client(s) (time per line)")
        ratios.append(1 / row["ratio"])
        colours.append("tab:green")
    for row in summary["queries"]:
        labels.append(row["name"])
        ratios.append(row["ratio"])
        colours.append("tab:gray" if row.get("extra") else "tab:blue")
    if summary.get("geomean"):
        labels.append("queries: geometric mean")
        ratios.append(summary["geomean"])
        colours.append("tab:orange")
    figure, axes = plt.subplots(figsize=(8, 0.4 * len(labels) + 1.5))
    positions = range(len(labels))[::-1]
    axes.barh(list(positions), ratios, color=colours)
    axes.set_yticks(list(positions), labels)
    axes.set_xscale("log")
    axes.axvline(1.0, color="black", linewidth=0.8)
    axes.axvline(0.5, color="tab:orange", linestyle="--", linewidth=0.8, label="target 0.5x")
    axes.axvline(3.0, color="tab:red", linestyle="--", linewidth=0.8, label="limit 3x")
    for y, ratio in zip(positions, ratios, strict=True):
        axes.text(ratio, y, f" {ratio:.2f}x", va="center", fontsize=8)
    client = "plain ADBC, natural SQL" if "clients" in summary else "project driver"
    axes.set_xlabel(f"flight-iox ({client}) / InfluxDB 1.x (lower is better)")
    axes.set_title(
        f"TSBS cpu-only, {summary['hosts']} hosts x {summary['hours']} h, same machine, one run"
    )
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "results" / "tsbs.json"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs" / "tsbs-ratios.png"
    plot(json.loads(source.read_text()), target)
