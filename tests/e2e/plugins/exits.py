"""Misbehaving: ends its process on every request; or eats memory with ?eat=1."""

import os


def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    if query_parameters.get("eat"):
        hog = bytearray(4 * 1024**3)  # past the worker's memory limit: MemoryError
        return {"size": len(hog)}
    os._exit(3)
