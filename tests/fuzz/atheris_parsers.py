"""Coverage-guided fuzzing of the parsers with atheris (libFuzzer); by hand, not in CI.

    pip install 'flight-iox[fuzz]'
    python tests/fuzz/atheris_parsers.py line_protocol -max_total_time=600 [corpus_dir]

Targets: ``line_protocol`` (both paths agree), ``influxql``, ``handle``, ``ticket``,
``command``. A crash is an exception other than the flight-iox errors the target may
raise; libFuzzer writes the input to ``crash-*`` and prints how to replay it. The same
properties as the hypothesis tests in this folder (see docs/testing.md).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

import atheris

with atheris.instrument_imports(include=["flight_iox"]):
    from flight_iox.errors import FlightIoxError
    from flight_iox.flightsql.commands import unpack, unpack_any
    from flight_iox.flightsql.handles import StatementHandle
    from flight_iox.flightsql.server import COMMAND_HANDLERS
    from flight_iox.flightsql.tickets import parse_json_ticket
    from flight_iox.influxql.parser import Parser
    from flight_iox.ingest import Precision
    from flight_iox.ingest.parse import parse_body


def _line_protocol(data: bytes) -> None:
    fast = parse_body(data, precision=Precision.SECOND, default_time_ns=7, min_fast_lines=1)
    exact = parse_body(data, precision=Precision.SECOND, default_time_ns=7, fast_path=False)
    got = [(b.measurement, b.time.to_pylist(), b.line_numbers.to_pylist()) for b in fast.batches]
    want = [(b.measurement, b.time.to_pylist(), b.line_numbers.to_pylist()) for b in exact.batches]
    assert got == want, data
    assert [(e.line_number, e.message) for e in fast.errors] == [
        (e.line_number, e.message) for e in exact.errors
    ], data


def _influxql(data: bytes) -> None:
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    with contextlib.suppress(FlightIoxError):
        Parser(text).statements()


def _decoder(decode: Callable[[bytes], object]) -> Callable[[bytes], None]:
    def target(data: bytes) -> None:
        with contextlib.suppress(FlightIoxError):
            decode(data)

    return target


def _command(data: bytes) -> None:
    wrapper = unpack_any(data)
    for handler in COMMAND_HANDLERS:
        if handler.type_url == wrapper.type_url:
            unpack(wrapper, handler.message)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "line_protocol": _line_protocol,
    "influxql": _influxql,
    "handle": _decoder(StatementHandle.decode),
    "ticket": _decoder(parse_json_ticket),
    "command": _decoder(_command),
}


def main() -> None:
    """Run the target named by the first argument; the rest go to libFuzzer."""
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(TARGETS)}}} [libFuzzer options]")
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
