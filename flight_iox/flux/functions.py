"""The builtins a Flux program sees: the universe and the ``schema``/``v1`` packages.

A registry, one line per function, so what flight-iox implements is listed in one place
(docs/flux.md repeats it). Anything else is an "unsupported function" error naming it.
"""

from __future__ import annotations

from collections.abc import Callable

from flight_iox.flux import aggregates, metadata, transforms
from flight_iox.flux.interpreter import Call
from flight_iox.flux.pivot import pivot
from flight_iox.flux.table_ops import TABLE_OPS
from flight_iox.flux.values import Builtin, Duration, Time

_TRANSFORMATIONS: dict[str, Callable[[Call], object]] = {
    "from": transforms.from_,
    "range": transforms.range_,
    "filter": transforms.filter_,
    "map": transforms.map_,
    "keep": transforms.keep,
    "drop": transforms.drop,
    "rename": transforms.rename,
    "group": transforms.group,
    "sort": transforms.sort,
    "limit": transforms.limit,
    "yield": transforms.yield_,
    "pivot": pivot,
    "window": aggregates.window,
    "aggregateWindow": aggregates.aggregate_window,
    "derivative": aggregates.derivative,
    "difference": aggregates.difference,
    "distinct": aggregates.distinct,
    "buckets": metadata.buckets,
    **{name: aggregates.aggregate(name) for name in aggregates.AGGREGATES},
    **TABLE_OPS,
}


def _now(call: Call) -> Time:
    return Time(call.interp.now)


def _convert(kind: type) -> Callable[[Call], object]:
    def convert(call: Call) -> object:
        value = call.required("v")
        if isinstance(value, Time | Duration) and kind is int:
            return value.nanos
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise call.fail(f"cannot convert {value!r}") from None

    return convert


def _duration(call: Call) -> Duration:
    value = call.required("v")
    if isinstance(value, int) and not isinstance(value, bool):
        return Duration(value)
    raise call.fail("v must be an integer of nanoseconds")


def _time(call: Call) -> Time:
    value = call.required("v")
    if isinstance(value, str):
        return Time.parse(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Time(value)
    raise call.fail("v must be an RFC 3339 string or nanoseconds")


UNIVERSE: dict[str, object] = {
    **{name: Builtin(name, impl) for name, impl in _TRANSFORMATIONS.items()},
    "now": Builtin("now", _now),
    "float": Builtin("float", _convert(float)),
    "int": Builtin("int", _convert(int)),
    "string": Builtin("string", _convert(str)),
    "duration": Builtin("duration", _duration),
    "time": Builtin("time", _time),
    "true": True,
    "false": False,
}

PACKAGES: dict[str, dict[str, object]] = {
    "influxdata/influxdb/schema": metadata.package(),
    "influxdata/influxdb/v1": metadata.package({"databases": metadata.databases}),
    "influxdata/influxdb": {"buckets": Builtin("buckets", metadata.buckets)},
}
