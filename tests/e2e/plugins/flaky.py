"""Fails on its first two calls, then copies each row to ``copied`` (for error_behavior=retry)."""


def process_writes(influxdb3_local, table_batches, args=None):
    attempts = influxdb3_local.cache.get("attempts", default=0) + 1
    influxdb3_local.cache.put("attempts", attempts)
    if attempts <= 2:
        raise RuntimeError(f"attempt {attempts} fails")
    for batch in table_batches:
        for row in batch["rows"]:
            line = (
                LineBuilder("copied").tag("host", row["host"]).float64_field("usage", row["usage"])
            )
            influxdb3_local.write(line.int64_field("attempts", attempts).time_ns(row["time"]))
