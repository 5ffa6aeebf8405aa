"""Alert on rows over a threshold as they are written (modelled on InfluxData's threshold checks).

Trigger: ``table:<name>``. Arguments: ``field``, ``threshold``, ``alert_table``.
Each row whose ``field`` is over ``threshold`` becomes a point of ``alert_table`` with the
same tags and time, the value and a message.
"""


def process_writes(influxdb3_local, table_batches, args=None):
    field = args["field"]
    threshold = float(args["threshold"])
    alerts = 0
    for batch in table_batches:
        for row in batch["rows"]:
            value = row.get(field)
            if value is None or value <= threshold:
                continue
            line = LineBuilder(args["alert_table"])
            line.tag("host", row["host"])
            line.tag("source", batch["table_name"])
            line.float64_field("value", value)
            line.string_field("message", f'{field} {value} > {threshold} on "{row["host"]}"')
            line.bool_field("critical", value > 2 * threshold)
            line.time_ns(row["time"])
            influxdb3_local.write(line)
            alerts += 1
    if alerts:
        influxdb3_local.warn(f"{alerts} rows over {threshold}")
