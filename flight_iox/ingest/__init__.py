"""Line protocol in: parse a write body into Arrow columns per measurement."""

from __future__ import annotations

from flight_iox.ingest.parse import ParseResult, parse_line_protocol
from flight_iox.ingest.pieces import MeasurementBatch
from flight_iox.ingest.precision import Precision, parse_precision

__all__ = [
    "MeasurementBatch",
    "ParseResult",
    "Precision",
    "parse_line_protocol",
    "parse_precision",
]
