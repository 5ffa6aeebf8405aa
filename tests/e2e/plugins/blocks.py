"""Misbehaving: blocks every request far past the call timeout."""

import time


def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    time.sleep(3600)
    return {"never": True}
