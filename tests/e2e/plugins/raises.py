"""Misbehaving: raises on every batch."""


def process_writes(influxdb3_local, table_batches, args=None):
    influxdb3_local.info("about to fail")
    raise ValueError("this plugin always fails")
