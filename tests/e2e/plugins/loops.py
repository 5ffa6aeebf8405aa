"""Misbehaving: loops forever on every scheduled call."""


def process_scheduled_call(influxdb3_local, call_time, args=None):
    influxdb3_local.info("looping forever")
    while True:
        pass
