"""An HTTP endpoint returning JSON (modelled on InfluxData's request-trigger examples).

Trigger: ``request:<path>``. ``GET /api/v3/engine/<path>?host=a`` answers the count,
mean and latest value of ``usage`` for that host; a POST with a JSON body writes the
point it describes with ``write_sync`` and answers 201.
"""

import json


def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    calls = influxdb3_local.cache.get("calls", default=0, use_global=True) + 1
    influxdb3_local.cache.put("calls", calls, ttl=3600, use_global=True)
    if request_body:
        point = json.loads(request_body)
        line = LineBuilder(args["table"])
        line.tag("host", point["host"])
        line.float64_field("usage", point["usage"])
        line.time_ns(point["time"])
        influxdb3_local.write_sync(line, no_sync=False)
        return {"written": 1}, 201
    host = query_parameters.get("host")
    if host is None:
        return {"error": "host is required"}, 400
    rows = influxdb3_local.query(
        f"SELECT count(*) AS n, avg(usage) AS mean, max(time) AS latest FROM {args['table']} "
        "WHERE host = $host",
        {"host": host},
    )
    return {
        "host": host,
        "count": rows[0]["n"],
        "mean": rows[0]["mean"],
        "latest": rows[0]["latest"],
        "calls": calls,
        "agent": request_headers.get("user-agent"),
        "saw_authorization": "authorization" in request_headers,
    }
