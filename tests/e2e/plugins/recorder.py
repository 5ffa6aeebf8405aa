"""Records every row it is given into ``recorded``, after a pause (for the restart test)."""

import time


def process_writes(influxdb3_local, table_batches, args=None):
    time.sleep(float((args or {}).get("sleep", "0")))
    for batch in table_batches:
        for row in batch["rows"]:
            line = LineBuilder("recorded").tag("host", row["host"]).int64_field("n", row["n"])
            influxdb3_local.write_sync(line.time_ns(row["time"]), no_sync=False)
    influxdb3_local.info(f"recorded {sum(len(b['rows']) for b in table_batches)} rows")
