"""One TSBS-style aggregate, as flight-iox SQL and as a Daft job over the Iceberg REST catalog.

Per host over a time window: the maximum, the sum and the count of ``usage_user`` (TSBS's
cpu-max-all, over every host). Integer results only, so two engines' answers compare exactly
(float sums depend on the order of addition). Used by bench/analytics.py and
tests/e2e/test_ray_daft.py; docs/external-engines.md shows the same job as a recipe.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

COLUMNS = ("hostname", "max_usage_user", "sum_usage_user", "points")


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC (naive datetimes, as Iceberg's ``timestamp`` has no zone)."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def middle_half(cls, first: dt.datetime, hours: int) -> Window:
        """The middle half of ``hours`` of data that begin at ``first``."""
        quarter = dt.timedelta(hours=hours) / 4
        return cls(first + quarter, first + 3 * quarter)


def job_sql(window: Window, table: str = "cpu") -> str:
    """flight-iox's SQL for the job."""
    start, end = window.start.isoformat(), window.end.isoformat()
    return (
        "SELECT hostname, max(usage_user) AS max_usage_user, "
        "sum(usage_user) AS sum_usage_user, count(usage_user) AS points "
        f"FROM {table} WHERE time >= '{start}' AND time < '{end}' "
        "GROUP BY hostname ORDER BY hostname"
    )


def daft_job(catalog_uri: str, token: str, database: str, window: Window) -> pa.Table:
    """The job in Daft, on whichever runner this process set (native, or Ray).

    The table is loaded through the REST catalog with PyIceberg's stock settings; Daft plans
    the Iceberg scan itself (the time filter prunes ``day(time)`` partitions) and reads the
    Parquet files in its own workers.
    """
    import daft
    from daft import col, lit
    from pyiceberg.catalog import load_catalog

    catalog = load_catalog("iox", type="rest", uri=catalog_uri, token=token)
    frame = daft.read_iceberg(catalog.load_table((database, "cpu")))
    frame = frame.where((col("time") >= lit(window.start)) & (col("time") < lit(window.end)))
    usage = col("usage_user")
    frame = frame.groupby("hostname").agg(
        usage.max().alias("max_usage_user"),
        usage.sum().alias("sum_usage_user"),
        usage.count().alias("points"),
    )
    return frame.sort("hostname").to_arrow()


def normalized(answer: pa.Table) -> list[dict[str, object]]:
    """Rows with the same types whichever engine answered (Daft counts in uint64, large
    strings; Flight SQL may send dictionary-encoded tags)."""
    columns = {
        "hostname": answer.column("hostname").cast(pa.string()),
        **{name: answer.column(name).cast(pa.int64()) for name in COLUMNS[1:]},
    }
    table = pa.table(columns)
    return table.take(pc.sort_indices(table, [("hostname", "ascending")])).to_pylist()
