"""PNG plots of bench/duckdb_side_by_side.py and bench/peers.py (matplotlib, as plot_tsbs.py).

python bench/plot_peers.py duckdb bench/results/duckdb_side_by_side.json out.png
python bench/plot_peers.py peers bench/results/peers.json docs/peers.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def pyplot() -> Any:
    """matplotlib's pyplot drawing to files (Agg), imported only when a plot is asked for."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_side_by_side(summary: dict, out: Path) -> None:
    """Ratio flight-iox / DuckDB per query, one bar per cache mode, log axis; target lines."""
    plt = pyplot()
    modes = list(summary["modes"])
    names = [r["name"] for r in summary["modes"][modes[0]]["queries"]] + ["geometric mean"]
    figure, axes = plt.subplots(figsize=(9, 0.5 * len(names) + 1.8))
    height = 0.8 / len(modes)
    for m, mode in enumerate(modes):
        ratios = [r["ratio"] for r in summary["modes"][mode]["queries"]]
        ratios.append(summary["modes"][mode]["geomean"])
        ys = [len(names) - 1 - i + (m - (len(modes) - 1) / 2) * height for i in range(len(names))]
        axes.barh(ys, ratios, height=height, label=mode)
        for y, ratio in zip(ys, ratios, strict=True):
            axes.text(ratio, y, f" {ratio:.2f}x", va="center", fontsize=7)
    axes.set_yticks(list(range(len(names)))[::-1], names)
    axes.set_xscale("log")
    axes.axvline(1.0, color="tab:green", linestyle="--", linewidth=0.8, label="target 1x (geomean)")
    axes.axvline(2.0, color="tab:red", linestyle="--", linewidth=0.8, label="limit 2x (any query)")
    axes.set_xlabel("flight-iox (plain ADBC) / DuckDB in process (lower is better)")
    axes.set_title(f"Same Parquet files, {summary['hosts']} hosts x {summary['hours']} h, one run")
    axes.legend(loc="lower right", fontsize=8)
    save_figure(plt, figure, out)


def plot_peers(summary: dict, out: Path) -> None:
    """Ingest lines/s per client count and bytes per value, the three servers side by side."""
    plt = pyplot()
    peers = {"flight_iox": "flight-iox", "victoria_metrics": "VictoriaMetrics",
             "influxdb1": "InfluxDB 1.x"}  # fmt: skip
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    clients = list(summary["ingest"])
    width = 0.8 / len(peers)
    for p, (key, label) in enumerate(peers.items()):
        rates = [summary["ingest"][c][f"{key}_lines_per_s"] / 1e3 for c in clients]
        xs = [i + (p - 1) * width for i in range(len(clients))]
        left.bar(xs, rates, width=width, label=label)
        for x, rate in zip(xs, rates, strict=True):
            left.text(x, rate, f"{rate:.0f}k", ha="center", va="bottom", fontsize=7)
    left.set_xticks(range(len(clients)), [f"{c} client(s)" for c in clients])
    left.set_ylabel("thousand lines/s (higher is better)")
    left.set_title("Ingest, same 5,000-line bodies")
    left.legend(fontsize=8)
    s = summary["storage"]
    bars = {"flight-iox": s["flight_iox_bytes_per_value"],
            "VictoriaMetrics\n(all files)": s["victoria_metrics_bytes_per_value"],
            "VictoriaMetrics\n(sample parts)": s["victoria_metrics_sample_parts_bytes_per_value"],
            "InfluxDB 1.x\n(TSM files)": s["influxdb1_bytes_per_value"]}  # fmt: skip
    sizes = list(bars.values())
    colours = ["tab:blue", "tab:orange", "navajowhite", "tab:green"]
    right.bar(list(bars), sizes, color=colours)
    for x, size in enumerate(sizes):
        right.text(x, size, f"{size:.3f}", ha="center", va="bottom", fontsize=8)
    right.axhline(0.35, color="tab:red", linestyle="--", linewidth=0.8, label="target 0.35")
    right.set_ylabel("bytes per field value (lower is better)")
    right.set_title("Storage after persistence and compaction")
    right.legend(fontsize=8)
    figure.suptitle(f"TSBS cpu-only, {summary['hosts']} hosts x {summary['hours']} h, one run")
    save_figure(plt, figure, out)


def plot_day(day: dict, out: Path) -> None:
    """The 10x-data run: ingest per hour against the 100-host rate, RSS against its bound,
    and each full-day query's time without the cache over with it."""
    plt = pyplot()
    figure, (rate, rss, ratio) = plt.subplots(1, 3, figsize=(15, 4))
    hours = list(range(len(day["per_hour_lines_per_s"])))
    rate.plot(hours, [r / 1e3 for r in day["per_hour_lines_per_s"]], marker="o", label="flight-iox")
    baseline = day["baseline_100_hosts_lines_per_s"] / 1e3
    rate.axhline(baseline, color="black", linewidth=0.8, label="100-host rate")
    rate.axhline(0.85 * baseline, color="tab:red", linestyle="--", linewidth=0.8, label="-15%")
    rate.set_xlabel("hour of data posted")
    rate.set_ylabel("thousand lines/s, 1 client")
    rate.set_title("Sustained ingest")
    rate.legend(fontsize=8)
    seconds = [t for t, _ in day["rss_samples"]]
    rss.plot(seconds, [b / 2**20 for _, b in day["rss_samples"]], label="server RSS")
    rss.axhline(day["rss_bound_bytes"] / 2**20, color="tab:red", linestyle="--", linewidth=0.8,
                label="buffer + cache limits + 500 MB")  # fmt: skip
    rss.set_xlabel("seconds")
    rss.set_ylabel("MiB")
    rss.set_title("Memory while ingesting, persisting, compacting")
    rss.legend(fontsize=8)
    names = [q["name"] for q in day["queries"]]
    ratio.barh(list(range(len(names)))[::-1], [q["off_over_on"] for q in day["queries"]])
    ratio.set_yticks(list(range(len(names)))[::-1], names, fontsize=8)
    ratio.axvline(2.0, color="tab:red", linestyle="--", linewidth=0.8, label="limit 2x")
    ratio.set_xlabel("cache off / cache on (lower is better)")
    ratio.set_title("Full-day queries")
    ratio.legend(fontsize=8)
    figure.suptitle(f"{day['hosts']} hosts x {day['hours']} h ({day['lines']:,} lines), one run")
    save_figure(plt, figure, out)


def save_figure(plt: Any, figure: Any, out: Path) -> None:
    """Lay ``figure`` out, write it to ``out`` as PNG, and free it."""
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    kinds = {"duckdb": plot_side_by_side, "peers": plot_peers}
    kinds[sys.argv[1]](json.loads(Path(sys.argv[2]).read_text()), Path(sys.argv[3]))
