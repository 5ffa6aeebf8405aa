"""Downsample a measurement on a schedule (modelled on InfluxData's downsampler plugin).

Trigger: ``every:<duration>``. Arguments: ``source_measurement``, ``target_measurement``,
``interval`` (the bucket, like ``10min``), ``window`` (how far back, like ``1d``),
``field`` and ``tag``; optional ``target_database``. Each run averages ``field`` per
``tag`` and bucket and writes one point per bucket, with the number of points it covers.
"""


def process_scheduled_call(influxdb3_local, call_time, args=None):
    args = args or {}
    source = args["source_measurement"]
    target = args["target_measurement"]
    field = args.get("field", "usage")
    tag = args.get("tag", "host")
    interval = args.get("interval", "10 minutes")
    window = args.get("window", "30 days")
    rows = influxdb3_local.query(
        f"SELECT \"{tag}\" AS tag, date_bin(INTERVAL '{interval}', time) AS bucket, "
        f'avg("{field}") AS mean, count(*) AS points FROM "{source}" '
        f"WHERE time > now() - INTERVAL '{window}' GROUP BY 1, 2 ORDER BY 1, 2"
    )
    runs = influxdb3_local.cache.get("runs", default=0) + 1
    influxdb3_local.cache.put("runs", runs)
    for row in rows:
        line = LineBuilder(target)
        line.tag(tag, row["tag"])
        line.float64_field(field, row["mean"])
        line.int64_field("record_count", row["points"])
        line.int64_field("run", runs)
        line.time_ns(row["bucket"])
        if "target_database" in args:
            influxdb3_local.write_to_db(args["target_database"], line)
        else:
            influxdb3_local.write(line)
    influxdb3_local.info(f"downsampled {len(rows)} buckets from {source} into {target}")
