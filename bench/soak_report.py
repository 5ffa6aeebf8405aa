"""What bench/soak.py makes of its samples: events, latency splits, percentiles and the plot.

Kept apart from the load and the sampling (bench/soak.py), which only gather the series.
"""

from __future__ import annotations

import itertools
from pathlib import Path


def events(
    samples: list[tuple[float, dict[str, float]]], every: float
) -> dict[str, list[tuple[float, float]]]:
    """Persists, compactions and full GCs as (start, end) seconds, from the scraped counters.

    A persist or compaction ended between two scrapes when its ``_count`` rose; it began
    its duration (the ``_sum``'s rise) before the later scrape, give or take one interval
    (``every``: seconds between scrapes).
    """
    found: dict[str, list[tuple[float, float]]] = {"persist": [], "compaction": [], "gc2": []}
    for (_, before), (t, after) in itertools.pairwise(samples):
        for kind, count, total in (
            ("persist", "persists", "persist_s"),
            ("compaction", "compactions", "compaction_s"),
        ):
            if after.get(count, 0) > before.get(count, 0):
                found[kind].append((t - every - (after[total] - before[total]), t))
        if after.get("gc2", 0) > before.get("gc2", 0):
            found["gc2"].append((t - every, t))
    return found


def by_event(
    queries: list[tuple[float, float]], spans: dict[str, list[tuple[float, float]]]
) -> dict[str, dict]:
    """Query latency split by what ran meanwhile: p50/p99 of the queries that overlapped a
    persist, a compaction or a full GC, and of those that overlapped none."""
    groups: dict[str, list[float]] = {kind: [] for kind in (*spans, "none")}
    for begun, latency in queries:
        hit = [
            kind
            for kind, intervals in spans.items()
            if any(start < begun + latency and begun < end for start, end in intervals)
        ]
        for kind in hit or ["none"]:
            groups[kind].append(latency)
    return {
        kind: {
            "queries": len(values),
            "p50_s": round(percentile(values, 0.5), 4),
            "p99_s": round(percentile(values, 0.99), 4),
        }
        for kind, values in groups.items()
    }


def by_window(queries: list[tuple[float, float]], duration: float, parts: int = 5) -> list[dict]:
    """p50/p99 of the queries begun in each fifth of the run.

    The soak query aggregates the whole table, which grows all along, so its latency
    grows with the rows; and the client waits for each answer, so it runs more queries
    while they are fast. Over the whole run, p99/p50 mixes both; per window it shows the
    spread of queries over about the same rows.
    """
    found = []
    for part in range(parts):
        start, end = duration * part / parts, duration * (part + 1) / parts
        values = [latency for begun, latency in queries if start <= begun < end]
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        found.append(
            {
                "minutes": f"{start / 60:.0f}-{end / 60:.0f}",
                "queries": len(values),
                "p50_s": round(p50, 3),
                "p99_s": round(p99, 3),
                "p99_over_p50": round(p99 / p50, 2) if values else None,
            }
        )
    return found


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def plot(runs: dict[str, dict], path: Path) -> None:
    """RSS and query latency over time, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for name, run in runs.items():
        rss = run["rss_series"]
        (line,) = top.plot([t / 60 for t, _ in rss], [b / 2**30 for _, b in rss], label=name)
        terms = run.get("metrics_series", [])
        for term, style in (("arrow", "--"), ("cache", ":")):
            points = [(t / 60, m[term] / 1024) for t, m in terms if term in m]
            if points:
                top.plot(
                    *zip(*points, strict=True),
                    style,
                    color=line.get_color(),
                    lw=1,
                    label=f"{name}: {term}",
                )
        latency = run["latency_series"]
        bottom.plot([t / 60 for t, _ in latency], [v for _, v in latency], ".", ms=2, label=name)
    top.set_ylabel("server RSS, Arrow pool, cache (GiB)")
    top.legend()
    bottom.set_ylabel("query latency (s)")
    bottom.set_yscale("log")
    bottom.set_xlabel("minutes")
    figure.suptitle("bench/soak.py: two writers, one GROUP BY every 200 ms")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def summary(run: dict) -> dict:
    """The figures of a run without its time series."""
    return {k: v for k, v in run.items() if not k.endswith("_series")}
