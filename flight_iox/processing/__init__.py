"""The processing engine: InfluxDB 3 Python plugins run on writes, on schedules and on requests.

Plugin code runs in worker processes (``worker.py``, standard library only), one per
trigger (more for ``run_async`` request and schedule triggers), speaking a small pipe
protocol with the server (``process.py``); the server side answers their queries and
writes with the trigger's principal (``host.py``). See docs/processing.md.
"""
